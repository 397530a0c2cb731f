import OpenAI, { APIError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAKE_ANTHROPIC_KEY, startFakeAnthropic, type FakeAnthropic } from './fakes/fake-anthropic.ts';
import { FAKE_GEMINI_KEY, geminiScripts, startFakeGemini, type FakeGemini } from './fakes/fake-gemini.ts';
import { startGatewayHarness, type GatewayHarness } from './support/gateway-harness.ts';

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const weatherTools: OpenAI.ChatCompletionTool[] = [
  {
    type: 'function',
    function: {
      name: 'get_weather',
      description: 'Weather for a city',
      parameters: {
        type: 'object',
        properties: { city: { type: 'string' } },
        required: ['city'],
        additionalProperties: false,
      },
    },
  },
  {
    type: 'function',
    function: {
      name: 'get_time',
      description: 'Local time',
      parameters: {
        type: 'object',
        properties: { zone: { type: ['string', 'null'] } },
        required: ['zone'],
        additionalProperties: false,
      },
    },
  },
];

/** Reads a stream to the end: the text, the tool calls by index, the usage chunk, and any error raised. */
async function drain(stream: AsyncIterable<OpenAI.ChatCompletionChunk>) {
  let text = '';
  let role: string | undefined;
  let finish: string | null = null;
  let usage: OpenAI.CompletionUsage | null = null;
  const calls: { id?: string; name?: string; arguments: string }[] = [];
  let error: unknown;
  try {
    for await (const chunk of stream) {
      if (chunk.usage) usage = chunk.usage;
      const choice = chunk.choices[0];
      if (!choice) continue;
      role ??= choice.delta.role;
      text += choice.delta.content ?? '';
      finish = choice.finish_reason ?? finish;
      for (const call of choice.delta.tool_calls ?? []) {
        const entry = (calls[call.index] ??= { arguments: '' });
        if (call.id) entry.id = call.id;
        if (call.function?.name) entry.name = call.function.name;
        entry.arguments += call.function?.arguments ?? '';
      }
    }
  } catch (caught) {
    error = caught;
  }
  return { text, role, finish, usage, calls, error };
}

