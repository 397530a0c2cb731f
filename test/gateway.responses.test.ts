import { sql } from 'kysely';
import OpenAI, { APIError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAKE_ANTHROPIC_KEY, startFakeAnthropic, type FakeAnthropic } from './fakes/fake-anthropic.ts';
import { FAKE_GEMINI_KEY, geminiScripts, startFakeGemini, type FakeGemini } from './fakes/fake-gemini.ts';
import { startFakeOpenAiChat, type FakeOpenAiChat } from './fakes/fake-openai-chat.ts';
import { startFakeOpenAiResponses, type FakeOpenAiResponses } from './fakes/fake-openai-responses.ts';
import { fakeKey, startGatewayHarness, type GatewayHarness } from './support/gateway-harness.ts';
import { BACKENDS } from './support/test-database.ts';

type Usage = { input_tokens: number; output_tokens: number; cached_tokens: number };

/** One upstream as the shared scenarios drive it: script an answer, read back what it was sent. */
interface Upstream {
  model: string;
  /** The usage every scripted answer reports, as the Responses API states it. */
  usage: Usage;
  answerText(text: string | string[]): void;
  answerCall(name: string, args: Record<string, unknown>): void;
  requests(): number;
  /** The instructions as the provider received them. */
  system(): string | undefined;
  /** The conversation the provider was sent last, one line per turn part (`user: …`, `call …`, `result …`). */
  conversation(): string[];
}

const weatherTool = {
  type: 'function' as const,
  name: 'get_weather',
  description: 'Weather for a city',
  parameters: {
    type: 'object',
    properties: { city: { type: 'string' } },
    required: ['city'],
    additionalProperties: false,
  },
  strict: true,
};

const textOf = (content: unknown): string =>
  typeof content === 'string'
    ? content
    : Array.isArray(content)
      ? content.map((part: { text?: string }) => part.text ?? '').join('')
      : '';
const json = (text: string) => JSON.stringify(JSON.parse(text));

/** What the SDK's stream yields, read to the end (or to the error it raises). */
async function drain(stream: AsyncIterable<OpenAI.Responses.ResponseStreamEvent>) {
  const events: OpenAI.Responses.ResponseStreamEvent[] = [];
  let error: unknown;
  try {
    for await (const event of stream) events.push(event);
  } catch (caught) {
    error = caught;
  }
  return { events, error };
}

/** Event types with runs of deltas folded into one (providers and scrubbing split text differently). */
const folded = (events: { type: string }[]) =>
  events
    .map((event) => event.type)
    .filter((type, index, types) => !(type.endsWith('.delta') && types[index - 1] === type));

