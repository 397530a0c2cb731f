import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { geminiScripts, startFakeGemini } from '../../../test/fakes/fake-gemini.ts';
import type { FakeGemini } from '../../../test/fakes/fake-gemini.ts';
import { SseDecoder } from '../../http/sse.ts';
import { createDefaultRegistry } from '../../providers/registry.ts';
import { chatRequestSchema } from '../openai-types.ts';
import type { ChatCompletionChunk } from '../openai-types.ts';
import { UpstreamStreamError } from './adapter.ts';
import type { AdapterInput, ResponseContext } from './adapter.ts';
import { googleAdapter } from './google.ts';

const KEY = `AIza-test-${randomBytes(16).toString('hex')}`;
const SIGNATURE =
  'CtwBAdHtim9x1sS0cXEGb0pI7tQ0SUAbyu2vYpoZrKHhOY3V8GRC0eJXKp5QtBjP8Jq6hN2mW4fLz1YdC0aB9xTg3RkUo7sVnE5iM2lQ8wXy1cZb4pR6tH9jK0mN3qS5uV7wA2dF4gJ6kL8nP0rT2vX4zB6cE8hM0oQ2sU4wY6aC8eG0iK2mO4qS6uW8yA0cE2gI4kM6oQ8sU0wY2a';

const google = createDefaultRegistry().get('google');
if (!google) throw new Error('the registry has no google provider');
const provider = google;

function fixture(name: string): string {
  return readFileSync(new URL(`./fixtures/google/${name}`, import.meta.url), 'utf8');
}

function jsonFixture(name: string): unknown {
  return JSON.parse(fixture(name));
}

function input(
  request: Record<string, unknown>,
  baseUrl = 'https://generativelanguage.googleapis.com',
): AdapterInput {
  return {
    request: chatRequestSchema.parse({ model: 'gem/gemini-2.5-flash', ...request }),
    model: 'gemini-2.5-flash',
    provider,
    secret: KEY,
    settings: {},
    baseUrl,
  };
}

/** The upstream body buildRequest produced, read back as JSON. */
function bodyOf(request: Record<string, unknown>): Record<string, unknown> {
  const call = googleAdapter.buildRequest(input(request), false);
  return z.record(z.string(), z.unknown()).parse(JSON.parse(call.body));
}

const context = (includeUsage = false): ResponseContext => ({
  id: 'chatcmpl-g3m1n1',
  created: 1_750_000_000,
  model: 'gem/gemini-2.5-flash',
  includeUsage,
});

/** Feeds raw SSE text through the app's decoder in awkward slices, as a socket would deliver it. */
function translateStream(raw: string, includeUsage: boolean): ChatCompletionChunk[] {
  const decoder = new SseDecoder();
  const translator = googleAdapter.createStreamTranslator(context(includeUsage));
  const chunks: ChatCompletionChunk[] = [];
  for (let at = 0; at < raw.length; at += 7) {
    for (const event of decoder.push(raw.slice(at, at + 7))) chunks.push(...translator.push(event));
  }
  for (const event of decoder.end()) chunks.push(...translator.push(event));
  return [...chunks, ...translator.end()];
}

const deltas = (chunks: ChatCompletionChunk[]) =>
  chunks.flatMap((chunk) => chunk.choices.map((c) => c.delta));
const contentOf = (chunks: ChatCompletionChunk[]) =>
  deltas(chunks)
    .map((delta) => delta.content ?? '')
    .join('');
const finishes = (chunks: ChatCompletionChunk[]) =>
  chunks.flatMap((chunk) => chunk.choices.flatMap((choice) => choice.finish_reason ?? []));

