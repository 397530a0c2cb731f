import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeAnthropic, FAKE_ANTHROPIC_KEY } from '../../../test/fakes/fake-anthropic.ts';
import type { FakeAnthropic } from '../../../test/fakes/fake-anthropic.ts';
import { KeywayError } from '../../errors.ts';
import { SseDecoder } from '../../http/sse.ts';
import type { SseEvent } from '../../http/sse.ts';
import { createDefaultRegistry } from '../../providers/registry.ts';
import type { ChatCompletionChunk, ChatRequest } from '../openai-types.ts';
import { UpstreamStreamError } from './adapter.ts';
import type { AdapterInput, ResponseContext, StreamTranslator } from './adapter.ts';
import { anthropicAdapter, DEFAULT_MAX_TOKENS, RAW_ARGUMENTS_KEY } from './anthropic.ts';

const FIXTURES = new URL('./fixtures/anthropic/', import.meta.url);
const fixtureText = (name: string) => readFileSync(new URL(name, FIXTURES), 'utf8');
const fixtureJson = (name: string): unknown => JSON.parse(fixtureText(name));

const provider = createDefaultRegistry().get('anthropic');
if (!provider) throw new Error('the registry has no anthropic provider');

function input(request: Record<string, unknown>, overrides: Partial<AdapterInput> = {}): AdapterInput {
  return {
    request: { model: 'anthropic/claude-sonnet-4-5', ...request } as ChatRequest,
    model: 'claude-sonnet-4-5-20250929',
    provider: provider!,
    secret: 'sk-ant-api03-secret',
    settings: {},
    baseUrl: 'https://api.anthropic.com',
    ...overrides,
  };
}

/** The JSON body Anthropic would receive for these OpenAI request fields. */
function bodyFor(request: Record<string, unknown>, stream = false): Record<string, unknown> {
  return JSON.parse(anthropicAdapter.buildRequest(input(request), stream).body) as Record<string, unknown>;
}

const userHello = [{ role: 'user', content: 'Hello' }];

function context(includeUsage: boolean): ResponseContext {
  return { id: 'chatcmpl-kw123', created: 1_760_000_000, model: 'anthropic/claude-sonnet-4-5', includeUsage };
}

function sseEvents(text: string): SseEvent[] {
  const decoder = new SseDecoder();
  return [...decoder.push(text), ...decoder.end()];
}

/** Runs a recorded stream through a fresh translator: every chunk, in order, and the translator. */
function translateStream(name: string, includeUsage = false) {
  const translator = anthropicAdapter.createStreamTranslator(context(includeUsage));
  const chunks = sseEvents(fixtureText(name)).flatMap((event) => translator.push(event));
  chunks.push(...translator.end());
  return { chunks, translator };
}

/** What an OpenAI client rebuilds from the chunks, the way the official SDKs accumulate them. */
function accumulate(chunks: ChatCompletionChunk[]) {
  let content = '';
  const calls: { id?: string; name?: string; arguments: string }[] = [];
  const finishReasons: string[] = [];
  for (const chunk of chunks) {
    for (const choice of chunk.choices) {
      content += choice.delta.content ?? '';
      for (const call of choice.delta.tool_calls ?? []) {
        const slot = (calls[call.index] ??= { arguments: '' });
        if (call.id) slot.id = call.id;
        if (call.function?.name) slot.name = call.function.name;
        slot.arguments += call.function?.arguments ?? '';
      }
      if (choice.finish_reason) finishReasons.push(choice.finish_reason);
    }
  }
  return { content, calls, finishReasons };
}

function expectStreamError(run: () => unknown): UpstreamStreamError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(UpstreamStreamError);
    return error as UpstreamStreamError;
  }
  throw new Error('expected an UpstreamStreamError');
}