describe('/v1 translated to Anthropic Messages, with the official SDK [embedded]', () => {
  let upstream: FakeAnthropic;
  let gateway: GatewayHarness;
  let client: OpenAI;

  beforeAll(async () => {
    upstream = await startFakeAnthropic();
    gateway = await startGatewayHarness('embedded', { env: { KEYWAY_UPSTREAM_FIRST_BYTE_TIMEOUT: '1' } });
    const user = await gateway.user('ann');
    await gateway.credential(user.token, {
      name: 'claude',
      provider: 'anthropic',
      secret: FAKE_ANTHROPIC_KEY,
      settings: { baseUrl: upstream.url },
    });
    client = gateway.client(user.token);
  });
  afterAll(async () => {
    await gateway.stop();
    await upstream.close();
  });

  it('answers a completion with system messages, the key in x-api-key and usage with cached tokens', async () => {
    upstream.setScript({
      type: 'message',
      content: [{ type: 'text', text: 'Bonjour.' }],
      usage: {
        input_tokens: 20,
        output_tokens: 4,
        cache_read_input_tokens: 100,
        cache_creation_input_tokens: 5,
      },
    });
    const completion = await client.chat.completions.create({
      model: 'claude/claude-sonnet-4-5',
      messages: [
        { role: 'system', content: 'Answer in French.' },
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hello' },
      ],
    });
    expect(completion.choices[0]!.message.content).toBe('Bonjour.');
    expect(completion.choices[0]!.finish_reason).toBe('stop');
    expect(completion.usage).toMatchObject({
      prompt_tokens: 125,
      completion_tokens: 4,
      total_tokens: 129,
      prompt_tokens_details: { cached_tokens: 100 },
    });
    const sent = upstream.requests.at(-1)!;
    expect(sent.path).toBe('/v1/messages');
    expect(sent.headers['x-api-key']).toBe(FAKE_ANTHROPIC_KEY);
    expect(sent.body).toMatchObject({
      model: 'claude-sonnet-4-5',
      system: 'Answer in French.\n\nBe brief.',
      messages: [{ role: 'user', content: 'Hello' }],
    });
  });

  it('scrubs the stored key from translated answers, streamed and not', async () => {
    upstream.setScript({
      type: 'message',
      content: [{ type: 'text', text: [`key: ${FAKE_ANTHROPIC_KEY}.`] }],
    });
    const completion = await client.chat.completions.create({
      model: 'claude/claude-sonnet-4-5',
      messages: [{ role: 'user', content: 'Hello' }],
    });
    expect(completion.choices[0]!.message.content).toBe('key: [REDACTED].');
    const streamed = await drain(
      await client.chat.completions.create({
        model: 'claude/claude-sonnet-4-5',
        messages: [{ role: 'user', content: 'Hello' }],
        stream: true,
      }),
    );
    expect(streamed.text).toBe('key: [REDACTED].');
  });

  it('streams text with the role first and parallel tool calls indexed from 0 after a text block, plus the usage chunk', async () => {
    upstream.setScript({
      type: 'message',
      content: [
        { type: 'text', text: 'Let me check both.' },
        { type: 'tool_use', name: 'get_weather', input: { city: 'Paris' } },
        { type: 'tool_use', name: 'get_time', input: { zone: 'Europe/Paris' } },
      ],
      usage: { input_tokens: 50, output_tokens: 30, cache_read_input_tokens: 10 },
      eventDelayMs: 5,
    });
    const result = await drain(
      await client.chat.completions.create({
        model: 'claude/claude-sonnet-4-5',
        messages: [{ role: 'user', content: 'Weather and time in Paris?' }],
        tools: weatherTools,
        stream: true,
        stream_options: { include_usage: true },
      }),
    );
    expect(result.error).toBeUndefined();
    expect(result.role).toBe('assistant');
    expect(result.text).toBe('Let me check both.');
    expect(result.calls.map((call) => [call.name, JSON.parse(call.arguments)])).toEqual([
      ['get_weather', { city: 'Paris' }],
      ['get_time', { zone: 'Europe/Paris' }],
    ]);
    expect(result.calls.every((call) => call.id?.startsWith('toolu_'))).toBe(true);
    expect(result.finish).toBe('tool_calls');
    expect(result.usage).toMatchObject({
      prompt_tokens: 60,
      completion_tokens: 30,
      prompt_tokens_details: { cached_tokens: 10 },
    });
  });

  it('sends a multi-turn conversation with tool results in the shape Anthropic accepts', async () => {
    upstream.setScript({ type: 'message', content: [{ type: 'text', text: 'Sunny and noon.' }] });
    const completion = await client.chat.completions.create({
      model: 'claude/claude-sonnet-4-5',
      tools: weatherTools,
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: 'Weather and time in Paris?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              id: 'toolu_01A',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
            },
            {
              id: 'toolu_01B',
              type: 'function',
              function: { name: 'get_time', arguments: '{"zone":"Europe/Paris"}' },
            },
          ],
        },
        { role: 'tool', tool_call_id: 'toolu_01A', content: 'sunny' },
        { role: 'tool', tool_call_id: 'toolu_01B', content: '12:00' },
      ],
    });
    // The fake refuses what Anthropic refuses (orphan tool results, two user turns in a row): this passed.
    expect(completion.choices[0]!.message.content).toBe('Sunny and noon.');
    const messages = (
      upstream.requests.at(-1)!.body as {
        messages: { role: string; content: { type: string; tool_use_id?: string }[] }[];
      }
    ).messages;
    expect(messages.map((message) => message.role)).toEqual(['user', 'assistant', 'user']);
    expect(messages[2]!.content.map((block) => [block.type, block.tool_use_id])).toEqual([
      ['tool_result', 'toolu_01A'],
      ['tool_result', 'toolu_01B'],
    ]);
  });

  it('maps an error event after HTTP 200 to a stream error the SDK raises', async () => {
    upstream.setScript({
      type: 'message',
      content: [{ type: 'text', text: 'one two three four five' }],
      interrupt: {
        afterEvents: 4,
        then: { type: 'error', errorType: 'overloaded_error', message: 'Overloaded' },
      },
    });
    const result = await drain(
      await client.chat.completions.create({
        model: 'claude/claude-sonnet-4-5',
        messages: [{ role: 'user', content: 'x' }],
        stream: true,
      }),
    );
    expect(result.text.length).toBeGreaterThan(0);
    expect(result.error).toBeInstanceOf(APIError);
    expect((result.error as Error).message).toContain('Overloaded');
  });

  it('retries a 429 after its retry-after, and answers a rejected key with 502 naming the credential', async () => {
    upstream.setScript((_request, index) =>
      index === 0
        ? {
            type: 'error',
            status: 429,
            errorType: 'rate_limit_error',
            message: 'Number of requests has exceeded your rate limit',
            headers: { 'retry-after': '1' },
          }
        : { type: 'message', content: [{ type: 'text', text: 'ok' }] },
    );
    const started = Date.now();
    expect(
      (
        await client.chat.completions.create({
          model: 'claude/claude-sonnet-4-5',
          messages: [{ role: 'user', content: 'x' }],
        })
      ).choices[0]!.message.content,
    ).toBe('ok');
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);

    const owner = await gateway.user('bea');
    await gateway.credential(owner.token, {
      name: 'wrong',
      provider: 'anthropic',
      secret: 'sk-ant-not-the-right-one',
      settings: { baseUrl: upstream.url },
    });
    const error = (await gateway
      .client(owner.token)
      .chat.completions.create({
        model: 'wrong/claude-sonnet-4-5',
        messages: [{ role: 'user', content: 'x' }],
      })
      .catch((caught: unknown) => caught)) as APIError;
    expect([error.status, error.code]).toEqual([502, 'upstream_auth_failed']);
    expect(error.message).not.toContain('sk-ant-not-the-right-one');
  });

  it('times out a stalled provider and aborts the provider at once when the client leaves mid-stream', async () => {
    upstream.setScript({ type: 'stall', phase: 'before-headers' });
    const stalled = (await client.chat.completions
      .create({ model: 'claude/claude-sonnet-4-5', messages: [{ role: 'user', content: 'x' }] })
      .catch((caught: unknown) => caught)) as APIError;
    expect(stalled.status).toBe(504);

    upstream.setScript({
      type: 'message',
      content: [{ type: 'text', text: Array.from({ length: 200 }, (_, i) => `w${i}`).join(' ') }],
      eventDelayMs: 30,
    });
    const controller = new AbortController();
    const stream = await client.chat.completions.create(
      { model: 'claude/claude-sonnet-4-5', messages: [{ role: 'user', content: 'x' }], stream: true },
      { signal: controller.signal },
    );
    let seen = 0;
    await (async () => {
      for await (const _chunk of stream) if (++seen === 3) controller.abort();
    })().catch(() => {});
    const request = upstream.requests.at(-1)!;
    const deadline = Date.now() + 2_000;
    while (!request.aborted && Date.now() < deadline) await wait(20);
    expect(request.aborted).toBe(true);
  });

  it('refuses what Anthropic cannot express with a 400, not a 500', async () => {
    const error = (await client.chat.completions
      .create({
        model: 'claude/claude-sonnet-4-5',
        messages: [{ role: 'function', name: 'f', content: 'x' } as never],
      })
      .catch((caught: unknown) => caught)) as APIError;
    expect(error.status).toBe(400);
  });
});