describe('googleAdapter.buildRequest', () => {
  it('calls generateContent, or streamGenerateContent with alt=sse, with the key only in a header', () => {
    const request = { messages: [{ role: 'user', content: 'Hi' }] };
    const plain = googleAdapter.buildRequest(input(request), false);
    const streamed = googleAdapter.buildRequest(input(request), true);

    expect(plain.url).toBe(
      'https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent',
    );
    expect(streamed.url).toBe(
      'https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse',
    );
    for (const call of [plain, streamed]) {
      expect(call.headers).toEqual({ 'content-type': 'application/json', 'x-goog-api-key': KEY });
      expect(call.url).not.toContain(KEY);
      expect(call.body).not.toContain(KEY);
    }
    // A base URL that already names the API version is not doubled.
    const versioned = googleAdapter.buildRequest(input(request, 'http://127.0.0.1:9/v1beta'), false);
    expect(versioned.url).toBe('http://127.0.0.1:9/v1beta/models/gemini-2.5-flash:generateContent');
  });

  it('moves system and developer messages to systemInstruction and merges same-role turns', () => {
    const body = bodyOf({
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'developer', content: [{ type: 'text', text: 'Answer in French.' }] },
        { role: 'user', content: 'Hello' },
        { role: 'user', content: [{ type: 'text', text: 'Are you there?' }] },
        { role: 'assistant', content: 'Oui.' },
        { role: 'user', content: 'Merci' },
      ],
    });

    expect(body['systemInstruction']).toEqual({
      parts: [{ text: 'You are terse.' }, { text: 'Answer in French.' }],
    });
    expect(body['contents']).toEqual([
      { role: 'user', parts: [{ text: 'Hello' }, { text: 'Are you there?' }] },
      { role: 'model', parts: [{ text: 'Oui.' }] },
      { role: 'user', parts: [{ text: 'Merci' }] },
    ]);
  });

  it('replays a translated tool turn: calls with their signatures, results by name, no ids', () => {
    const completion = googleAdapter.translateResponse(
      jsonFixture('generate-content-parallel-calls.json'),
      context(),
    );
    const assistant = completion.choices[0]?.message;
    const calls = assistant?.tool_calls ?? [];
    expect(calls).toHaveLength(2);
    const [paris, london] = calls;

    const body = bodyOf({
      messages: [
        { role: 'user', content: 'Weather in Paris and London?' },
        assistant,
        { role: 'tool', tool_call_id: london?.id, content: 'rain, 14°C' },
        { role: 'tool', tool_call_id: paris?.id, content: '{"temperature":21,"sky":"clear"}' },
        { role: 'user', content: 'Thanks' },
      ],
    });

    expect(body['contents']).toEqual([
      { role: 'user', parts: [{ text: 'Weather in Paris and London?' }] },
      {
        role: 'model',
        parts: [
          {
            functionCall: { name: 'get_weather', args: { city: 'Paris', unit: 'celsius' } },
            thoughtSignature: SIGNATURE,
          },
          { functionCall: { name: 'get_weather', args: { city: 'London', unit: 'celsius' } } },
        ],
      },
      {
        role: 'user',
        parts: [
          { functionResponse: { name: 'get_weather', response: { content: 'rain, 14°C' } } },
          { functionResponse: { name: 'get_weather', response: { temperature: 21, sky: 'clear' } } },
          { text: 'Thanks' },
        ],
      },
    ]);
  });

  it('finds each result’s function name through its tool_call_id', () => {
    const body = bodyOf({
      messages: [
        { role: 'user', content: 'Plan my day' },
        {
          role: 'assistant',
          content: 'Checking.',
          tool_calls: [
            {
              id: 'call_abc',
              type: 'function',
              function: { name: 'get_calendar', arguments: '{"day":"today"}' },
            },
            {
              id: 'call_def',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Oslo"}' },
            },
          ],
        },
        { role: 'tool', tool_call_id: 'call_def', content: [{ type: 'text', text: 'snow' }] },
        { role: 'tool', tool_call_id: 'call_abc', content: '["standup","lunch"]' },
      ],
    });
    const contents = z
      .array(z.looseObject({ role: z.string(), parts: z.array(z.unknown()) }))
      .parse(body['contents']);

    expect(contents[1]).toEqual({
      role: 'model',
      parts: [
        { text: 'Checking.' },
        // Calls Gemini never signed (another model's history) get Google's documented placeholder.
        {
          functionCall: { name: 'get_calendar', args: { day: 'today' } },
          thoughtSignature: 'skip_thought_signature_validator',
        },
        { functionCall: { name: 'get_weather', args: { city: 'Oslo' } } },
      ],
    });
    expect(contents[2]).toEqual({
      role: 'user',
      parts: [
        { functionResponse: { name: 'get_weather', response: { content: 'snow' } } },
        // A JSON array is not an object: Gemini's `response` must be one.
        { functionResponse: { name: 'get_calendar', response: { content: '["standup","lunch"]' } } },
      ],
    });
    expect(JSON.stringify(body)).not.toContain('call_abc');
  });

  it('sends data: images inline and lets Gemini fetch http ones', () => {
    const body = bodyOf({
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Compare' },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
            {
              type: 'image_url',
              image_url: { url: 'https://example.com/cat.JPG?size=large', detail: 'high' },
            },
          ],
        },
      ],
    });

    expect(body['contents']).toEqual([
      {
        role: 'user',
        parts: [
          { text: 'Compare' },
          { inlineData: { mimeType: 'image/png', data: 'iVBORw0KGgo=' } },
          { fileData: { fileUri: 'https://example.com/cat.JPG?size=large', mimeType: 'image/jpeg' } },
        ],
      },
    ]);
  });

  it('maps sampling options, structured output and tools', () => {
    const body = bodyOf({
      messages: [{ role: 'user', content: 'Go' }],
      temperature: 0.2,
      top_p: 0.9,
      max_tokens: 100,
      max_completion_tokens: 256,
      stop: 'END',
      n: 2,
      seed: 7,
      response_format: {
        type: 'json_schema',
        json_schema: {
          name: 'answer',
          strict: true,
          schema: {
            type: 'object',
            properties: { answer: { type: 'string' }, confidence: { type: ['number', 'null'] } },
            required: ['answer', 'confidence'],
            additionalProperties: false,
          },
        },
      },
      tools: [
        {
          type: 'function',
          function: {
            name: 'lookup',
            description: 'Look something up',
            parameters: { type: 'object', properties: { q: { type: 'string' } }, required: ['q'] },
          },
        },
        { type: 'function', function: { name: 'now', parameters: { type: 'object', properties: {} } } },
      ],
      tool_choice: 'required',
    });

    expect(body['generationConfig']).toEqual({
      temperature: 0.2,
      topP: 0.9,
      maxOutputTokens: 256,
      stopSequences: ['END'],
      candidateCount: 2,
      seed: 7,
      responseMimeType: 'application/json',
      responseSchema: {
        type: 'object',
        properties: { answer: { type: 'string' }, confidence: { type: 'number', nullable: true } },
        required: ['answer', 'confidence'],
      },
    });
    expect(body['tools']).toEqual([
      {
        functionDeclarations: [
          {
            name: 'lookup',
            description: 'Look something up',
            parameters: { type: 'object', properties: { q: { type: 'string' } }, required: ['q'] },
          },
          // No arguments: `parameters` is left out, an OBJECT without properties is a 400.
          { name: 'now' },
        ],
      },
    ]);
    expect(body['toolConfig']).toEqual({ functionCallingConfig: { mode: 'ANY' } });
  });

  it.each([
    ['auto', { mode: 'AUTO' }],
    ['none', { mode: 'NONE' }],
    ['required', { mode: 'ANY' }],
    [
      { type: 'function', function: { name: 'lookup' } },
      { mode: 'ANY', allowedFunctionNames: ['lookup'] },
    ],
  ])('maps tool_choice %j', (choice, config) => {
    const body = bodyOf({ messages: [{ role: 'user', content: 'Go' }], tool_choice: choice });
    expect(body['toolConfig']).toEqual({ functionCallingConfig: config });
  });

  it('leaves out options it cannot use instead of failing the request', () => {
    const body = bodyOf({
      messages: [{ role: 'user', content: 'Go' }],
      temperature: 'hot',
      stop: null,
      n: null,
    });
    expect(body).toEqual({ contents: [{ role: 'user', parts: [{ text: 'Go' }] }] });
  });
});