describe('anthropicAdapter.buildRequest', () => {
  it('posts to /v1/messages with the key, the API version and JSON', () => {
    const call = anthropicAdapter.buildRequest(input({ messages: userHello }), false);
    expect(call.url).toBe('https://api.anthropic.com/v1/messages');
    expect(call.headers).toEqual({
      'x-api-key': 'sk-ant-api03-secret',
      'anthropic-version': '2023-06-01',
      'content-type': 'application/json',
    });
    expect(JSON.parse(call.body)).toEqual({
      model: 'claude-sonnet-4-5-20250929',
      max_tokens: DEFAULT_MAX_TOKENS,
      messages: [{ role: 'user', content: 'Hello' }],
    });
  });

  it('asks for a stream only when streaming', () => {
    expect(bodyFor({ messages: userHello }, true).stream).toBe(true);
    expect(bodyFor({ messages: userHello, stream: true }, false)).not.toHaveProperty('stream');
  });

  it('translates a multi-turn conversation with images, parallel tool results and settings (recorded fixture)', () => {
    const request = fixtureJson('request-multi-turn.openai.json') as Record<string, unknown>;
    expect(bodyFor(request, true)).toEqual(fixtureJson('request-multi-turn.anthropic.json'));
  });

  it('prefers max_completion_tokens, then max_tokens, then the default', () => {
    expect(bodyFor({ messages: userHello, max_completion_tokens: 300, max_tokens: 200 }).max_tokens).toBe(
      300,
    );
    expect(bodyFor({ messages: userHello, max_tokens: 200 }).max_tokens).toBe(200);
    expect(bodyFor({ messages: userHello }).max_tokens).toBe(4096);
  });

  it('joins every system and developer message, wherever they are, into the top-level system prompt', () => {
    const body = bodyFor({
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hi' },
        { role: 'developer', content: 'Use French.' },
        { role: 'assistant', content: 'Bonjour' },
      ],
    });
    expect(body.system).toBe('Be brief.\n\nUse French.');
    expect(body.messages).toEqual([
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: 'Bonjour' },
    ]);
  });

  it('merges consecutive turns of one role so user and assistant alternate', () => {
    const body = bodyFor({
      messages: [
        { role: 'user', content: 'First' },
        { role: 'user', content: [{ type: 'text', text: 'Second' }] },
        { role: 'assistant', content: 'A' },
        { role: 'assistant', content: 'B' },
      ],
    });
    expect(body.messages).toEqual([
      {
        role: 'user',
        content: [
          { type: 'text', text: 'First' },
          { type: 'text', text: 'Second' },
        ],
      },
      {
        role: 'assistant',
        content: [
          { type: 'text', text: 'A' },
          { type: 'text', text: 'B' },
        ],
      },
    ]);
  });

  it('puts tool results before the text of the user turn they are merged into', () => {
    const body = bodyFor({
      messages: [
        { role: 'user', content: 'Time?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'toolu_1', type: 'function', function: { name: 'now', arguments: '{}' } }],
        },
        { role: 'user', content: 'Quickly please' },
        { role: 'tool', tool_call_id: 'toolu_1', content: '12:00' },
      ],
    });
    expect(body.messages).toEqual([
      { role: 'user', content: 'Time?' },
      { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'now', input: {} }] },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'toolu_1', content: '12:00' },
          { type: 'text', text: 'Quickly please' },
        ],
      },
    ]);
  });

  it('keeps tool-call arguments that are not a JSON object under a marker key instead of failing', () => {
    const body = bodyFor({
      messages: [
        { role: 'user', content: 'Go' },
        {
          role: 'assistant',
          tool_calls: [
            { id: 'toolu_a', type: 'function', function: { name: 'cut', arguments: '{"city": "Par' } },
            { id: 'toolu_b', type: 'function', function: { name: 'empty', arguments: '' } },
            { id: 'toolu_c', type: 'function', function: { name: 'list', arguments: '[1,2]' } },
          ],
        },
      ],
    });
    const assistant = (body.messages as { content: unknown }[])[1];
    expect(assistant?.content).toEqual([
      { type: 'tool_use', id: 'toolu_a', name: 'cut', input: { [RAW_ARGUMENTS_KEY]: '{"city": "Par' } },
      { type: 'tool_use', id: 'toolu_b', name: 'empty', input: {} },
      { type: 'tool_use', id: 'toolu_c', name: 'list', input: { [RAW_ARGUMENTS_KEY]: '[1,2]' } },
    ]);
  });

  it.each([
    ['auto', undefined, { type: 'auto' }],
    ['required', undefined, { type: 'any' }],
    ['none', undefined, { type: 'none' }],
    [
      { type: 'function', function: { name: 'get_weather' } },
      undefined,
      { type: 'tool', name: 'get_weather' },
    ],
    ['required', false, { type: 'any', disable_parallel_tool_use: true }],
    [
      { type: 'function', function: { name: 'get_weather' } },
      false,
      { type: 'tool', name: 'get_weather', disable_parallel_tool_use: true },
    ],
    [undefined, false, { type: 'auto', disable_parallel_tool_use: true }],
    ['none', false, { type: 'none' }],
    [undefined, undefined, undefined],
  ])('maps tool_choice %j with parallel_tool_calls %j to %j', (choice, parallel, expected) => {
    const body = bodyFor({
      messages: userHello,
      tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } }],
      ...(choice !== undefined ? { tool_choice: choice } : {}),
      ...(parallel !== undefined ? { parallel_tool_calls: parallel } : {}),
    });
    expect(body.tool_choice).toEqual(expected);
  });

  it('gives tools without parameters an empty object schema, and sends no tool_choice without tools', () => {
    expect(
      bodyFor({ messages: userHello, tools: [{ type: 'function', function: { name: 'ping' } }] }).tools,
    ).toEqual([{ name: 'ping', input_schema: { type: 'object', properties: {} } }]);
    expect(bodyFor({ messages: userHello, tool_choice: 'required' })).not.toHaveProperty('tool_choice');
  });

  it('turns a single stop string into stop_sequences and caps temperature at Anthropic’s maximum', () => {
    const body = bodyFor({ messages: userHello, stop: 'END', temperature: 1.7, top_p: 0.9 });
    expect(body.stop_sequences).toEqual(['END']);
    expect(body.temperature).toBe(1);
    expect(body.top_p).toBe(0.9);
  });

  it('sends PDF file parts as document blocks', () => {
    const body = bodyFor({
      messages: [
        {
          role: 'user',
          content: [
            {
              type: 'file',
              file: { filename: 'a.pdf', file_data: 'data:application/pdf;base64,JVBERi0xLjQ=' },
            },
          ],
        },
      ],
    });
    expect(body.messages).toEqual([
      {
        role: 'user',
        content: [
          {
            type: 'document',
            source: { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0xLjQ=' },
          },
        ],
      },
    ]);
  });

  it.each([
    ['an audio part', [{ type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } }]],
    [
      'a data URL that is not base64',
      [{ type: 'image_url', image_url: { url: 'data:image/svg+xml,%3Csvg%3E' } }],
    ],
    ['an image from a file: URL', [{ type: 'image_url', image_url: { url: 'file:///etc/passwd' } }]],
  ])('refuses %s as a validation error rather than dropping it', (_what, content) => {
    const build = () => bodyFor({ messages: [{ role: 'user', content }] });
    expect(build).toThrow(KeywayError);
    expect(build).toThrow(expect.objectContaining({ code: 'validation_failed' }));
  });

  it('refuses roles and tool messages it cannot place', () => {
    expect(() => bodyFor({ messages: [{ role: 'function', name: 'f', content: 'x' }] })).toThrow(
      expect.objectContaining({ code: 'validation_failed' }),
    );
    expect(() => bodyFor({ messages: [{ role: 'tool', content: 'x' }] })).toThrow(
      expect.objectContaining({ code: 'validation_failed' }),
    );
  });
});