/** The raw SSE of a request, parsed: what a client without the SDK sees. */
async function rawEvents(url: string, token: string, body: unknown) {
  const response = await fetch(`${url}/v1/responses`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  const events = text
    .split('\n\n')
    .filter(Boolean)
    .map((block) => {
      const name = /^event: (.+)$/m.exec(block)?.[1];
      const data = JSON.parse(/^data: (.+)$/m.exec(block)?.[1] ?? 'null') as Record<string, any>;
      expect(name).toBe(data.type);
      return data;
    });
  return { status: response.status, text, events };
}

describe('/v1/responses with the official SDK, relayed to OpenAI and translated [embedded]', () => {
  const openAiKey = fakeKey();
  let openai: FakeOpenAiResponses;
  let anthropic: FakeAnthropic;
  let gemini: FakeGemini;
  let chat: FakeOpenAiChat;
  let gateway: GatewayHarness;
  let alice: { id: string; token: string };
  let client: OpenAI;
  const upstreams = {} as Record<'openai' | 'anthropic' | 'gemini', Upstream>;

  beforeAll(async () => {
    [openai, anthropic, gemini, chat] = await Promise.all([
      startFakeOpenAiResponses({ validKeys: [openAiKey] }),
      startFakeAnthropic(),
      startFakeGemini(),
      startFakeOpenAiChat({ validKeys: [openAiKey] }),
    ]);
    gateway = await startGatewayHarness('embedded');
    alice = await gateway.user('alice');
    const credentials = [
      { name: 'oa', provider: 'openai', secret: openAiKey, settings: { baseUrl: openai.url } },
      {
        name: 'claude',
        provider: 'anthropic',
        secret: FAKE_ANTHROPIC_KEY,
        settings: { baseUrl: anthropic.url },
      },
      { name: 'gem', provider: 'google', secret: FAKE_GEMINI_KEY, settings: { baseUrl: gemini.url } },
      { name: 'local', provider: 'openai-compatible', secret: openAiKey, settings: { baseUrl: chat.url } },
    ];
    for (const credential of credentials) await gateway.credential(alice.token, credential);
    client = gateway.client(alice.token);

    const openAiUsage: Usage = { input_tokens: 14, output_tokens: 6, cached_tokens: 2 };
    upstreams.openai = {
      model: 'oa/gpt-4.1-mini',
      usage: openAiUsage,
      answerText: (text) => openai.setScript(() => ({ kind: 'text', text, usage: openAiUsage })),
      answerCall: (name, args) =>
        openai.setScript(() => ({ kind: 'calls', calls: [{ name, arguments: JSON.stringify(args) }] })),
      requests: () => openai.requests.length,
      system: () => openai.requests.at(-1)?.body.instructions as string | undefined,
      conversation: () =>
        openai.requests.at(-1)!.conversation.map((raw) => {
          const item = raw as Record<string, any>;
          if (item.type === 'function_call') return `call ${item.name} ${json(item.arguments)}`;
          if (item.type === 'function_call_output') return `result ${textOf(item.output)}`;
          return `${item.role}: ${textOf(item.content)}`;
        }),
    };

    const anthropicUsage = { input_tokens: 20, output_tokens: 7, cache_read_input_tokens: 5 };
    const lastAnthropic = () => anthropic.requests.at(-1)!.body as Record<string, any>;
    upstreams.anthropic = {
      model: 'claude/claude-sonnet-4-5',
      usage: { input_tokens: 25, output_tokens: 7, cached_tokens: 5 },
      answerText: (text) =>
        anthropic.setScript({ type: 'message', content: [{ type: 'text', text }], usage: anthropicUsage }),
      answerCall: (name, input) =>
        anthropic.setScript({
          type: 'message',
          content: [{ type: 'tool_use', name, input }],
          usage: anthropicUsage,
        }),
      requests: () => anthropic.requests.length,
      system: () => lastAnthropic().system,
      conversation: () =>
        (lastAnthropic().messages as { role: string; content: unknown }[]).flatMap((message) =>
          (typeof message.content === 'string'
            ? [{ type: 'text', text: message.content }]
            : (message.content as any[])
          ).map((block) =>
            block.type === 'tool_use'
              ? `call ${block.name} ${JSON.stringify(block.input)}`
              : block.type === 'tool_result'
                ? `result ${textOf(block.content)}`
                : `${message.role}: ${block.text}`,
          ),
        ),
    };

    const geminiUsage = { promptTokenCount: 11, candidatesTokenCount: 6, cachedContentTokenCount: 3 };
    const lastGemini = () => gemini.requests.at(-1)!.body as Record<string, any>;
    upstreams.gemini = {
      model: 'gem/gemini-2.5-flash',
      usage: { input_tokens: 11, output_tokens: 6, cached_tokens: 3 },
      answerText: (text) =>
        gemini.setScript(() => ({
          kind: 'reply',
          chunks: [text].flat().map((piece) => ({ text: piece })),
          usage: geminiUsage,
        })),
      answerCall: (name, args) =>
        gemini.setScript(() => ({ ...geminiScripts.functionCalls([{ name, args }]), usage: geminiUsage })),
      requests: () => gemini.requests.length,
      system: () => textOf(lastGemini().systemInstruction?.parts),
      conversation: () =>
        (lastGemini().contents as { role: string; parts: any[] }[]).flatMap((content) =>
          content.parts.map((part) =>
            part.functionCall
              ? `call ${part.functionCall.name} ${JSON.stringify(part.functionCall.args)}`
              : part.functionResponse
                ? `result ${part.functionResponse.response.content ?? JSON.stringify(part.functionResponse.response)}`
                : `${content.role === 'model' ? 'assistant' : content.role}: ${part.text}`,
          ),
        ),
    };
  });

  afterAll(async () => {
    await gateway.stop();
    await Promise.all([openai.close(), anthropic.close(), gemini.close(), chat.close()]);
    // Canary: no provider key reached a log line, whatever the tests did.
    const logs = gateway.logLines.join('\n');
    for (const secret of [openAiKey, FAKE_ANTHROPIC_KEY, FAKE_GEMINI_KEY])
      expect(logs.includes(secret)).toBe(false);
  });

  describe.each(['openai', 'anthropic', 'gemini'] as const)('the same calls on %s', (name) => {
    const upstream = () => upstreams[name];

    it('creates a response: output_text, usage, instructions reaching the provider, the overhead header', async () => {
      upstream().answerText('Bonjour.');
      const { data, response } = await client.responses
        .create({ model: upstream().model, instructions: 'Be brief.', input: 'Hello' })
        .withResponse();
      expect(data.object).toBe('response');
      expect(data.id).toMatch(/^resp_/);
      expect(data.status).toBe('completed');
      expect(data.output_text).toBe('Bonjour.');
      expect(data.usage).toMatchObject({
        input_tokens: upstream().usage.input_tokens,
        output_tokens: upstream().usage.output_tokens,
        input_tokens_details: { cached_tokens: upstream().usage.cached_tokens },
        total_tokens: upstream().usage.input_tokens + upstream().usage.output_tokens,
      });
      expect(upstream().system()).toBe('Be brief.');
      expect(upstream().conversation()).toEqual(['user: Hello']);
      expect(response.headers.get('x-keyway-overhead-ms')).toMatch(/^\d+\.\d{2}$/);
    });

    it('streams OpenAI’s event sequence, numbered from 0, ending in response.completed with usage', async () => {
      upstream().answerText(['Hello', ' there', '!']);
      const { events, error } = await drain(
        await client.responses.create({ model: upstream().model, input: 'Hi', stream: true }),
      );
      expect(error).toBeUndefined();
      expect(folded(events)).toEqual([
        'response.created',
        'response.in_progress',
        'response.output_item.added',
        'response.content_part.added',
        'response.output_text.delta',
        'response.output_text.done',
        'response.content_part.done',
        'response.output_item.done',
        'response.completed',
      ]);
      expect(events.map((event) => event.sequence_number)).toEqual(events.map((_, index) => index));
      const deltas = events.filter((event) => event.type === 'response.output_text.delta');
      expect(deltas.map((event) => event.delta).join('')).toBe('Hello there!');
      for (const event of deltas) expect(event).toMatchObject({ output_index: 0, content_index: 0 });
      const completed = events.at(-1) as OpenAI.Responses.ResponseCompletedEvent;
      expect(completed.response.usage).toMatchObject({
        input_tokens: upstream().usage.input_tokens,
        output_tokens: upstream().usage.output_tokens,
      });
      // The SDK's stream helper assembles the same events into the final response.
      upstream().answerText(['Hello', ' again.']);
      const final = await client.responses.stream({ model: upstream().model, input: 'Hi' }).finalResponse();
      expect(final.output_text).toBe('Hello again.');
    });

    it('runs a function tool round trip: a streamed function_call, then its function_call_output turn', async () => {
      upstream().answerCall('get_weather', { city: 'Paris' });
      const stream = client.responses.stream({
        model: upstream().model,
        input: 'Weather in Paris?',
        tools: [weatherTool],
      });
      const seen: string[] = [];
      stream.on('event', (event) => seen.push(event.type));
      const first = await stream.finalResponse();
      expect(seen).toContain('response.function_call_arguments.delta');
      expect(seen).toContain('response.function_call_arguments.done');
      const call = first.output.find((item) => item.type === 'function_call')!;
      expect(call).toMatchObject({ type: 'function_call', name: 'get_weather', status: 'completed' });
      expect(JSON.parse(call.arguments)).toEqual({ city: 'Paris' });

      upstream().answerText('Sunny in Paris.');
      const second = await client.responses.create({
        model: upstream().model,
        tools: [weatherTool],
        input: [
          { role: 'user', content: 'Weather in Paris?' },
          ...first.output.filter((item) => item.type === 'function_call'),
          { type: 'function_call_output', call_id: call.call_id, output: 'Sunny' },
        ],
      });
      expect(second.output_text).toBe('Sunny in Paris.');
      expect(upstream().conversation()).toEqual([
        'user: Weather in Paris?',
        'call get_weather {"city":"Paris"}',
        'result Sunny',
      ]);
    });

    it('continues a conversation with previous_response_id, streamed turns included', async () => {
      upstream().answerText('Nice to meet you, Ann.');
      const first = await client.responses.create({ model: upstream().model, input: 'My name is Ann.' });
      upstream().answerText('Your name is Ann.');
      const { events } = await drain(
        await client.responses.create({
          model: upstream().model,
          input: 'What is my name?',
          previous_response_id: first.id,
          stream: true,
        }),
      );
      const second = (events.at(-1) as OpenAI.Responses.ResponseCompletedEvent).response;
      expect(upstream().conversation()).toEqual([
        'user: My name is Ann.',
        'assistant: Nice to meet you, Ann.',
        'user: What is my name?',
      ]);
      upstream().answerText('Goodbye, Ann.');
      const third = await client.responses.create({
        model: upstream().model,
        input: [{ role: 'user', content: [{ type: 'input_text', text: 'Bye.' }] }],
        previous_response_id: second.id,
      });
      expect(third.output_text).toBe('Goodbye, Ann.');
      expect(upstream().conversation()).toEqual([
        'user: My name is Ann.',
        'assistant: Nice to meet you, Ann.',
        'user: What is my name?',
        'assistant: Your name is Ann.',
        'user: Bye.',
      ]);
    });
  });

  describe('relayed to OpenAI', () => {
    it('forwards the body as sent but for the model, with the stored key; unknown fields survive', async () => {
      openai.setScript(() => ({ kind: 'text', text: 'ok' }));
      await client.responses.create({
        model: 'oa/gpt-4.1-mini',
        input: 'Hi',
        include: ['reasoning.encrypted_content'],
        service_tier: 'flex',
        vendor_extension: { nested: [1, 'two'] },
      } as OpenAI.Responses.ResponseCreateParamsNonStreaming);
      const sent = openai.requests.at(-1)!;
      expect(sent.path).toBe('/v1/responses');
      expect(sent.headers.authorization).toBe(`Bearer ${openAiKey}`);
      expect(sent.body).toEqual({
        model: 'gpt-4.1-mini',
        input: 'Hi',
        include: ['reasoning.encrypted_content'],
        service_tier: 'flex',
        vendor_extension: { nested: [1, 'two'] },
      });
    });

    it('scrubs the key from relayed answers and events; a provider error keeps its code', async () => {
      openai.setScript(() => ({ kind: 'text', text: `the key is ${openAiKey}.` }));
      const whole = await client.responses.create({ model: 'oa/gpt-4.1-mini', input: 'Leak it' });
      expect(whole.output_text).toBe('the key is [REDACTED].');
      const streamed = await rawEvents(gateway.server.url, alice.token, {
        model: 'oa/gpt-4.1-mini',
        input: 'Leak it',
        stream: true,
      });
      expect(streamed.text).not.toContain(openAiKey);
      expect(streamed.text).toContain('[REDACTED]');
      openai.setScript(() => ({
        kind: 'error',
        status: 400,
        message: `Invalid value for 'temperature' (key ${openAiKey}).`,
        code: 'invalid_value',
      }));
      const error = (await client.responses
        .create({ model: 'oa/gpt-4.1-mini', input: 'x' })
        .catch((caught: unknown) => caught)) as APIError;
      expect(error.status).toBe(400);
      expect(error.code).toBe('invalid_value');
      expect(error.message).not.toContain(openAiKey);
    });

    it('ends a stream that breaks off with an error event numbered after the last one relayed', async () => {
      openai.setScript(() => ({ kind: 'break', text: 'one two three four', afterEvents: 5 }));
      const { events } = await rawEvents(gateway.server.url, alice.token, {
        model: 'oa/gpt-4.1-mini',
        input: 'Hi',
        stream: true,
      });
      const last = events.at(-1)!;
      expect(last.type).toBe('error');
      expect(last.sequence_number).toBe(5);
      expect(last.error).toMatchObject({ code: 'upstream_interrupted' });
      expect(events.map((event) => event.sequence_number)).toEqual([0, 1, 2, 3, 4, 5]);
      // The SDK raises it.
      openai.setScript(() => ({ kind: 'break', text: 'one two three four', afterEvents: 5 }));
      const { error } = await drain(
        await client.responses.create({ model: 'oa/gpt-4.1-mini', input: 'Hi', stream: true }),
      );
      expect(error).toBeInstanceOf(APIError);
    });

    it('continues on OpenAI a conversation begun on a translated model, its turns inlined', async () => {
      upstreams.anthropic.answerText('Hi Ann.');
      const first = await client.responses.create({ model: 'claude/claude-sonnet-4-5', input: 'I am Ann.' });
      openai.setScript(() => ({ kind: 'text', text: 'You are Ann.' }));
      const second = await client.responses.create({
        model: 'oa/gpt-4.1-mini',
        input: 'Who am I?',
        previous_response_id: first.id,
      });
      expect(second.output_text).toBe('You are Ann.');
      const sent = openai.requests.at(-1)!.body;
      expect(sent.previous_response_id).toBeUndefined();
      expect(upstreams.openai.conversation()).toEqual([
        'user: I am Ann.',
        'assistant: Hi Ann.',
        'user: Who am I?',
      ]);
    });

    it('retrieves and deletes a relayed response through the credential that made it, for its owner only', async () => {
      openai.setScript(() => ({ kind: 'text', text: 'kept by OpenAI' }));
      const whole = await client.responses.create({ model: 'oa/gpt-4.1-mini', input: 'Keep this.' });
      const streamed = await client.responses.create({
        model: 'oa/gpt-4.1-mini',
        input: 'And this.',
        stream: true,
      });
      const { events } = await drain(streamed);
      const streamedId = (
        events.find((event) => event.type === 'response.completed') as { response: { id: string } }
      ).response.id;
      for (const id of [whole.id, streamedId]) {
        const again = await client.responses.retrieve(id);
        expect(again).toMatchObject({ id, object: 'response', output_text: 'kept by OpenAI' });
        expect(openai.requests.at(-1)).toMatchObject({ method: 'GET', path: `/v1/responses/${id}` });
        expect(openai.requests.at(-1)!.headers.authorization).toBe(`Bearer ${openAiKey}`);
      }

      // Someone else who may use a key of the same provider cannot read it: the id is not theirs.
      const bea = await gateway.user('bea-relayed');
      await gateway.credential(bea.token, {
        name: 'oa',
        provider: 'openai',
        secret: openAiKey,
        settings: { baseUrl: openai.url },
      });
      const sent = openai.requests.length;
      const theirs = (await gateway
        .client(bea.token)
        .responses.retrieve(whole.id)
        .catch((caught: unknown) => caught)) as APIError;
      expect(theirs.status).toBe(404);
      expect(openai.requests.length).toBe(sent);

      // store: false leaves nothing to find.
      const unkept = await client.responses.create({
        model: 'oa/gpt-4.1-mini',
        input: 'Forget.',
        store: false,
      });
      expect(
        ((await client.responses.retrieve(unkept.id).catch((caught: unknown) => caught)) as APIError).status,
      ).toBe(404);

      await client.responses.delete(whole.id);
      expect(openai.requests.at(-1)).toMatchObject({ method: 'DELETE', path: `/v1/responses/${whole.id}` });
      expect(
        ((await client.responses.retrieve(whole.id).catch((caught: unknown) => caught)) as APIError).status,
      ).toBe(404);
    });

    it('leaves an id Keyway does not know to OpenAI, which answers previous_response_not_found', async () => {
      const before = gateway.queries.length;
      const error = (await client.responses
        .create({ model: 'oa/gpt-4.1-mini', input: 'x', previous_response_id: 'resp_unknown' })
        .catch((caught: unknown) => caught)) as APIError;
      expect(error.status).toBe(400);
      expect(error.code).toBe('previous_response_not_found');
      // OpenAI's ids cannot be Keyway's: relaying one costs no database round trip.
      expect(gateway.queries.slice(before).filter((query) => query.includes('stored_responses'))).toEqual([]);
    });
  });

  describe('translated', () => {
    it('maps settings: the output cap, JSON schema output, reasoning effort (OpenAI-wire), and a cut-off answer', async () => {
      anthropic.setScript({
        type: 'message',
        content: [{ type: 'text', text: 'Once upon' }],
        stopReason: 'max_tokens',
      });
      const cut = await client.responses.create({
        model: 'claude/claude-sonnet-4-5',
        input: 'Tell a story',
        max_output_tokens: 16,
        temperature: 0.3,
      });
      expect((anthropic.requests.at(-1)!.body as Record<string, unknown>).max_tokens).toBe(16);
      expect(cut.status).toBe('incomplete');
      expect(cut.incomplete_details).toEqual({ reason: 'max_output_tokens' });
      expect(cut.temperature).toBe(0.3);

      gemini.setScript(() => geminiScripts.text('{"city":"Paris"}'));
      await client.responses.create({
        model: 'gem/gemini-2.5-flash',
        input: 'City?',
        text: {
          format: {
            type: 'json_schema',
            name: 'city',
            schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
          },
        },
      });
      expect((gemini.requests.at(-1)!.body as Record<string, any>).generationConfig).toMatchObject({
        responseMimeType: 'application/json',
        responseSchema: expect.objectContaining({ type: expect.stringMatching(/object/i) }),
      });

      chat.setScript(() => ({ kind: 'text', text: 'Thought about it.' }));
      const reasoned = await client.responses.create({
        model: 'local/qwen3',
        input: 'Think',
        reasoning: { effort: 'low' },
        max_output_tokens: 64,
      });
      expect(reasoned.output_text).toBe('Thought about it.');
      expect(chat.requests.at(-1)!.body).toMatchObject({
        model: 'qwen3',
        reasoning_effort: 'low',
        max_tokens: 64,
      });
    });

    it('refuses tools only OpenAI has with a 400 naming the tool type, before calling the provider', async () => {
      const before = anthropic.requests.length;
      const error = (await client.responses
        .create({ model: 'claude/claude-sonnet-4-5', input: 'Search', tools: [{ type: 'web_search' }] })
        .catch((caught: unknown) => caught)) as APIError;
      expect(error.status).toBe(400);
      expect(error.message).toContain('"web_search"');
      expect(error.message).toContain('Anthropic');
      expect(error.param).toBe('tools[0].type');
      expect(anthropic.requests.length).toBe(before);
    });

    it('ends a stream that fails after the start with the error event and response.failed, no secret', async () => {
      anthropic.setScript({
        type: 'message',
        content: [{ type: 'text', text: ['Hello', ' there', ' and', ' more'] }],
        interrupt: {
          afterEvents: 5,
          then: {
            type: 'error',
            errorType: 'overloaded_error',
            message: `Overloaded (${FAKE_ANTHROPIC_KEY})`,
          },
        },
      });
      const { events, text } = await rawEvents(gateway.server.url, alice.token, {
        model: 'claude/claude-sonnet-4-5',
        input: 'Hi',
        stream: true,
      });
      expect(text).not.toContain(FAKE_ANTHROPIC_KEY);
      expect(events.slice(-2).map((event) => event.type)).toEqual(['error', 'response.failed']);
      expect(events.map((event) => event.sequence_number)).toEqual(events.map((_, index) => index));
      expect(events.at(-2)).toMatchObject({
        code: 'overloaded',
        message: 'Overloaded ([REDACTED])',
        error: { type: 'server_error', code: 'overloaded' },
      });
      expect(events.at(-1)!.response).toMatchObject({
        status: 'failed',
        error: { code: 'overloaded', message: 'Overloaded ([REDACTED])' },
        // What had arrived before the failure.
        output: [{ type: 'message', content: [{ text: 'Hello there' }] }],
      });
      // Not stored: the failed response cannot be continued.
      const failedId = events[0]!.response.id as string;
      const error = (await client.responses
        .create({ model: 'claude/claude-sonnet-4-5', input: 'x', previous_response_id: failedId })
        .catch((caught: unknown) => caught)) as APIError;
      expect(error.code).toBe('previous_response_not_found');
    });
  });

  it('holds responses to the caller’s limits, relayed or translated: 429 in OpenAI’s envelope, nothing sent', async () => {
    const root = await gateway.user('root-r', 'admin');
    const lee = await gateway.user('lee');
    for (const credential of [
      { name: 'oa', provider: 'openai', secret: openAiKey, settings: { baseUrl: openai.url } },
      {
        name: 'claude',
        provider: 'anthropic',
        secret: FAKE_ANTHROPIC_KEY,
        settings: { baseUrl: anthropic.url },
      },
    ])
      await gateway.credential(lee.token, credential);
    const leeClient = gateway.client(lee.token);
    const limit = (body: object) =>
      gateway.call('PUT', `/api/users/${lee.id}/limits`, { token: root.token, body });
    openai.setScript(() => ({ kind: 'text', text: 'ok' }));
    anthropic.setScript({ type: 'message', content: [{ type: 'text', text: 'ok' }] });

    expect((await limit({ tokens: { amount: 300, period: 'day' } })).status).toBe(200);
    const sentBefore = [openai.requests.length, anthropic.requests.length];
    for (const model of ['oa/gpt-4.1-mini', 'claude/claude-sonnet-4-5']) {
      const refused = (await leeClient.responses
        .create({ model, input: 'Hi', max_output_tokens: 5_000 })
        .catch((caught: unknown) => caught)) as APIError;
      expect(refused, model).toBeInstanceOf(OpenAI.RateLimitError);
      expect(refused.code, model).toBe('budget_exceeded');
      expect(refused.message).toMatch(/tokens per day/);
    }
    expect([openai.requests.length, anthropic.requests.length]).toEqual(sentBefore);

    expect((await limit({ requestsPerMinute: 1 })).status).toBe(200);
    await leeClient.responses.create({ model: 'claude/claude-sonnet-4-5', input: 'Hi' });
    const rate = (await leeClient.responses
      .create({ model: 'oa/gpt-4.1-mini', input: 'Hi', stream: true })
      .catch((caught: unknown) => caught)) as APIError;
    expect(rate).toBeInstanceOf(OpenAI.RateLimitError);
    expect(rate.code).toBe('rate_limited');
    expect(Number(rate.headers?.get('retry-after'))).toBeGreaterThan(0);
  });

  it('records usage for relayed and translated responses, streamed or not', async () => {
    const uma = await gateway.user('uma');
    await gateway.credential(uma.token, {
      name: 'oa',
      provider: 'openai',
      secret: openAiKey,
      settings: { baseUrl: openai.url },
    });
    await gateway.credential(uma.token, {
      name: 'claude',
      provider: 'anthropic',
      secret: FAKE_ANTHROPIC_KEY,
      settings: { baseUrl: anthropic.url },
    });
    const umaClient = gateway.client(uma.token);
    openai.setScript(() => ({
      kind: 'text',
      text: 'counted',
      usage: { input_tokens: 30, output_tokens: 5, cached_tokens: 10 },
    }));
    await umaClient.responses.create({ model: 'oa/gpt-4.1-mini', input: 'x' });
    await drain(await umaClient.responses.create({ model: 'oa/gpt-4.1-mini', input: 'x', stream: true }));
    anthropic.setScript({
      type: 'message',
      content: [{ type: 'text', text: 'counted' }],
      usage: { input_tokens: 8, output_tokens: 3 },
    });
    await drain(
      await umaClient.responses.create({ model: 'claude/claude-sonnet-4-5', input: 'x', stream: true }),
    );
    await gateway.keyway.services.usageRecorder.flush();
    const usage = await gateway.call('GET', '/api/usage?groupBy=model', { token: uma.token });
    expect(usage.status).toBe(200);
    const rows = usage.body.rows as { key: string }[];
    expect(rows.find((row) => row.key === 'gpt-4.1-mini')).toMatchObject({
      requests: 2,
      inputTokens: 60,
      outputTokens: 10,
      cachedTokens: 20,
    });
    expect(rows.find((row) => row.key === 'claude-sonnet-4-5')).toMatchObject({
      requests: 1,
      inputTokens: 8,
      outputTokens: 3,
    });
  });
});

describe.each(BACKENDS)(
  '/v1/responses storage: owner, store: false, retrieval, deletion, expiry [%s]',
  (backend) => {
    let anthropic: FakeAnthropic;
    let gateway: GatewayHarness;
    let ann: { id: string; token: string };
    let bob: { id: string; token: string };
    let annClient: OpenAI;
    let bobClient: OpenAI;
    const model = 'claude/claude-sonnet-4-5';

    const storedRows = async () =>
      (
        await sql<{
          id: string;
          owner_id: string;
          text: string;
        }>`SELECT id, owner_id, input::text || response::text AS text FROM stored_responses`.execute(
          gateway.database.db,
        )
      ).rows;

    beforeAll(async () => {
      anthropic = await startFakeAnthropic();
      gateway = await startGatewayHarness(backend);
      ann = await gateway.user('ann');
      bob = await gateway.user('bob');
      for (const user of [ann, bob])
        await gateway.credential(user.token, {
          name: 'claude',
          provider: 'anthropic',
          secret: FAKE_ANTHROPIC_KEY,
          settings: { baseUrl: anthropic.url },
        });
      annClient = gateway.client(ann.token);
      bobClient = gateway.client(bob.token);
    });
    afterAll(async () => {
      await gateway.stop();
      await anthropic.close();
      expect(gateway.logLines.join('\n')).not.toContain(FAKE_ANTHROPIC_KEY);
    });

    it('answers GET with the stored response, to its owner only; DELETE removes it for good', async () => {
      anthropic.setScript({ type: 'message', content: [{ type: 'text', text: 'Stored answer.' }] });
      const created = await annClient.responses.create({
        model,
        input: 'Keep this',
        metadata: { topic: 'test' },
      });
      expect(created.id).toMatch(/^resp_kw[0-9a-f]{48}$/);
      expect(created.metadata).toEqual({ topic: 'test' });
      const fetched = await annClient.responses.retrieve(created.id);
      expect(fetched).toEqual(created);

      // Another user: not found, whatever the verb, and the owner's response is untouched.
      const foreign = (await bobClient.responses
        .retrieve(created.id)
        .catch((caught: unknown) => caught)) as APIError;
      expect(foreign.status).toBe(404);
      expect(foreign.message).toContain(created.id);
      const foreignDelete = await gateway.call('DELETE', `/v1/responses/${created.id}`, { token: bob.token });
      expect(foreignDelete.status).toBe(404);
      expect(foreignDelete.body.error).toMatchObject({ type: 'invalid_request_error', code: 'not_found' });
      const foreignContinue = (await bobClient.responses
        .create({ model, input: 'x', previous_response_id: created.id })
        .catch((caught: unknown) => caught)) as APIError;
      expect([foreignContinue.status, foreignContinue.code, foreignContinue.param]).toEqual([
        400,
        'previous_response_not_found',
        'previous_response_id',
      ]);
      expect((await annClient.responses.retrieve(created.id)).id).toBe(created.id);

      const deleted = await gateway.call('DELETE', `/v1/responses/${created.id}`, { token: ann.token });
      expect(deleted.status).toBe(200);
      expect(deleted.body).toEqual({ id: created.id, object: 'response.deleted', deleted: true });
      expect(deleted.headers.get('x-keyway-overhead-ms')).toMatch(/^\d+\.\d{2}$/);
      await annClient.responses.delete(created.id).then(
        () => expect.unreachable('a second delete finds nothing'),
        (error: APIError) => expect(error.status).toBe(404),
      );
      expect(
        (await annClient.responses.retrieve(created.id).catch((caught: unknown) => caught)) as APIError,
      ).toMatchObject({
        status: 404,
      });
    });

    it('does not keep a response made with store: false', async () => {
      anthropic.setScript({ type: 'message', content: [{ type: 'text', text: 'Forget me.' }] });
      const before = (await storedRows()).length;
      const created = await annClient.responses.create({ model, input: 'Secret', store: false });
      expect((created as unknown as { store: boolean }).store).toBe(false);
      expect((await storedRows()).length).toBe(before);
      expect(
        ((await annClient.responses.retrieve(created.id).catch((caught: unknown) => caught)) as APIError)
          .status,
      ).toBe(404);
      const { events } = await drain(
        await annClient.responses.create({ model, input: 'Secret', store: false, stream: true }),
      );
      expect(events.at(-1)!.type).toBe('response.completed');
      expect((await storedRows()).length).toBe(before);
    });

    it('never stores or answers the provider key it echoes, streamed or not', async () => {
      anthropic.setScript({
        type: 'message',
        content: [
          { type: 'text', text: ['key: ', FAKE_ANTHROPIC_KEY.slice(0, 9), FAKE_ANTHROPIC_KEY.slice(9), '.'] },
        ],
      });
      const whole = await annClient.responses.create({ model, input: 'Leak' });
      expect(whole.output_text).toBe('key: [REDACTED].');
      const { events } = await drain(
        await annClient.responses.create({ model, input: 'Leak', stream: true }),
      );
      const streamedId = (events.at(-1) as OpenAI.Responses.ResponseCompletedEvent).response.id;
      expect(JSON.stringify(events)).not.toContain(FAKE_ANTHROPIC_KEY);
      expect((await annClient.responses.retrieve(streamedId)).output_text).toBe('key: [REDACTED].');
      const rows = await storedRows();
      expect(rows.map((row) => row.id)).toEqual(expect.arrayContaining([whole.id, streamedId]));
      for (const row of rows) expect(row.text).not.toContain(FAKE_ANTHROPIC_KEY);
    });

    it('refuses bad input with a 4xx in OpenAI’s envelope: nothing sent, nothing stored, no secret echoed', async () => {
      const before = { rows: (await storedRows()).length, calls: anthropic.requests.length };
      const cases: [unknown, number, string | null][] = [
        [{ model, input: 5 }, 400, 'invalid_request'],
        [{ input: 'x' }, 400, 'invalid_request'],
        [{ model, input: [{ type: 'item_reference', id: 'msg_1' }] }, 400, 'upstream_unsupported'],
        [
          { model, input: [{ role: 'user', content: [{ type: 'input_audio', data: 'x' }] }] },
          400,
          'invalid_request',
        ],
        [{ model, input: 'x', tools: [{ type: 'file_search' }] }, 400, 'upstream_unsupported'],
        [{ model, input: 'x', previous_response_id: 'resp_nope' }, 400, 'previous_response_not_found'],
        [{ model, input: 'nul \u0000 here' }, 400, 'invalid_text'],
        [{ model: 'claude/unknown', input: 'x', temperature: 9 }, 400, 'invalid_request'],
        [{ model: 'nowhere/model', input: 'x' }, 404, 'model_not_found'],
        ['{"model":', 400, 'invalid_json'],
      ];
      for (const [body, status, code] of cases) {
        const answer = await gateway.call('POST', '/v1/responses', { token: ann.token, body });
        expect([answer.status, answer.body?.error?.code], JSON.stringify(body)).toEqual([status, code]);
        expect(answer.body.error).toMatchObject({
          message: expect.any(String),
          type: 'invalid_request_error',
        });
        expect(answer.text).not.toContain(FAKE_ANTHROPIC_KEY);
      }
      const unauthenticated = await gateway.call('POST', '/v1/responses', { body: { model, input: 'x' } });
      expect([unauthenticated.status, unauthenticated.body.error.code]).toEqual([401, 'invalid_api_key']);
      expect(
        (await gateway.call('GET', `/v1/responses/${'r'.repeat(300)}`, { token: ann.token })).status,
      ).toBe(400);
      expect((await storedRows()).length).toBe(before.rows);
      expect(anthropic.requests.length).toBe(before.calls);
    });

    it('forgets expired responses: unreadable at once, swept by any node, the sweep idempotent', async () => {
      anthropic.setScript({ type: 'message', content: [{ type: 'text', text: 'Short-lived.' }] });
      const created = await annClient.responses.create({ model, input: 'x' });
      const row = await sql<{
        days: number;
      }>`SELECT round(extract(epoch from expires_at - created_at) / 86400)::int AS days FROM stored_responses WHERE id = ${created.id}`.execute(
        gateway.database.db,
      );
      expect(row.rows[0]!.days).toBe(30);
      await sql`UPDATE stored_responses SET expires_at = now() - interval '1 second' WHERE id = ${created.id}`.execute(
        gateway.database.db,
      );
      expect(
        ((await annClient.responses.retrieve(created.id).catch((caught: unknown) => caught)) as APIError)
          .status,
      ).toBe(404);
      const responses = gateway.keyway.services.responses;
      const [first, second] = await Promise.all([responses.sweep(), responses.sweep()]);
      expect(first + second).toBeGreaterThanOrEqual(1);
      expect((await storedRows()).some((stored) => stored.id === created.id)).toBe(false);
      expect(await responses.sweep()).toBe(0);
    });
  },
);