describe('googleAdapter.translateResponse', () => {
  it('returns the visible text, leaves thoughts out, and counts thinking and cached tokens', () => {
    const completion = googleAdapter.translateResponse(jsonFixture('generate-content-text.json'), context());

    expect(completion).toEqual({
      id: 'chatcmpl-g3m1n1',
      object: 'chat.completion',
      created: 1_750_000_000,
      model: 'gem/gemini-2.5-flash',
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: 'Hello! How can I help you today?', refusal: null },
          finish_reason: 'stop',
          logprobs: null,
        },
      ],
      usage: {
        prompt_tokens: 2150,
        completion_tokens: 40,
        total_tokens: 2190,
        prompt_tokens_details: { cached_tokens: 2048 },
      },
    });
  });

  it('turns parallel function calls into tool_calls with ids that carry the thought signature', () => {
    const completion = googleAdapter.translateResponse(
      jsonFixture('generate-content-parallel-calls.json'),
      context(),
    );
    const choice = completion.choices[0];

    expect(choice?.finish_reason).toBe('tool_calls');
    expect(choice?.message.content).toBeNull();
    expect(choice?.message.tool_calls).toEqual([
      {
        id: `call_g3m1n1_0__thought__${SIGNATURE}`,
        type: 'function',
        function: { name: 'get_weather', arguments: '{"city":"Paris","unit":"celsius"}' },
      },
      {
        id: 'call_g3m1n1_1',
        type: 'function',
        function: { name: 'get_weather', arguments: '{"city":"London","unit":"celsius"}' },
      },
    ]);
    expect(completion.usage).toEqual({ prompt_tokens: 96, completion_tokens: 105, total_tokens: 201 });
  });

  it.each([
    ['generate-content-safety.json', 'content_filter', null],
    ['generate-content-blocked-prompt.json', 'content_filter', null],
    ['generate-content-max-tokens.json', 'length', 'Once upon a time, in a land far'],
  ])('maps %s to finish_reason %s', (name, finish, content) => {
    const completion = googleAdapter.translateResponse(jsonFixture(name), context());
    expect(completion.choices).toHaveLength(1);
    expect(completion.choices[0]?.finish_reason).toBe(finish);
    expect(completion.choices[0]?.message.content).toBe(content);
  });

  it('throws an upstream error for an error body', () => {
    const body = jsonFixture('error-model-not-found.json');
    expect(() => googleAdapter.translateResponse(body, context())).toThrow(UpstreamStreamError);
  });
});