describe('anthropicAdapter.translateResponse', () => {
  it('turns a text message into a chat completion (recorded fixture)', () => {
    expect(anthropicAdapter.translateResponse(fixtureJson('message-text.json'), context(false))).toEqual({
      id: 'chatcmpl-kw123',
      object: 'chat.completion',
      created: 1_760_000_000,
      model: 'anthropic/claude-sonnet-4-5',
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: 'Hi! My name is Claude.', refusal: null },
          finish_reason: 'stop',
          logprobs: null,
        },
      ],
      usage: {
        prompt_tokens: 2095,
        completion_tokens: 503,
        total_tokens: 2598,
        prompt_tokens_details: { cached_tokens: 0 },
      },
    });
  });

  it('turns tool_use blocks into tool calls, skips thinking, and counts cached tokens as prompt tokens', () => {
    const completion = anthropicAdapter.translateResponse(
      fixtureJson('message-tool-use.json'),
      context(false),
    );
    expect(completion.choices[0]).toEqual({
      index: 0,
      message: {
        role: 'assistant',
        content: "I'll check the weather in San Francisco and New York.",
        tool_calls: [
          {
            id: 'toolu_01A09q90qw90lq917835lq9',
            type: 'function',
            function: { name: 'get_weather', arguments: '{"location":"San Francisco, CA","unit":"celsius"}' },
          },
          {
            id: 'toolu_01B7mQe7v3n9XkZ2pLw4RtYs',
            type: 'function',
            function: { name: 'get_weather', arguments: '{"location":"New York, NY","unit":"celsius"}' },
          },
        ],
        refusal: null,
      },
      finish_reason: 'tool_calls',
      logprobs: null,
    });
    // 24 fresh + 2048 read from the cache + 120 written to it.
    expect(completion.usage).toEqual({
      prompt_tokens: 2192,
      completion_tokens: 96,
      total_tokens: 2288,
      prompt_tokens_details: { cached_tokens: 2048 },
    });
  });

  it('reports content null when the message is only tool calls', () => {
    const message = fixtureJson('message-tool-use.json') as { content: { type: string }[] };
    const onlyTools = { ...message, content: message.content.filter((block) => block.type === 'tool_use') };
    expect(
      anthropicAdapter.translateResponse(onlyTools, context(false)).choices[0]?.message.content,
    ).toBeNull();
  });

  it.each([
    ['end_turn', 'stop'],
    ['stop_sequence', 'stop'],
    ['max_tokens', 'length'],
    ['tool_use', 'tool_calls'],
    ['refusal', 'content_filter'],
    ['pause_turn', 'stop'],
    ['model_context_window_exceeded', 'length'],
  ])('maps stop_reason %s to finish_reason %s', (stopReason, finishReason) => {
    const message = { ...(fixtureJson('message-text.json') as object), stop_reason: stopReason };
    expect(anthropicAdapter.translateResponse(message, context(false)).choices[0]?.finish_reason).toBe(
      finishReason,
    );
  });

  it('rejects a body that is not a message as an upstream error', () => {
    expect(() => anthropicAdapter.translateResponse({ hello: 'world' }, context(false))).toThrow(
      expect.objectContaining({ code: 'upstream_invalid' }),
    );
  });
});