describe('/v1 translated to Google Gemini, with the official SDK [embedded]', () => {
  let upstream: FakeGemini;
  let gateway: GatewayHarness;
  let client: OpenAI;

  beforeAll(async () => {
    upstream = await startFakeGemini();
    gateway = await startGatewayHarness('embedded', { env: { KEYWAY_UPSTREAM_FIRST_BYTE_TIMEOUT: '1' } });
    const user = await gateway.user('gus');
    await gateway.credential(user.token, {
      name: 'gemini',
      provider: 'google',
      secret: FAKE_GEMINI_KEY,
      settings: { baseUrl: upstream.url },
    });
    client = gateway.client(user.token);
  });
  afterAll(async () => {
    await gateway.stop();
    await upstream.close();
  });

  it('answers a completion with the key only in a header and the system prompt as systemInstruction', async () => {
    upstream.setScript(() =>
      geminiScripts.text('Hola.', {
        promptTokenCount: 12,
        candidatesTokenCount: 2,
        cachedContentTokenCount: 8,
      }),
    );
    const completion = await client.chat.completions.create({
      model: 'gemini/gemini-2.5-flash',
      messages: [
        { role: 'system', content: 'Spanish only.' },
        { role: 'user', content: 'Hi' },
      ],
    });
    expect(completion.choices[0]!.message.content).toBe('Hola.');
    expect(completion.usage).toMatchObject({
      prompt_tokens: 12,
      completion_tokens: 2,
      prompt_tokens_details: { cached_tokens: 8 },
    });
    const sent = upstream.requests.at(-1)!;
    expect(sent.path).toBe('/v1beta/models/gemini-2.5-flash:generateContent');
    expect(sent.headers['x-goog-api-key']).toBe(FAKE_GEMINI_KEY);
    expect(sent.path).not.toContain(FAKE_GEMINI_KEY);
    expect(sent.body).toMatchObject({
      systemInstruction: { parts: [{ text: 'Spanish only.' }] },
      contents: [{ role: 'user', parts: [{ text: 'Hi' }] }],
    });
  });

  it('streams text, then parallel function calls indexed 0 and 1 with whole arguments, with the usage chunk', async () => {
    upstream.setScript(() => ({
      ...geminiScripts.functionCalls(
        [
          { name: 'get_weather', args: { city: 'Paris' } },
          { name: 'get_time', args: { zone: 'Europe/Paris' } },
        ],
        'Checking.',
      ),
      usage: { promptTokenCount: 40, candidatesTokenCount: 9 },
    }));
    const result = await drain(
      await client.chat.completions.create({
        model: 'gemini/gemini-2.5-flash',
        messages: [{ role: 'user', content: 'Weather and time?' }],
        tools: weatherTools,
        stream: true,
        stream_options: { include_usage: true },
      }),
    );
    expect(result.error).toBeUndefined();
    expect(result.role).toBe('assistant');
    expect(result.text).toBe('Checking.');
    expect(result.calls.map((call) => [call.name, JSON.parse(call.arguments)])).toEqual([
      ['get_weather', { city: 'Paris' }],
      ['get_time', { zone: 'Europe/Paris' }],
    ]);
    expect(result.finish).toBe('tool_calls');
    expect(result.usage).toMatchObject({ prompt_tokens: 40, completion_tokens: 9 });
    // Gemini's schema subset: what Gemini rejects never reaches it.
    const declared = JSON.stringify((upstream.requests.at(-1)!.body as { tools: unknown }).tools);
    expect(declared).not.toContain('additionalProperties');
    expect(declared).toContain('"nullable":true');
    expect(upstream.requests.at(-1)!.path).toContain(':streamGenerateContent?alt=sse');
  });

  it('relays streamed text as it arrives', async () => {
    upstream.setScript(() => geminiScripts.streamedText(['a', 'b', 'c', 'd', 'e'], 80));
    const arrivals: number[] = [];
    let text = '';
    for await (const chunk of await client.chat.completions.create({
      model: 'gemini/gemini-2.5-flash',
      messages: [{ role: 'user', content: 'x' }],
      stream: true,
    })) {
      const piece = chunk.choices[0]?.delta.content;
      if (piece) {
        arrivals.push(Date.now());
        text += piece;
      }
    }
    expect(text).toBe('abcde');
    expect(arrivals.at(-1)! - arrivals[0]!).toBeGreaterThan(250);
  });

  it('retries a 429 RESOURCE_EXHAUSTED after retry-after, and maps an invalid key to 502 without the key', async () => {
    let calls = 0;
    upstream.setScript(() => (calls++ === 0 ? geminiScripts.rateLimited(1) : geminiScripts.text('after')));
    expect(
      (
        await client.chat.completions.create({
          model: 'gemini/gemini-2.5-flash',
          messages: [{ role: 'user', content: 'x' }],
        })
      ).choices[0]!.message.content,
    ).toBe('after');
    expect(calls).toBe(2);

    const owner = await gateway.user('gia');
    const wrongKey = `AIza-wrong-${'x'.repeat(30)}`;
    await gateway.credential(owner.token, {
      name: 'bad',
      provider: 'google',
      secret: wrongKey,
      settings: { baseUrl: upstream.url },
    });
    const error = (await gateway
      .client(owner.token)
      .chat.completions.create({ model: 'bad/gemini-2.5-flash', messages: [{ role: 'user', content: 'x' }] })
      .catch((caught: unknown) => caught)) as APIError;
    expect(error.status).toBe(502);
    expect(error.message).not.toContain(wrongKey);
  });

  it('maps an error inside a 200 stream to a stream error the SDK raises', async () => {
    upstream.setScript(() => ({
      kind: 'reply',
      chunks: [{ text: 'partial ' }],
      streamError: {
        code: 503,
        message: 'The model is overloaded. Please try again later.',
        status: 'UNAVAILABLE',
      },
    }));
    const result = await drain(
      await client.chat.completions.create({
        model: 'gemini/gemini-2.5-flash',
        messages: [{ role: 'user', content: 'x' }],
        stream: true,
      }),
    );
    expect(result.text).toBe('partial ');
    expect(result.error).toBeInstanceOf(APIError);
    expect((result.error as Error).message).toContain('overloaded');
  });

  it('aborts the provider request when the client leaves mid-stream', async () => {
    upstream.setScript(() =>
      geminiScripts.streamedText(
        Array.from({ length: 100 }, (_, i) => `p${i} `),
        30,
      ),
    );
    const controller = new AbortController();
    const stream = await client.chat.completions.create(
      { model: 'gemini/gemini-2.5-flash', messages: [{ role: 'user', content: 'x' }], stream: true },
      { signal: controller.signal },
    );
    let seen = 0;
    await (async () => {
      for await (const _chunk of stream) if (++seen === 3) controller.abort();
    })().catch(() => {});
    const request = upstream.requests.at(-1)!;
    const deadline = Date.now() + 2_000;
    while (!request.aborted && Date.now() < deadline) await wait(20);
    expect(request.aborted).toBe(true);
  });

  it('never writes a provider key to the log', () => {
    const lines = gateway.logLines.join('\n');
    expect(lines.length).toBeGreaterThan(0);
    expect(lines).not.toContain(FAKE_GEMINI_KEY);
  });
});