describe('googleAdapter stream translator', () => {
  it('announces the role first, then streams the text in order and finishes with usage', () => {
    const chunks = translateStream(fixture('stream-text.sse'), true);

    expect(chunks[0]?.choices[0]?.delta).toEqual({ role: 'assistant', content: '' });
    expect(contentOf(chunks)).toBe('The quick brown fox jumps.');
    expect(deltas(chunks).filter((delta) => delta.role)).toHaveLength(1);
    expect(finishes(chunks)).toEqual(['stop']);
    const last = chunks.at(-1);
    expect(last?.choices).toEqual([]);
    expect(last?.usage).toEqual({
      prompt_tokens: 8,
      completion_tokens: 32,
      total_tokens: 40,
      prompt_tokens_details: { cached_tokens: 4 },
    });
    // Only the last chunk carries usage; the others say null, as OpenAI's do.
    expect(chunks.slice(0, -1).every((chunk) => chunk.usage === null)).toBe(true);
    for (const chunk of chunks) {
      expect(chunk).toMatchObject({
        id: 'chatcmpl-g3m1n1',
        object: 'chat.completion.chunk',
        created: 1_750_000_000,
      });
    }
  });

  it('sends no usage chunk when the client did not ask for it', () => {
    const chunks = translateStream(fixture('stream-text.sse'), false);
    expect(chunks.every((chunk) => chunk.choices.length === 1 && !('usage' in chunk))).toBe(true);
    expect(finishes(chunks)).toEqual(['stop']);
  });

  it('numbers parallel tool calls 0 and 1 after text, with ids, names and whole arguments', () => {
    const chunks = translateStream(fixture('stream-parallel-calls.sse'), true);
    const toolCalls = deltas(chunks).flatMap((delta) => delta.tool_calls ?? []);

    expect(contentOf(chunks)).toBe('Let me check both cities.');
    expect(toolCalls).toEqual([
      {
        index: 0,
        id: `fc_a1b2c3__thought__${SIGNATURE}`,
        type: 'function',
        function: { name: 'get_weather', arguments: '{"city":"Paris","unit":"celsius"}' },
      },
      {
        index: 1,
        id: 'fc_d4e5f6',
        type: 'function',
        function: { name: 'get_time', arguments: '{"timezone":"Europe/London"}' },
      },
    ]);
    expect(finishes(chunks)).toEqual(['tool_calls']);
    expect(chunks.at(-1)?.usage).toEqual({ prompt_tokens: 120, completion_tokens: 92, total_tokens: 212 });
  });

  it('throws a stream error for an error event after HTTP 200', () => {
    const translator = googleAdapter.createStreamTranslator(context());
    const events = new SseDecoder().push(fixture('stream-error.sse'));
    expect(events).toHaveLength(2);
    const [first, second] = events;
    if (!first || !second) throw new Error('expected two events');

    expect(contentOf(translator.push(first))).toBe('Partial answer');
    let thrown: unknown;
    try {
      translator.push(second);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(UpstreamStreamError);
    expect((thrown as UpstreamStreamError).info).toEqual({
      type: 'server_error',
      code: 'internal_error',
      message: expect.stringContaining('An internal error has occurred'),
    });
  });

  it('finishes a blocked prompt with content_filter', () => {
    const event = { data: JSON.stringify(jsonFixture('generate-content-blocked-prompt.json')) };
    const translator = googleAdapter.createStreamTranslator(context());
    const chunks = translator.push(event);

    expect(chunks.map((chunk) => chunk.choices[0])).toEqual([
      { index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null, logprobs: null },
      { index: 0, delta: {}, finish_reason: 'content_filter', logprobs: null },
    ]);
    expect(translator.usage()).toEqual({ prompt_tokens: 12, completion_tokens: 0, total_tokens: 12 });
  });
});

describe('googleAdapter.translateError', () => {
  it.each([
    ['error-api-key-invalid.json', 400, 'authentication_error', 'invalid_api_key', 'API key not valid.'],
    [
      'error-rate-limited.json',
      429,
      'rate_limit_error',
      'rate_limit_exceeded',
      'You exceeded your current quota',
    ],
    ['error-unavailable-array.json', 503, 'server_error', 'service_unavailable', 'The model is overloaded.'],
    ['error-model-not-found.json', 404, 'invalid_request_error', 'model_not_found', 'models/gemini-9-ultra'],
    [
      'error-function-call-missing-signature.json',
      400,
      'invalid_request_error',
      'invalid_argument',
      'missing a thought_signature',
    ],
  ])('maps %s', (name, status, type, code, message) => {
    const info = googleAdapter.translateError(status, fixture(name));
    expect(info).toEqual({ type, code, message: expect.stringContaining(message) });
  });

  it("describes, never quotes, a body that is not Google's error, and never repeats a key", () => {
    const html = `<html><body>${'Bad Gateway '.repeat(60)}</body></html>`;
    const info = googleAdapter.translateError(502, html);
    expect(info.type).toBe('server_error');
    expect(info.message).toBe(
      `Gemini answered HTTP 502 with a body that is not a Google API error (${html.length} bytes of HTML); if it persists, check the credential's base URL.`,
    );
    // Google's envelope has a numeric code and a status; an `{error: {message}}` of another service is not it.
    const foreign = googleAdapter.translateError(
      404,
      JSON.stringify({ error: { message: 'internal note' } }),
    );
    expect(foreign.message).not.toContain('internal note');
    expect(foreign.code).toBe('model_not_found');

    const echoed = JSON.stringify({
      error: { code: 400, message: `Invalid API key: ${KEY}`, status: 'INVALID_ARGUMENT' },
    });
    expect(googleAdapter.translateError(400, echoed).message).not.toContain(KEY);
    expect(googleAdapter.translateError(500, '').message).toBe(
      'Gemini answered HTTP 500 with an empty body.',
    );
  });
});

describe('googleAdapter against the fake Gemini over HTTP', () => {
  let fake: FakeGemini | undefined;
  afterEach(async () => {
    await fake?.close();
    fake = undefined;
  });

  async function post(stream: boolean, request: Record<string, unknown>, secret: string) {
    if (!fake) throw new Error('no fake');
    const call = googleAdapter.buildRequest({ ...input(request, fake.url), secret }, stream);
    return fetch(call.url, { method: 'POST', headers: call.headers, body: call.body });
  }

  it('streams text then two parallel calls through fetch, SseDecoder and the translator', async () => {
    fake = await startFakeGemini();
    fake.setScript(() => ({
      kind: 'reply',
      chunkDelayMs: 20,
      usage: { promptTokenCount: 30, candidatesTokenCount: 12, cachedContentTokenCount: 16 },
      chunks: [
        { text: 'Checking ' },
        { text: 'both.' },
        {
          functionCalls: [
            { name: 'get_weather', args: { city: 'Paris' }, thoughtSignature: SIGNATURE },
            { name: 'get_time', args: { timezone: 'Europe/Paris' } },
          ],
        },
      ],
    }));

    const response = await post(
      true,
      { messages: [{ role: 'user', content: 'Paris?' }], stream: true },
      fake.apiKey,
    );
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    const translator = googleAdapter.createStreamTranslator(context(true));
    const decoder = new SseDecoder();
    const chunks: ChatCompletionChunk[] = [];
    const text = new TextDecoder();
    for await (const bytes of response.body ?? []) {
      for (const event of decoder.push(text.decode(bytes, { stream: true })))
        chunks.push(...translator.push(event));
    }
    for (const event of decoder.end()) chunks.push(...translator.push(event));
    chunks.push(...translator.end());

    const [recorded] = fake.requests;
    expect(recorded?.path).toBe('/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse');
    expect(recorded?.headers['x-goog-api-key']).toBe(fake.apiKey);
    expect(recorded?.body).toEqual({ contents: [{ role: 'user', parts: [{ text: 'Paris?' }] }] });
    expect(recorded?.aborted).toBe(false);

    expect(chunks[0]?.choices[0]?.delta).toEqual({ role: 'assistant', content: '' });
    expect(contentOf(chunks)).toBe('Checking both.');
    const toolCalls = deltas(chunks).flatMap((delta) => delta.tool_calls ?? []);
    expect(toolCalls.map((call) => [call.index, call.function?.name, call.function?.arguments])).toEqual([
      [0, 'get_weather', '{"city":"Paris"}'],
      [1, 'get_time', '{"timezone":"Europe/Paris"}'],
    ]);
    expect(toolCalls[0]?.id).toBe(`call_g3m1n1_0__thought__${SIGNATURE}`);
    expect(finishes(chunks)).toEqual(['tool_calls']);
    expect(chunks.at(-1)).toMatchObject({
      choices: [],
      usage: {
        prompt_tokens: 30,
        completion_tokens: 12,
        total_tokens: 42,
        prompt_tokens_details: { cached_tokens: 16 },
      },
    });
  });

  it('answers a wrong key the way Google does, and the adapter names it', async () => {
    fake = await startFakeGemini();
    const response = await post(false, { messages: [{ role: 'user', content: 'Hi' }] }, 'AIzaWrong');
    expect(response.status).toBe(400);
    const info = googleAdapter.translateError(response.status, await response.text());
    expect(info).toEqual({
      type: 'authentication_error',
      code: 'invalid_api_key',
      message: 'API key not valid. Please pass a valid API key.',
    });
  });

  it('answers 429 with retry-after and Google’s RetryInfo, mapped to a rate limit', async () => {
    fake = await startFakeGemini();
    fake.setScript(() => geminiScripts.rateLimited(3));
    const response = await post(true, { messages: [{ role: 'user', content: 'Hi' }] }, fake.apiKey);
    const body = await response.text();

    expect(response.status).toBe(429);
    expect(response.headers.get('retry-after')).toBe('3');
    expect(body).toContain('"retryDelay": "3s"');
    expect(googleAdapter.translateError(429, body)).toMatchObject({
      type: 'rate_limit_error',
      code: 'rate_limit_exceeded',
    });
  });
});