describe('anthropicAdapter.createStreamTranslator', () => {
  it('starts with the assistant role, then forwards text deltas in order (recorded fixture)', () => {
    const { chunks } = translateStream('stream-text.sse');
    expect(chunks[0]).toEqual({
      id: 'chatcmpl-kw123',
      object: 'chat.completion.chunk',
      created: 1_760_000_000,
      model: 'anthropic/claude-sonnet-4-5',
      choices: [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }],
    });
    expect(chunks.slice(1).map((chunk) => chunk.choices[0]?.delta)).toEqual([
      { content: 'Hello' },
      { content: '!' },
      {},
    ]);
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe('stop');
  });

  it('sends no usage chunk and no usage field when the client did not ask for usage', () => {
    const { chunks, translator } = translateStream('stream-text.sse', false);
    expect(chunks.every((chunk) => chunk.choices.length === 1 && !('usage' in chunk))).toBe(true);
    // The gateway still learns the counts for its own accounting: input from message_start, output from message_delta.
    expect(translator.usage()).toEqual({
      prompt_tokens: 25,
      completion_tokens: 15,
      total_tokens: 40,
      prompt_tokens_details: { cached_tokens: 0 },
    });
  });

  it('numbers parallel tool calls after a text block 0 and 1, with id and name on the first fragment only', () => {
    const { chunks } = translateStream('stream-parallel-tools.sse');
    const toolDeltas = chunks.flatMap((chunk) => chunk.choices[0]?.delta.tool_calls ?? []);
    expect(toolDeltas).toEqual([
      {
        index: 0,
        id: 'toolu_01T1x1fJ34qAmk2tNTrN7Up6',
        type: 'function',
        function: { name: 'get_weather', arguments: '' },
      },
      { index: 0, function: { arguments: '{"location":' } },
      { index: 0, function: { arguments: ' "San Francisco, CA", "unit": "celsius"}' } },
      {
        index: 1,
        id: 'toolu_01GhS5hVGfPL2k7JjBCmQ9vX',
        type: 'function',
        function: { name: 'get_time', arguments: '' },
      },
      { index: 1, function: { arguments: '{"timezone": "Amer' } },
      { index: 1, function: { arguments: 'ica/New_York"}' } },
    ]);
    const rebuilt = accumulate(chunks);
    expect(rebuilt.content).toBe("I'll check the weather in both cities.");
    expect(rebuilt.calls.map((call) => [call.id, call.name, JSON.parse(call.arguments)])).toEqual([
      ['toolu_01T1x1fJ34qAmk2tNTrN7Up6', 'get_weather', { location: 'San Francisco, CA', unit: 'celsius' }],
      ['toolu_01GhS5hVGfPL2k7JjBCmQ9vX', 'get_time', { timezone: 'America/New_York' }],
    ]);
    expect(rebuilt.finishReasons).toEqual(['tool_calls']);
  });

  it('ends with one usage chunk with no choices, merged from message_start and message_delta, when asked', () => {
    const { chunks } = translateStream('stream-parallel-tools.sse', true);
    const last = chunks.at(-1);
    expect(last).toEqual({
      id: 'chatcmpl-kw123',
      object: 'chat.completion.chunk',
      created: 1_760_000_000,
      model: 'anthropic/claude-sonnet-4-5',
      choices: [],
      usage: {
        prompt_tokens: 2072,
        completion_tokens: 112,
        total_tokens: 2184,
        prompt_tokens_details: { cached_tokens: 2048 },
      },
    });
    expect(chunks.slice(0, -1).every((chunk) => chunk.usage === null && chunk.choices.length === 1)).toBe(
      true,
    );
    expect(chunks.at(-2)?.choices[0]?.finish_reason).toBe('tool_calls');
  });

  it('keeps cache counts from message_start when message_delta reports only output tokens', () => {
    const { chunks } = translateStream('stream-thinking-tool.sse', true);
    expect(chunks.at(-1)?.usage).toEqual({
      prompt_tokens: 2242,
      completion_tokens: 89,
      total_tokens: 2331,
      prompt_tokens_details: { cached_tokens: 0 },
    });
  });

  it('skips thinking blocks without counting them as tool calls', () => {
    const { chunks } = translateStream('stream-thinking-tool.sse');
    const rebuilt = accumulate(chunks);
    expect(rebuilt.content).toBe('Let me look that up.');
    expect(rebuilt.calls).toEqual([
      {
        id: 'toolu_01CqjVqJ4vtiVHmcN5gXy4Xx',
        name: 'get_weather',
        arguments: '{"location": "Paris, France"}',
      },
    ]);
    expect(
      chunks.flatMap((chunk) => chunk.choices[0]?.delta.tool_calls ?? []).map((call) => call.index),
    ).toEqual([0, 0]);
  });

  it('throws an UpstreamStreamError for an error event after HTTP 200, after forwarding what came before', () => {
    const translator = anthropicAdapter.createStreamTranslator(context(true));
    const events = sseEvents(fixtureText('stream-error.sse'));
    const forwarded: ChatCompletionChunk[] = [];
    const error = expectStreamError(() => {
      for (const event of events) forwarded.push(...translator.push(event));
    });
    expect(error.info).toEqual({ message: 'Overloaded', type: 'server_error', code: 'overloaded' });
    expect(accumulate(forwarded).content).toBe('Once upon');
  });

  it('ignores ping and event types it does not know', () => {
    const translator = anthropicAdapter.createStreamTranslator(context(false));
    expect(translator.push({ event: 'ping', data: '{"type": "ping"}' })).toEqual([]);
    expect(translator.push({ event: 'future_event', data: '{"type": "future_event", "x": 1}' })).toEqual([]);
    expect(translator.usage()).toBeNull();
  });

  it('refuses to end a stream that stopped before the message was complete', () => {
    const translator: StreamTranslator = anthropicAdapter.createStreamTranslator(context(true));
    const events = sseEvents(fixtureText('stream-text.sse')).filter(
      (event) => event.event !== 'message_delta' && event.event !== 'message_stop',
    );
    for (const event of events) translator.push(event);
    expect(expectStreamError(() => translator.end()).info.code).toBe('incomplete_stream');
  });

  it('throws for an event whose data is not JSON', () => {
    const translator = anthropicAdapter.createStreamTranslator(context(false));
    expect(
      expectStreamError(() => translator.push({ event: 'message_start', data: '{oops' })).info.code,
    ).toBe('invalid_upstream_response');
  });

  it('gives a tool call without parameters the arguments {}', () => {
    const translator = anthropicAdapter.createStreamTranslator(context(false));
    const events = [
      { type: 'message_start', message: { usage: { input_tokens: 5, output_tokens: 1 } } },
      {
        type: 'content_block_start',
        index: 0,
        content_block: { type: 'tool_use', id: 'toolu_x', name: 'now', input: {} },
      },
      { type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: '' } },
      { type: 'content_block_stop', index: 0 },
      { type: 'message_delta', delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 7 } },
      { type: 'message_stop' },
    ];
    const chunks = events.flatMap((data) =>
      translator.push({ event: data.type, data: JSON.stringify(data) }),
    );
    chunks.push(...translator.end());
    expect(accumulate(chunks).calls).toEqual([{ id: 'toolu_x', name: 'now', arguments: '{}' }]);
  });
});

