import Anthropic, { APIError } from '@anthropic-ai/sdk';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FAKE_ANTHROPIC_KEY, startFakeAnthropic, type FakeAnthropic } from './fakes/fake-anthropic.ts';
import { FAKE_GEMINI_KEY, geminiScripts, startFakeGemini, type FakeGemini } from './fakes/fake-gemini.ts';
import { startFakeOpenAiChat, type FakeOpenAiChat } from './fakes/fake-openai-chat.ts';
import { fakeKey, startGatewayHarness, type GatewayHarness } from './support/gateway-harness.ts';

/*
 * `/v1/messages` as Anthropic-format clients use it: the official `@anthropic-ai/sdk` pointed at the
 * bare Keyway origin with a Keyway token as its API key, against fake upstreams that speak each
 * provider's real wire format — Anthropic (relayed as it is), OpenAI and Gemini (translated).
 */

const OPENAI_KEY = fakeKey();
const PNG_1PX =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';

const weatherTools: Anthropic.Tool[] = [
  {
    name: 'get_weather',
    description: 'Weather for a city',
    input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
  {
    name: 'get_time',
    description: 'Local time in a zone',
    input_schema: { type: 'object', properties: { zone: { type: 'string' } }, required: ['zone'] },
  },
];

/** For calls that must fail: their success fails the test. */
const succeeded = (): never => {
  throw new Error('expected the call to fail');
};

/** The three routes a Messages request can take, by model name. */
const UPSTREAMS = [
  { name: 'Anthropic (pass-through)', model: 'claude/claude-sonnet-4-5' },
  { name: 'OpenAI (translated)', model: 'work/gpt-4o' },
  { name: 'Gemini (translated)', model: 'gem/gemini-2.5-flash' },
] as const;

describe('/v1/messages with the official Anthropic SDK [embedded]', () => {
  let anthropic: FakeAnthropic;
  let openai: FakeOpenAiChat;
  let gemini: FakeGemini;
  let gateway: GatewayHarness;
  let ann: { id: string; token: string };
  let root: { id: string; token: string };
  let client: Anthropic;
  const secrets = () => [FAKE_ANTHROPIC_KEY, OPENAI_KEY, FAKE_GEMINI_KEY, ann.token, root.token];

  const sdk = (token: string) =>
    new Anthropic({ apiKey: token, baseURL: gateway.server.url, maxRetries: 0, timeout: 20_000 });

  /** Stores the three credentials for a user. */
  async function credentials(token: string) {
    await gateway.credential(token, {
      name: 'claude',
      provider: 'anthropic',
      secret: FAKE_ANTHROPIC_KEY,
      settings: { baseUrl: anthropic.url },
    });
    await gateway.credential(token, {
      name: 'work',
      provider: 'openai',
      secret: OPENAI_KEY,
      settings: { baseUrl: openai.url },
    });
    await gateway.credential(token, {
      name: 'gem',
      provider: 'google',
      secret: FAKE_GEMINI_KEY,
      settings: { baseUrl: gemini.url },
    });
  }

  /** A raw request, for what SDKs never send (bad JSON, wrong methods, `x-api-key`). */
  async function raw(
    method: string,
    path: string,
    options: { body?: string; headers?: Record<string, string> } = {},
  ) {
    const response = await fetch(`${gateway.server.url}${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...options.headers },
      ...(options.body !== undefined ? { body: options.body } : {}),
    });
    const text = await response.text();
    for (const secret of secrets()) expect(text).not.toContain(secret);
    return { status: response.status, headers: response.headers, text, body: JSON.parse(text) };
  }

  /** The caller's usage rows by model, once `requests` of them are recorded (written in batches). */
  async function usageByModel(token: string, model: string, requests: number) {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const usage = await gateway.call('GET', '/api/usage?groupBy=model', { token });
      const row = usage.body.rows.find((candidate: { key: string }) => candidate.key === model);
      if (row?.requests >= requests) return row;
      if (Date.now() > deadline) throw new Error(`usage: ${JSON.stringify(usage.body.rows)}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  beforeAll(async () => {
    anthropic = await startFakeAnthropic();
    openai = await startFakeOpenAiChat({ validKeys: [OPENAI_KEY] });
    gemini = await startFakeGemini();
    gateway = await startGatewayHarness('embedded', { env: { KEYWAY_BODY_LIMIT: '65536' } });
    root = await gateway.user('root', 'admin');
    ann = await gateway.user('ann');
    await credentials(ann.token);
    client = sdk(ann.token);
  });
  afterAll(async () => {
    await gateway.stop();
    await Promise.all([anthropic.close(), openai.close(), gemini.close()]);
    // Canary: no provider key and no Keyway token reached a log line (debug level included).
    const logs = gateway.logLines.join('\n');
    for (const secret of [FAKE_ANTHROPIC_KEY, OPENAI_KEY, FAKE_GEMINI_KEY])
      expect(logs).not.toContain(secret);
  });
  beforeEach(() => {
    anthropic.setScript({ type: 'message', content: [{ type: 'text', text: 'Hello from Claude.' }] });
    openai.setScript(() => ({ kind: 'text', text: 'Hello from the fake.' }));
    gemini.setScript(() => geminiScripts.text('Hello from Gemini.'));
  });

  it('serves a bot on /v1/messages and /v1/responses: its prompt first, its credential answering', async () => {
    const bo = await gateway.user('bo');
    const claude = await gateway.credential(bo.token, {
      name: 'claude',
      provider: 'anthropic',
      secret: FAKE_ANTHROPIC_KEY,
      settings: { baseUrl: anthropic.url },
    });
    const bot = await gateway.call('POST', '/api/bots', {
      token: bo.token,
      body: {
        name: 'helper',
        credentialId: claude.id,
        model: 'claude-sonnet-4-5',
        systemPrompt: 'You are Helper.',
      },
    });
    expect(bot.status, bot.text).toBe(201);
    anthropic.setScript({ type: 'message', content: [{ type: 'text', text: 'Helper here.' }] });

    const message = await sdk(bo.token).messages.create({
      model: 'bot:helper',
      max_tokens: 64,
      messages: [{ role: 'user', content: 'Who are you?' }],
    });
    expect(message).toMatchObject({ model: 'bot:helper', content: [{ type: 'text', text: 'Helper here.' }] });
    const sent = anthropic.requests.at(-1)!.body as { model: string; system?: unknown; messages: unknown[] };
    expect(sent.model).toBe('claude-sonnet-4-5');
    expect(JSON.stringify(sent.system)).toContain('You are Helper.');

    const response = await gateway
      .client(bo.token)
      .responses.create({ model: 'bot:helper', input: 'Again?' });
    expect(response.output_text).toBe('Helper here.');
    expect(JSON.stringify((anthropic.requests.at(-1)!.body as { system?: unknown }).system)).toContain(
      'You are Helper.',
    );
  });

  it.each(UPSTREAMS)('answers messages.create through $name', async ({ model }) => {
    const { data: message, response } = await client.messages
      .create({
        model,
        max_tokens: 100,
        system: 'Be brief.',
        messages: [{ role: 'user', content: 'Hi' }],
      })
      .withResponse();
    expect(message.type).toBe('message');
    expect(message.role).toBe('assistant');
    expect(message.id).toMatch(/^msg_/);
    expect(message.stop_reason).toBe('end_turn');
    expect(message.content).toEqual([{ type: 'text', text: expect.stringMatching(/^Hello from/) }]);
    expect(message.usage.input_tokens).toBeGreaterThan(0);
    expect(message.usage.output_tokens).toBeGreaterThan(0);
    expect(response.headers.get('x-keyway-overhead-ms')).toMatch(/^\d+\.\d{2}$/);
    if (model.startsWith('work/')) {
      expect(message.model).toBe('work/gpt-4o');
      expect(openai.requests.at(-1)!.body).toMatchObject({
        model: 'gpt-4o',
        max_completion_tokens: 100,
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'Hi' },
        ],
      });
      expect(openai.requests.at(-1)!.headers.authorization).toBe(`Bearer ${OPENAI_KEY}`);
    }
    if (model.startsWith('gem/')) {
      expect(message.model).toBe('gem/gemini-2.5-flash');
      expect(gemini.requests.at(-1)!.body).toMatchObject({
        systemInstruction: { parts: [{ text: 'Be brief.' }] },
        contents: [{ role: 'user', parts: [{ text: 'Hi' }] }],
        generationConfig: { maxOutputTokens: 100 },
      });
    }
  });

  it('relays a request to Anthropic untouched but for the model: cache_control, thinking, unknown fields, the real key and the client’s headers', async () => {
    const params = {
      model: 'claude/claude-sonnet-4-5',
      max_tokens: 2048,
      system: [{ type: 'text', text: 'Long, cached rules.', cache_control: { type: 'ephemeral' } }],
      thinking: { type: 'enabled', budget_tokens: 1024 },
      messages: [
        { role: 'user', content: 'Think about it.' },
        {
          role: 'assistant',
          content: [
            { type: 'thinking', thinking: 'Considering.', signature: 'EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxB' },
            { type: 'redacted_thinking', data: 'EmwKAhgBEgy3va3pzix/LafPsn4a' },
            { type: 'text', text: 'Done thinking.' },
          ],
        },
        {
          role: 'user',
          content: [{ type: 'text', text: 'And now?', cache_control: { type: 'ephemeral', ttl: '1h' } }],
        },
      ],
      // A field newer than Keyway: it must still reach Anthropic.
      context_management: { edits: [{ type: 'clear_tool_uses_20250919' }] },
    };
    anthropic.setScript({
      type: 'message',
      content: [
        { type: 'thinking', thinking: 'Fine.' },
        { type: 'text', text: 'Now this.' },
      ],
    });
    const message = await client.messages.create(
      params as unknown as Anthropic.MessageCreateParamsNonStreaming,
      {
        headers: { 'anthropic-beta': 'context-management-2025-06-27' },
      },
    );
    // The answer comes back as Anthropic sent it, thinking block and signature included.
    expect(message.content.map((block) => block.type)).toEqual(['thinking', 'text']);
    const sent = anthropic.requests.at(-1)!;
    expect(sent.path).toBe('/v1/messages');
    expect(sent.body).toEqual({ ...params, model: 'claude-sonnet-4-5' });
    expect(sent.headers['x-api-key']).toBe(FAKE_ANTHROPIC_KEY);
    expect(sent.headers.authorization).toBeUndefined();
    expect(JSON.stringify(sent.headers)).not.toContain(ann.token);
    expect(sent.headers['anthropic-beta']).toBe('context-management-2025-06-27');
    // The SDK's own version is forwarded; a client that sends none gets Keyway's default.
    expect(sent.headers['anthropic-version']).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    const bare = await raw('POST', '/v1/messages', {
      headers: { 'x-api-key': ann.token },
      body: JSON.stringify({
        model: 'claude/claude-sonnet-4-5',
        max_tokens: 10,
        messages: [{ role: 'user', content: 'Hi' }],
      }),
    });
    expect(bare.status).toBe(200);
    expect(anthropic.requests.at(-1)!.headers['anthropic-version']).toBe('2023-06-01');
  });

  it.each(UPSTREAMS)(
    'streams parallel tool use with messages.stream, then answers the tool_result turn, through $name',
    async ({ model }) => {
      anthropic.setScript((request) =>
        JSON.stringify(request.body).includes('tool_result')
          ? { type: 'message', content: [{ type: 'text', text: 'Sunny, and it is noon.' }] }
          : {
              type: 'message',
              content: [
                { type: 'text', text: 'Checking both.' },
                { type: 'tool_use', name: 'get_weather', input: { city: 'Paris' } },
                { type: 'tool_use', name: 'get_time', input: { zone: 'Europe/Paris' } },
              ],
              eventDelayMs: 2,
            },
      );
      openai.setScript((request) =>
        (request.body.messages as { role: string }[]).some((message) => message.role === 'tool')
          ? { kind: 'text', text: 'Sunny, and it is noon.' }
          : {
              kind: 'tools',
              calls: [
                { name: 'get_weather', arguments: '{"city":"Paris"}' },
                { name: 'get_time', arguments: '{"zone":"Europe/Paris"}' },
              ],
            },
      );
      gemini.setScript((request) =>
        JSON.stringify(request.body).includes('functionResponse')
          ? geminiScripts.text('Sunny, and it is noon.')
          : geminiScripts.functionCalls(
              [
                { name: 'get_weather', args: { city: 'Paris' } },
                { name: 'get_time', args: { zone: 'Europe/Paris' } },
              ],
              'Checking both.',
            ),
      );
      const question: Anthropic.MessageParam = { role: 'user', content: 'Weather and time in Paris?' };
      const stream = client.messages.stream({
        model,
        max_tokens: 500,
        tools: weatherTools,
        messages: [question],
      });
      const seen: string[] = [];
      for await (const event of stream) {
        if (event.type === 'content_block_start')
          seen.push(`start ${event.index} ${event.content_block.type}`);
        else if (event.type === 'content_block_stop') seen.push(`stop ${event.index}`);
        else if (event.type !== 'content_block_delta') seen.push(event.type);
      }
      const first = await stream.finalMessage();
      const tools = first.content.filter((block) => block.type === 'tool_use');
      expect(tools.map((block) => [block.name, block.input])).toEqual([
        ['get_weather', { city: 'Paris' }],
        ['get_time', { zone: 'Europe/Paris' }],
      ]);
      expect(first.stop_reason).toBe('tool_use');
      // One block at a time, indexes counted over every block, as Anthropic streams them.
      const blocks = first.content.length;
      expect(seen).toEqual([
        'message_start',
        ...first.content.flatMap((block, index) => [`start ${index} ${block.type}`, `stop ${index}`]),
        'message_delta',
        'message_stop',
      ]);
      expect(blocks).toBeGreaterThanOrEqual(2);
      expect(first.usage.output_tokens).toBeGreaterThan(0);

      const second = await client.messages
        .stream({
          model,
          max_tokens: 500,
          tools: weatherTools,
          messages: [
            question,
            { role: 'assistant', content: first.content },
            {
              role: 'user',
              content: [
                { type: 'tool_result', tool_use_id: tools[0]!.id, content: 'Sunny, 24°C' },
                {
                  type: 'tool_result',
                  tool_use_id: tools[1]!.id,
                  content: [{ type: 'text', text: '12:00' }],
                },
              ],
            },
          ],
        })
        .finalMessage();
      expect(second.content).toEqual([{ type: 'text', text: 'Sunny, and it is noon.' }]);
      expect(second.stop_reason).toBe('end_turn');

      if (model.startsWith('claude/')) {
        const sent = anthropic.requests.at(-1)!.body as { messages: { content: unknown }[] };
        expect(sent.messages[2]!.content).toEqual([
          { type: 'tool_result', tool_use_id: tools[0]!.id, content: 'Sunny, 24°C' },
          { type: 'tool_result', tool_use_id: tools[1]!.id, content: [{ type: 'text', text: '12:00' }] },
        ]);
      }
      if (model.startsWith('work/')) {
        expect(openai.requests.at(-1)!.body.messages).toEqual([
          { role: 'user', content: 'Weather and time in Paris?' },
          {
            role: 'assistant',
            content: null,
            tool_calls: tools.map((tool) => ({
              id: tool.id,
              type: 'function',
              function: { name: tool.name, arguments: JSON.stringify(tool.input) },
            })),
          },
          { role: 'tool', tool_call_id: tools[0]!.id, content: 'Sunny, 24°C' },
          { role: 'tool', tool_call_id: tools[1]!.id, content: '12:00' },
        ]);
      }
      if (model.startsWith('gem/')) {
        const contents = (gemini.requests.at(-1)!.body as { contents: { role: string; parts: object[] }[] })
          .contents;
        expect(contents.at(-1)).toMatchObject({
          role: 'user',
          parts: [{ functionResponse: { name: 'get_weather' } }, { functionResponse: { name: 'get_time' } }],
        });
      }
    },
  );

  it.each(UPSTREAMS)('sends images, base64 and by URL, through $name', async ({ model }) => {
    const content: Anthropic.ContentBlockParam[] = [
      { type: 'text', text: 'What is in these?' },
      { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG_1PX } },
      { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } },
    ];
    const message = await client.messages.create({
      model,
      max_tokens: 50,
      messages: [{ role: 'user', content }],
    });
    expect(message.content[0]).toMatchObject({ type: 'text' });
    if (model.startsWith('claude/'))
      expect((anthropic.requests.at(-1)!.body as { messages: unknown[] }).messages).toEqual([
        { role: 'user', content },
      ]);
    if (model.startsWith('work/'))
      expect(openai.requests.at(-1)!.body.messages).toEqual([
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is in these?' },
            { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG_1PX}` } },
            { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg' } },
          ],
        },
      ]);
    if (model.startsWith('gem/'))
      expect(gemini.requests.at(-1)!.body).toMatchObject({
        contents: [
          {
            role: 'user',
            parts: [
              { text: 'What is in these?' },
              { inlineData: { mimeType: 'image/png', data: PNG_1PX } },
              { fileData: { fileUri: 'https://example.com/cat.jpg' } },
            ],
          },
        ],
      });
  });

  it('counts tokens at Anthropic and at Gemini, and answers a clear 400 naming the provider elsewhere', async () => {
    anthropic.setScript({ type: 'message', usage: { input_tokens: 42 } });
    const counted = await client.messages.countTokens({
      model: 'claude/claude-sonnet-4-5',
      system: 'Be brief.',
      messages: [{ role: 'user', content: 'How many tokens is this?' }],
      tools: weatherTools,
    });
    expect(counted).toEqual({ input_tokens: 42 });
    const sent = anthropic.requests.at(-1)!;
    expect(sent.path).toBe('/v1/messages/count_tokens');
    expect(sent.headers['x-api-key']).toBe(FAKE_ANTHROPIC_KEY);
    expect(sent.body).toMatchObject({ model: 'claude-sonnet-4-5', system: 'Be brief.' });

    // Gemini counts the request translated as it would be generated, system prompt included.
    const geminiCount = await client.messages.countTokens({
      model: 'gem/gemini-2.5-flash',
      system: 'Be brief.',
      messages: [{ role: 'user', content: 'How many tokens is this?' }],
    });
    // The fake counts one token per four characters: "Be brief." (3) + the question (6).
    expect(geminiCount).toEqual({ input_tokens: 9 });
    const counting = gemini.requests.at(-1)!;
    expect(counting.path).toBe('/v1beta/models/gemini-2.5-flash:countTokens');
    expect(counting.headers['x-goog-api-key']).toBe(FAKE_GEMINI_KEY);
    expect(counting.body).toMatchObject({
      generateContentRequest: {
        model: 'models/gemini-2.5-flash',
        systemInstruction: { parts: [{ text: 'Be brief.' }] },
        contents: [{ role: 'user', parts: [{ text: 'How many tokens is this?' }] }],
      },
    });

    const before = openai.requests.length;
    const error = await client.messages
      .countTokens({ model: 'work/gpt-4o', messages: [{ role: 'user', content: 'Hi' }] })
      .then(succeeded, (caught: unknown) => caught);
    expect(error).toBeInstanceOf(Anthropic.BadRequestError);
    expect((error as APIError).error).toEqual({
      type: 'error',
      error: {
        type: 'invalid_request_error',
        message:
          'OpenAI has no token counting endpoint: /v1/messages/count_tokens works with Anthropic and Gemini credentials.',
      },
    });
    expect(openai.requests.length).toBe(before);
  });

  it('answers bad input on both routes with a 4xx in Anthropic’s envelope, calling no provider and echoing no secret', async () => {
    const calls = () => anthropic.requests.length + openai.requests.length + gemini.requests.length;
    const before = calls();
    const auth = { authorization: `Bearer ${ann.token}` };
    const valid = {
      model: 'claude/claude-sonnet-4-5',
      max_tokens: 10,
      messages: [{ role: 'user', content: 'Hi' }],
    };
    const deep = `${'['.repeat(200)}${']'.repeat(200)}`;
    const cases: [string, string, { body?: string; headers?: Record<string, string> }, number, string][] = [
      ['POST', '/v1/messages', { headers: auth, body: '{"model":' }, 400, 'invalid_request_error'],
      [
        'POST',
        '/v1/messages',
        { headers: auth, body: `{"model":"x","messages":${deep}}` },
        400,
        'invalid_request_error',
      ],
      [
        'POST',
        '/v1/messages',
        { headers: auth, body: JSON.stringify({ ...valid, max_tokens: undefined }) },
        400,
        'invalid_request_error',
      ],
      [
        'POST',
        '/v1/messages',
        { headers: auth, body: JSON.stringify({ ...valid, messages: [{ role: 'system', content: 'x' }] }) },
        400,
        'invalid_request_error',
      ],
      [
        'POST',
        '/v1/messages',
        { headers: auth, body: JSON.stringify({ ...valid, model: 'nowhere/claude' }) },
        404,
        'not_found_error',
      ],
      [
        'POST',
        '/v1/messages',
        { headers: auth, body: JSON.stringify({ ...valid, pad: 'x'.repeat(70_000) }) },
        413,
        'request_too_large',
      ],
      [
        'POST',
        '/v1/messages',
        { headers: { 'x-api-key': 'kw_not-a-token' }, body: JSON.stringify(valid) },
        401,
        'authentication_error',
      ],
      ['POST', '/v1/messages', { body: JSON.stringify(valid) }, 401, 'authentication_error'],
      ['GET', '/v1/messages', { headers: auth }, 404, 'not_found_error'],
      ['POST', '/v1/messages/batches', { headers: auth, body: '{}' }, 404, 'not_found_error'],
      [
        'POST',
        '/v1/messages/count_tokens',
        { headers: auth, body: JSON.stringify({ model: 'claude/x' }) },
        400,
        'invalid_request_error',
      ],
      ['POST', '/v1/messages/count_tokens', { headers: auth, body: 'nope' }, 400, 'invalid_request_error'],
      [
        'POST',
        '/v1/messages/count_tokens',
        { headers: { 'x-api-key': `${ann.token}x` }, body: JSON.stringify(valid) },
        401,
        'authentication_error',
      ],
    ];
    for (const [method, path, options, status, type] of cases) {
      const answer = await raw(method, path, options);
      expect([method, path, answer.status, answer.body.type, answer.body.error?.type]).toEqual([
        method,
        path,
        status,
        'error',
        type,
      ]);
      expect(typeof answer.body.error.message).toBe('string');
      expect(answer.headers.get('x-keyway-overhead-ms')).not.toBeNull();
    }
    // The bodies name the field at fault.
    const missing = await raw('POST', '/v1/messages', {
      headers: auth,
      body: JSON.stringify({ ...valid, max_tokens: undefined }),
    });
    expect(missing.body.error.message).toContain('max_tokens');
    expect(calls()).toBe(before);
    // Other /v1 paths keep OpenAI's envelope.
    const other = await raw('GET', '/v1/nothing', { headers: auth });
    expect(other.body.error).toMatchObject({ type: 'invalid_request_error', code: 'not_found' });
    // What a translation cannot carry is refused, naming the provider.
    const serverTool = await client.messages
      .create({
        model: 'work/gpt-4o',
        max_tokens: 10,
        messages: [{ role: 'user', content: 'Search' }],
        tools: [{ type: 'web_search_20250305', name: 'web_search' }],
      })
      .then(succeeded, (caught: unknown) => caught as APIError);
    expect([serverTool.status, serverTool.type]).toEqual([400, 'invalid_request_error']);
    expect(serverTool.message).toContain('OpenAI cannot take them');
  });

  it('answers a node that is not ready in Anthropic’s envelope on /v1/messages, OpenAI’s elsewhere', async () => {
    gateway.keyway.readiness.markNotReady('shutting down');
    try {
      const body = JSON.stringify({
        model: 'work/gpt-4o',
        max_tokens: 5,
        messages: [{ role: 'user', content: 'Hi' }],
      });
      const messages = await raw('POST', '/v1/messages', { headers: { 'x-api-key': ann.token }, body });
      expect([messages.status, messages.body.type, messages.body.error.type]).toEqual([
        503,
        'error',
        'api_error',
      ]);
      expect(messages.body.error.message).toContain('not ready');
      const chat = await raw('POST', '/v1/chat/completions', { headers: { 'x-api-key': ann.token }, body });
      expect([chat.status, chat.body.error.code]).toEqual([503, 'not_ready']);
    } finally {
      gateway.keyway.readiness.markReady();
    }
  });

  it('stops the provider at once when the client leaves a translated stream', async () => {
    openai.setScript(() => ({
      kind: 'text',
      text: 'a slow answer that goes on and on',
      pieceSize: 2,
      delayMs: 40,
    }));
    const controller = new AbortController();
    const stream = client.messages.stream(
      { model: 'work/gpt-4o', max_tokens: 50, messages: [{ role: 'user', content: 'Hi' }] },
      { signal: controller.signal },
    );
    for await (const event of stream) if (event.type === 'content_block_delta') break;
    controller.abort();
    const upstream = openai.requests.at(-1)!;
    const deadline = Date.now() + 5_000;
    while (!upstream.aborted && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 10));
    expect(upstream.aborted).toBe(true);
    expect(upstream.piecesSent).toBeLessThan(10);
  });

  it('relays Anthropic’s own error with its status and type, the key scrubbed from its message', async () => {
    anthropic.setScript({
      type: 'error',
      status: 400,
      errorType: 'invalid_request_error',
      message: `messages.0: bad block (key ${FAKE_ANTHROPIC_KEY})`,
    });
    const error = await client.messages
      .create({
        model: 'claude/claude-sonnet-4-5',
        max_tokens: 10,
        messages: [{ role: 'user', content: 'Hi' }],
      })
      .then(succeeded, (caught: unknown) => caught as APIError);
    expect(error).toBeInstanceOf(Anthropic.BadRequestError);
    expect(error.error).toEqual({
      type: 'error',
      error: { type: 'invalid_request_error', message: 'messages.0: bad block (key [REDACTED])' },
    });
    anthropic.setScript({ type: 'error', status: 529, errorType: 'overloaded_error', message: 'Overloaded' });
    const overloaded = await client.messages
      .create({
        model: 'claude/claude-sonnet-4-5',
        max_tokens: 10,
        messages: [{ role: 'user', content: 'Hi' }],
      })
      .then(succeeded, (caught: unknown) => caught as APIError);
    expect([overloaded.status, overloaded.type]).toEqual([529, 'overloaded_error']);
  });

  it('never lets a stored key echoed by the provider reach the client, whole or streamed, split across reads', async () => {
    const echo = `Your key is ${FAKE_ANTHROPIC_KEY}, keep it safe.`;
    anthropic.setScript({ type: 'message', content: [{ type: 'text', text: [echo] }], splitWritesMs: 15 });
    const request = {
      model: 'claude/claude-sonnet-4-5',
      max_tokens: 50,
      messages: [{ role: 'user' as const, content: 'Key?' }],
    };
    const whole = await client.messages.create(request);
    expect(whole.content).toEqual([{ type: 'text', text: 'Your key is [REDACTED], keep it safe.' }]);
    const streamed = await client.messages.stream(request).finalMessage();
    expect(streamed.content).toEqual([{ type: 'text', text: 'Your key is [REDACTED], keep it safe.' }]);

    // Translated: OpenAI's stream, with the key cut in two network writes and across chunks.
    openai.setScript(() => ({
      kind: 'text',
      text: `Your key is ${OPENAI_KEY}.`,
      pieceSize: 7,
      splitWrites: true,
    }));
    const events: string[] = [];
    const translated = client.messages.stream({ ...request, model: 'work/gpt-4o' });
    for await (const event of translated) events.push(JSON.stringify(event));
    const message = await translated.finalMessage();
    expect(message.content).toEqual([{ type: 'text', text: 'Your key is [REDACTED].' }]);
    expect(events.join('')).not.toContain(OPENAI_KEY);
  });

  it('ends a translated stream that breaks off with Anthropic’s error event', async () => {
    openai.setScript(() => ({ kind: 'break', chunks: 2 }));
    const stream = client.messages.stream({
      model: 'work/gpt-4o',
      max_tokens: 50,
      messages: [{ role: 'user', content: 'Hi' }],
    });
    let text = '';
    stream.on('text', (delta) => (text += delta));
    const error = await stream.finalMessage().then(succeeded, (caught: unknown) => caught as APIError);
    expect(error).toBeInstanceOf(APIError);
    expect(error.error).toMatchObject({ type: 'error', error: { type: 'api_error' } });
    expect(text).toBe('piece0 piece1 ');
  });

  it('records usage with input, output and cached tokens, for whole and streamed answers on every route', async () => {
    const uma = await gateway.user('uma');
    await credentials(uma.token);
    const umaClient = sdk(uma.token);
    const request = { max_tokens: 50, messages: [{ role: 'user' as const, content: 'Count me' }] };
    const usage = {
      input_tokens: 20,
      output_tokens: 6,
      cache_read_input_tokens: 100,
      cache_creation_input_tokens: 4,
    };
    // Whole, today's cumulative stream and an older output-only stream: 3 × (124 in, 6 out, 100 cached).
    anthropic.setScript({ type: 'message', usage });
    await umaClient.messages.create({ ...request, model: 'claude/claude-sonnet-4-5' });
    await umaClient.messages.stream({ ...request, model: 'claude/claude-sonnet-4-5' }).finalMessage();
    anthropic.setScript({ type: 'message', usage, deltaUsage: 'output-only' });
    await umaClient.messages.stream({ ...request, model: 'claude/claude-sonnet-4-5' }).finalMessage();
    // count_tokens is recorded as a request that generated nothing.
    await umaClient.messages.countTokens({ model: 'claude/claude-sonnet-4-5', messages: request.messages });
    expect(await usageByModel(uma.token, 'claude-sonnet-4-5', 4)).toMatchObject({
      requests: 4,
      errors: 0,
      inputTokens: 372,
      outputTokens: 18,
      cachedTokens: 300,
    });
    // Translated: the fake OpenAI reports 11 in (3 cached), 7 out; streamed answers ask for it.
    await umaClient.messages.create({ ...request, model: 'work/gpt-4o' });
    const streamed = await umaClient.messages.stream({ ...request, model: 'work/gpt-4o' }).finalMessage();
    expect(streamed.usage).toMatchObject({ input_tokens: 8, cache_read_input_tokens: 3, output_tokens: 7 });
    expect(await usageByModel(uma.token, 'gpt-4o', 2)).toMatchObject({
      requests: 2,
      inputTokens: 22,
      outputTokens: 14,
      cachedTokens: 6,
    });
  });

  it('refuses a request past a limit in Anthropic’s envelope: rate_limit_error, with retry-after for a rate', async () => {
    const lim = await gateway.user('lim');
    await credentials(lim.token);
    const limClient = sdk(lim.token);
    const set = await gateway.call('PUT', `/api/users/${lim.id}/limits`, {
      token: root.token,
      body: { tokens: { amount: 500, period: 'day' } },
    });
    expect(set.status, set.text).toBe(200);
    const request = {
      model: 'claude/claude-sonnet-4-5',
      max_tokens: 5_000,
      messages: [{ role: 'user' as const, content: 'Hi' }],
    };
    const budget = await limClient.messages
      .create(request)
      .then(succeeded, (caught: unknown) => caught as APIError);
    expect(budget).toBeInstanceOf(Anthropic.RateLimitError);
    expect(budget.error).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } });
    expect((budget.error as { error: { message: string } }).error.message).toMatch(/limit|budget|allowance/i);

    await gateway.call('PUT', `/api/users/${lim.id}/limits`, {
      token: root.token,
      body: { requestsPerMinute: 1 },
    });
    await limClient.messages.create({ ...request, max_tokens: 10 });
    const rate = await limClient.messages
      .create({ ...request, max_tokens: 10, model: 'work/gpt-4o' })
      .then(succeeded, (caught: unknown) => caught as APIError);
    expect(rate).toBeInstanceOf(Anthropic.RateLimitError);
    expect(rate.error).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } });
    expect(Number(rate.headers?.get('retry-after'))).toBeGreaterThan(0);
  });
});