describe('anthropicAdapter.translateError', () => {
  it.each([
    ['error-overloaded.json', 529, { message: 'Overloaded', type: 'server_error', code: 'overloaded' }],
    [
      'error-authentication.json',
      401,
      { message: 'invalid x-api-key', type: 'authentication_error', code: 'invalid_api_key' },
    ],
    [
      'error-prompt-too-long.json',
      400,
      {
        message: 'prompt is too long: 212503 tokens > 200000 maximum',
        type: 'invalid_request_error',
        code: 'context_length_exceeded',
      },
    ],
    [
      'error-not-found.json',
      404,
      { message: 'model: claude-3-opus-latest', type: 'invalid_request_error', code: 'not_found' },
    ],
  ])('maps %s (HTTP %i)', (name, status, expected) => {
    expect(anthropicAdapter.translateError(status, fixtureText(name))).toEqual(expected);
  });

  it('maps a rate limit and keeps Anthropic’s message', () => {
    const info = anthropicAdapter.translateError(429, fixtureText('error-rate-limit.json'));
    expect(info.type).toBe('rate_limit_error');
    expect(info.code).toBe('rate_limit_exceeded');
    expect(info.message).toMatch(/^This request would exceed the rate limit/);
  });

  it.each([
    [400, 'invalid_request_error', null],
    [403, 'permission_error', 'permission_denied'],
    [500, 'server_error', 'server_error'],
    [502, 'server_error', 'server_error'],
    [529, 'server_error', 'overloaded'],
  ])(
    'describes, never quotes, a body that is not JSON, typed by the status (HTTP %i)',
    (status, type, code) => {
      const page = `<html><body>${'x'.repeat(1000)}</body></html>`;
      const info = anthropicAdapter.translateError(status, page);
      expect(info).toEqual({
        message: expect.stringMatching(
          new RegExp(
            `^Anthropic answered HTTP ${status} with a body that is not an Anthropic error \\(1026 bytes of HTML\\); `,
          ),
        ),
        type,
        code,
      });
      expect(info.message).not.toContain('xxx');
    },
  );

  it('describes, never quotes, JSON of another shape', () => {
    const info = anthropicAdapter.translateError(404, JSON.stringify({ message: 'internal note' }));
    expect(info.message).toBe(
      "Anthropic answered HTTP 404 with a body that is not an Anthropic error (27 bytes of JSON); check the credential's base URL.",
    );
    expect(info.code).toBe('not_found');
  });

  it('describes an empty body by its status', () => {
    expect(anthropicAdapter.translateError(503, '')).toEqual({
      message: 'Anthropic answered HTTP 503 with an empty body.',
      type: 'server_error',
      code: 'server_error',
    });
  });
});

describe('the adapter against the fake Anthropic server, over HTTP', () => {
  let fake: FakeAnthropic;
  beforeAll(async () => {
    fake = await startFakeAnthropic();
  });
  afterAll(() => fake.close());
  beforeEach(() => {
    fake.requests.length = 0;
  });

  function call(
    request: Record<string, unknown>,
    stream: boolean,
    secret = FAKE_ANTHROPIC_KEY,
    signal?: AbortSignal,
  ) {
    const upstream = anthropicAdapter.buildRequest(input(request, { baseUrl: fake.url, secret }), stream);
    return fetch(upstream.url, {
      method: 'POST',
      headers: upstream.headers,
      body: upstream.body,
      signal: signal ?? null,
    });
  }

  /** Reads a streamed response through the app's decoder and the translator, as the gateway will. */
  async function readStream(response: Response, includeUsage: boolean) {
    const translator = anthropicAdapter.createStreamTranslator(context(includeUsage));
    const decoder = new SseDecoder();
    const chunks: ChatCompletionChunk[] = [];
    const text = new TextDecoder();
    for await (const bytes of response.body!) {
      for (const event of decoder.push(text.decode(bytes, { stream: true })))
        chunks.push(...translator.push(event));
    }
    for (const event of decoder.end()) chunks.push(...translator.push(event));
    chunks.push(...translator.end());
    return chunks;
  }

  it('streams a text block and two parallel tool calls that the translator rebuilds exactly', async () => {
    fake.setScript({
      type: 'message',
      content: [
        { type: 'text', text: 'Checking both cities now.' },
        { type: 'tool_use', id: 'toolu_01Weather', name: 'get_weather', input: { location: 'Paris' } },
        { type: 'tool_use', name: 'get_time', input: { timezone: 'Europe/Paris', format: '24h' } },
      ],
      usage: { input_tokens: 30, cache_read_input_tokens: 1000, output_tokens: 42 },
    });
    const response = await call({ messages: userHello }, true);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const chunks = await readStream(response, true);

    const rebuilt = accumulate(chunks);
    expect(rebuilt.content).toBe('Checking both cities now.');
    expect(rebuilt.calls.map((c) => [c.name, JSON.parse(c.arguments)])).toEqual([
      ['get_weather', { location: 'Paris' }],
      ['get_time', { timezone: 'Europe/Paris', format: '24h' }],
    ]);
    expect(rebuilt.calls[0]?.id).toBe('toolu_01Weather');
    expect(rebuilt.calls[1]?.id).toMatch(/^toolu_01[0-9A-Za-z]{22}$/);
    expect(rebuilt.finishReasons).toEqual(['tool_calls']);
    expect(chunks.at(-1)?.usage).toEqual({
      prompt_tokens: 1030,
      completion_tokens: 42,
      total_tokens: 1072,
      prompt_tokens_details: { cached_tokens: 1000 },
    });
    expect(fake.requests[0]?.headers['x-api-key']).toBe(FAKE_ANTHROPIC_KEY);
    expect(fake.requests[0]?.headers['anthropic-version']).toBe('2023-06-01');
  });

  it('accepts the translated multi-turn conversation, tool results and all, and answers it as JSON', async () => {
    fake.setScript({ type: 'message', content: [{ type: 'text', text: 'New York is warmer.' }] });
    const request = { ...(fixtureJson('request-multi-turn.openai.json') as object), stream: false };
    const response = await call(request, false);
    expect(response.status).toBe(200);
    const completion = anthropicAdapter.translateResponse(await response.json(), context(false));
    expect(completion.choices[0]?.message.content).toBe('New York is warmer.');
    expect(completion.choices[0]?.finish_reason).toBe('stop');
    expect(fake.requests[0]?.body).toMatchObject({
      system: 'You are a weather assistant.\n\nAnswer in metric units.',
    });
  });

  it('rejects tool results that answer no tool_use, as Anthropic does', async () => {
    const response = await call(
      {
        messages: [
          { role: 'user', content: 'Hi' },
          { role: 'tool', tool_call_id: 'toolu_nobody', content: 'orphan' },
        ],
      },
      false,
    );
    expect(response.status).toBe(400);
    const info = anthropicAdapter.translateError(response.status, await response.text());
    expect(info.type).toBe('invalid_request_error');
    expect(info.message).toMatch(/unexpected `tool_use_id` found in `tool_result` blocks: toolu_nobody/);
  });

  it('rejects a wrong key with 401 authentication_error', async () => {
    const response = await call({ messages: userHello }, false, 'sk-ant-wrong');
    expect(response.status).toBe(401);
    expect(anthropicAdapter.translateError(401, await response.text()).code).toBe('invalid_api_key');
  });

  it('answers 429 with retry-after and 529 overloaded as scripted', async () => {
    fake.setScript((_request, index) =>
      index === 0
        ? {
            type: 'error',
            status: 429,
            errorType: 'rate_limit_error',
            message: 'Slow down',
            headers: { 'retry-after': '7' },
          }
        : { type: 'error', status: 529, errorType: 'overloaded_error', message: 'Overloaded' },
    );
    const limited = await call({ messages: userHello }, false);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('7');
    expect(anthropicAdapter.translateError(429, await limited.text()).code).toBe('rate_limit_exceeded');
    const overloaded = await call({ messages: userHello }, true);
    expect(overloaded.status).toBe(529);
    expect(anthropicAdapter.translateError(529, await overloaded.text()).code).toBe('overloaded');
  });

  it('turns an error event in the middle of a 200 stream into an UpstreamStreamError', async () => {
    fake.setScript({
      type: 'message',
      content: [{ type: 'text', text: 'This will not finish' }],
      interrupt: {
        afterEvents: 5,
        then: { type: 'error', errorType: 'overloaded_error', message: 'Overloaded' },
      },
    });
    const response = await call({ messages: userHello }, true);
    expect(response.status).toBe(200);
    await expect(readStream(response, false)).rejects.toMatchObject({
      name: 'UpstreamStreamError',
      info: { type: 'server_error', code: 'overloaded' },
    });
  });

  it('paces events so they arrive one by one, and records that the client went away', async () => {
    fake.setScript({
      type: 'message',
      content: [{ type: 'text', text: 'one two three four five six' }],
      eventDelayMs: 50,
    });
    const controller = new AbortController();
    const response = await call({ messages: userHello }, true, FAKE_ANTHROPIC_KEY, controller.signal);
    const arrivals: number[] = [];
    const started = performance.now();
    const reader = response.body!.getReader();
    while (arrivals.length < 3) {
      const { done } = await reader.read();
      if (done) break;
      arrivals.push(performance.now() - started);
    }
    controller.abort();
    await reader.cancel().catch(() => {});
    await fake.requests[0]?.closed;
    expect(arrivals[2]! - arrivals[0]!).toBeGreaterThanOrEqual(80);
    expect(fake.requests[0]?.aborted).toBe(true);
  });

  it('stalls before the headers until the client gives up', async () => {
    fake.setScript({ type: 'stall', phase: 'before-headers' });
    await expect(
      call({ messages: userHello }, false, FAKE_ANTHROPIC_KEY, AbortSignal.timeout(150)),
    ).rejects.toThrow();
    await fake.requests[0]?.closed;
    expect(fake.requests[0]?.aborted).toBe(true);
  });

  it('a connection cut mid-stream is an error, not a short answer', async () => {
    fake.setScript({
      type: 'message',
      content: [{ type: 'text', text: 'cut short here' }],
      interrupt: { afterEvents: 4, then: { type: 'disconnect' } },
    });
    const response = await call({ messages: userHello }, true);
    expect(response.status).toBe(200);
    await expect(readStream(response, false)).rejects.toThrow();
  });

  it('stalls after the headers until the client gives up', async () => {
    fake.setScript({ type: 'stall', phase: 'after-headers' });
    const response = await call({ messages: userHello }, true, FAKE_ANTHROPIC_KEY, AbortSignal.timeout(150));
    expect(response.status).toBe(200);
    await expect(response.text()).rejects.toThrow();
    await fake.requests[0]?.closed;
    expect(fake.requests[0]?.aborted).toBe(true);
  });
});
