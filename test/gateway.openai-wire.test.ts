import OpenAI, { APIError } from 'openai';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeOpenAiChat, type FakeOpenAiChat } from './fakes/fake-openai-chat.ts';
import { startFakeProvider } from './fakes/fake-providers.ts';
import { fakeKey, startGatewayHarness, type GatewayHarness } from './support/gateway-harness.ts';
import { BACKENDS } from './support/test-database.ts';

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each(BACKENDS)('/v1 over an OpenAI-wire provider, with the official SDK [%s]', (backend) => {
  const key = fakeKey();
  const rotatedKey = fakeKey();
  let upstream: FakeOpenAiChat;
  let gateway: GatewayHarness;
  let alice: { id: string; token: string };
  let client: OpenAI;

  beforeAll(async () => {
    upstream = await startFakeOpenAiChat({ validKeys: [key, rotatedKey] });
  });
  afterAll(async () => {
    await upstream.close();
  });
  beforeEach(async () => {
    gateway = await startGatewayHarness(backend, { env: { KEYWAY_UPSTREAM_FIRST_BYTE_TIMEOUT: '1' } });
    alice = await gateway.user('alice');
    await gateway.credential(alice.token, {
      name: 'work',
      provider: 'openai',
      secret: key,
      settings: { baseUrl: upstream.url },
    });
    client = gateway.client(alice.token);
    upstream.requests.length = 0;
    upstream.setScript(() => ({ kind: 'text', text: 'Hello from the fake.' }));
  });
  afterEach(async () => {
    await gateway.stop();
    // Canary: whatever the test did, no provider key reached a log line (debug level included).
    const logs = gateway.logLines.join('\n');
    for (const secret of [key, rotatedKey]) expect(logs.includes(secret)).toBe(false);
  });

  it('answers a plain completion, sending the stored key and the provider model id upstream', async () => {
    const { data, response } = await client.chat.completions
      .create({ model: 'work/gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] })
      .withResponse();
    expect(data.choices[0]!.message.content).toBe('Hello from the fake.');
    expect(data.usage?.total_tokens).toBe(18);
    expect(upstream.requests[0]!.headers.authorization).toBe(`Bearer ${key}`);
    expect(upstream.requests[0]!.body.model).toBe('gpt-4o-mini');
    expect(response.headers.get('x-keyway-overhead-ms')).toMatch(/^\d+\.\d{2}$/);
    expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('passes fields Keyway does not know through unchanged', async () => {
    const extra = {
      logit_bias: { '1234': -100 },
      seed: 7,
      vendor_extension: { nested: [1, 'two', { three: null }] },
      metadata: { team: 'a' },
    };
    await client.chat.completions.create({
      model: 'work/gpt-4o',
      messages: [{ role: 'user', content: 'Hi' }],
      ...extra,
    } as OpenAI.ChatCompletionCreateParamsNonStreaming);
    const { model, messages, ...rest } = upstream.requests[0]!.body;
    expect(model).toBe('gpt-4o');
    expect(messages).toEqual([{ role: 'user', content: 'Hi' }]);
    expect(rest).toEqual(extra);
  });

  it('streams chunks as they arrive, with usage when include_usage is asked for', async () => {
    upstream.setScript(() => ({
      kind: 'text',
      text: 'one two three four five six',
      pieceSize: 4,
      delayMs: 60,
    }));
    const stream = await client.chat.completions.create({
      model: 'work/gpt-4o-mini',
      messages: [{ role: 'user', content: 'Count' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const arrivals: number[] = [];
    let text = '';
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      arrivals.push(Date.now());
      text += chunk.choices[0]?.delta.content ?? '';
      if (chunk.usage) {
        usage = chunk.usage;
        expect(chunk.choices).toEqual([]);
      }
    }
    expect(text).toBe('one two three four five six');
    expect(usage).toMatchObject({
      prompt_tokens: 11,
      completion_tokens: 7,
      prompt_tokens_details: { cached_tokens: 3 },
    });
    // Relayed as produced (7 pieces, 60 ms apart), not buffered to the end.
    expect(arrivals.at(-1)! - arrivals[0]!).toBeGreaterThan(250);
  });

  it('streams parallel tool calls that the SDK reassembles', async () => {
    upstream.setScript(() => ({
      kind: 'tools',
      calls: [
        { name: 'get_weather', arguments: '{"city":"Paris"}' },
        { name: 'get_time', arguments: '{"zone":"Europe/Paris"}' },
      ],
    }));
    const stream = client.chat.completions.stream({
      model: 'work/gpt-4o',
      messages: [{ role: 'user', content: 'Weather and time in Paris?' }],
      tools: [
        {
          type: 'function',
          function: {
            name: 'get_weather',
            parameters: { type: 'object', properties: { city: { type: 'string' } } },
          },
        },
        {
          type: 'function',
          function: {
            name: 'get_time',
            parameters: { type: 'object', properties: { zone: { type: 'string' } } },
          },
        },
      ],
    });
    const final = await stream.finalChatCompletion();
    const calls = final.choices[0]!.message.tool_calls!.map((call) =>
      call.type === 'function' ? [call.function.name, JSON.parse(call.function.arguments)] : [],
    );
    expect(calls).toEqual([
      ['get_weather', { city: 'Paris' }],
      ['get_time', { zone: 'Europe/Paris' }],
    ]);
    expect(final.choices[0]!.finish_reason).toBe('tool_calls');
  });

  it("hands a provider error before the first byte to the client in OpenAI's shape", async () => {
    upstream.setScript(() => ({
      kind: 'error',
      status: 400,
      message: "Invalid value for 'temperature'.",
      code: 'invalid_value',
    }));
    const error = await client.chat.completions
      .create({ model: 'work/gpt-4o', messages: [{ role: 'user', content: 'x' }] })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as APIError).message).toContain("Invalid value for 'temperature'.");
    expect((error as APIError).code).toBe('invalid_value');
  });

  it('scrubs the stored key from a provider error that echoes it', async () => {
    upstream.setScript(() => ({
      kind: 'error',
      status: 400,
      message: `Key ${key} is not enabled for this model.`,
    }));
    const error = (await client.chat.completions
      .create({ model: 'work/gpt-4o', messages: [{ role: 'user', content: 'x' }] })
      .catch((caught: unknown) => caught)) as APIError;
    expect(error.status).toBe(400);
    expect(error.message).toContain('Key [REDACTED] is not enabled');
    expect(error.message).not.toContain(key);
  });

  it('scrubs the stored key from a stream that echoes it, even split across network reads', async () => {
    // Each event reaches Keyway in two reads cut in its middle, so the key itself is cut in two.
    upstream.setScript(() => ({ kind: 'text', text: `echo: ${key}.`, pieceSize: 1000, splitWrites: true }));
    const stream = await client.chat.completions.create({
      model: 'work/gpt-4o',
      messages: [{ role: 'user', content: 'x' }],
      stream: true,
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe('echo: [REDACTED].');
    expect(upstream.requests[0]!.piecesSent).toBeGreaterThan(0);
  });

  it('turns a rejected stored key into 502 upstream_auth_failed that names the credential, not the key', async () => {
    await gateway.credential(alice.token, {
      name: 'stale',
      provider: 'openai',
      secret: fakeKey(),
      settings: { baseUrl: upstream.url },
    });
    const error = (await client.chat.completions
      .create({ model: 'stale/gpt-4o', messages: [{ role: 'user', content: 'x' }] })
      .catch((caught: unknown) => caught)) as APIError;
    expect(error.status).toBe(502);
    expect(error.code).toBe('upstream_auth_failed');
    expect(error.message).toContain('"stale"');
  });

  it('reports an error after the first byte as a stream error the SDK raises', async () => {
    upstream.setScript(() => ({ kind: 'break', chunks: 3, delayMs: 20 }));
    const stream = await client.chat.completions.create({
      model: 'work/gpt-4o',
      messages: [{ role: 'user', content: 'x' }],
      stream: true,
    });
    let text = '';
    const error = await (async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    })().catch((caught: unknown) => caught);
    expect(text).toBe('piece0 piece1 piece2 ');
    expect(error).toBeInstanceOf(APIError);
    expect((error as Error).message).toContain('broke off');
  });

  it('waits out a 429 retry-after before the first byte and then succeeds', async () => {
    upstream.setScript((_request, index) =>
      index === 0
        ? {
            kind: 'error',
            status: 429,
            message: 'Rate limit reached',
            type: 'requests',
            code: 'rate_limit_exceeded',
            headers: { 'retry-after': '1' },
          }
        : { kind: 'text', text: 'after the wait' },
    );
    const started = Date.now();
    const completion = await client.chat.completions.create({
      model: 'work/gpt-4o',
      messages: [{ role: 'user', content: 'x' }],
    });
    expect(completion.choices[0]!.message.content).toBe('after the wait');
    expect(upstream.requests).toHaveLength(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
  });

  it('gives up on a provider that stalls, with 504 upstream_timeout', async () => {
    upstream.setScript(() => ({ kind: 'stall' }));
    const started = Date.now();
    const error = (await client.chat.completions
      .create({ model: 'work/gpt-4o', messages: [{ role: 'user', content: 'x' }] })
      .catch((caught: unknown) => caught)) as APIError;
    expect(error.status).toBe(504);
    expect(error.code).toBe('upstream_timeout');
    // One retry of a 1 s first-byte timeout: about 2 s, well short of the SDK's own 20 s.
    expect(Date.now() - started).toBeLessThan(6_000);
  });

  it('aborts the provider request at once when the client disconnects mid-stream', async () => {
    upstream.setScript(() => ({ kind: 'text', text: 'x'.repeat(200), pieceSize: 2, delayMs: 50 }));
    const controller = new AbortController();
    const stream = await client.chat.completions.create(
      { model: 'work/gpt-4o', messages: [{ role: 'user', content: 'x' }], stream: true },
      { signal: controller.signal },
    );
    let seen = 0;
    await (async () => {
      for await (const _chunk of stream) {
        if (++seen === 3) controller.abort();
      }
    })().catch(() => {});
    const deadline = Date.now() + 2_000;
    while (!upstream.requests[0]!.aborted && Date.now() < deadline) await wait(20);
    expect(upstream.requests[0]!.aborted).toBe(true);
    expect(upstream.requests[0]!.piecesSent).toBeLessThan(20);
  });

  it('falls back to another credential when the first fails before the first byte', async () => {
    const backupUpstream = await startFakeOpenAiChat({ validKeys: [key] });
    try {
      backupUpstream.setScript(() => ({ kind: 'text', text: 'from the backup' }));
      await gateway.credential(alice.token, {
        name: 'backup',
        provider: 'openai-compatible',
        secret: key,
        settings: { baseUrl: backupUpstream.url },
      });
      upstream.setScript(() => ({ kind: 'error', status: 503, message: 'The server is overloaded.' }));
      const completion = await client.chat.completions.create(
        { model: 'work/gpt-4o', messages: [{ role: 'user', content: 'x' }] },
        { headers: { 'x-keyway-fallback-models': 'backup/local-model' } },
      );
      expect(completion.choices[0]!.message.content).toBe('from the backup');
      expect(upstream.requests).toHaveLength(2); // the first credential, retried once
      expect(backupUpstream.requests[0]!.body.model).toBe('local-model');
    } finally {
      await backupUpstream.close();
    }
  });

  it('keeps in-flight streams on the old key through a rotation and sends the new key from then on', async () => {
    upstream.setScript(() => ({ kind: 'text', text: 'a'.repeat(40), pieceSize: 2, delayMs: 30 }));
    const credential = (await gateway.call('GET', '/api/credentials', { token: alice.token })).body[0];
    const stream = await client.chat.completions.create({
      model: 'work/gpt-4o',
      messages: [{ role: 'user', content: 'x' }],
      stream: true,
    });
    const reading = (async () => {
      let text = '';
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
      return text;
    })();
    await wait(100);
    const rotated = await gateway.call('POST', `/api/credentials/${credential.id}/rotate`, {
      token: alice.token,
      body: { secret: rotatedKey },
    });
    expect(rotated.status).toBe(200);
    upstream.setScript(() => ({ kind: 'text', text: 'new key' }));
    const after = await client.chat.completions.create({
      model: 'work/gpt-4o',
      messages: [{ role: 'user', content: 'x' }],
    });
    expect(after.choices[0]!.message.content).toBe('new key');
    expect(await reading).toBe('a'.repeat(40));
    expect(upstream.requests.map((request) => request.headers.authorization)).toEqual([
      `Bearer ${key}`,
      `Bearer ${rotatedKey}`,
    ]);
  });

  it('makes no database round trip per request once warm', async () => {
    await client.chat.completions.create({
      model: 'work/gpt-4o',
      messages: [{ role: 'user', content: 'warm' }],
    });
    const before = gateway.queries.length;
    for (let i = 0; i < 10; i++)
      await client.chat.completions.create({
        model: 'work/gpt-4o',
        messages: [{ role: 'user', content: `n${i}` }],
      });
    const during = gateway.queries
      .slice(before)
      // Usage batches (with their lastUsedAt update), the bots' background sweep and knowledge ingestion are not per request.
      .filter(
        (sql) =>
          !/usage_|last_used_at = u\.at|^begin|^commit|bot_inbox|bot_outbox|knowledge_base_files/i.test(sql),
      );
    expect(during).toEqual([]);
  });

  it('records usage per request (batched) and reports it by model and credential; lastUsedAt moves', async () => {
    upstream.setScript(() => ({ kind: 'text', text: 'counted' }));
    for (let i = 0; i < 3; i++)
      await client.chat.completions.create({
        model: 'work/gpt-4o',
        messages: [{ role: 'user', content: 'x' }],
      });
    upstream.setScript(() => ({ kind: 'error', status: 400, message: 'bad' }));
    await client.chat.completions
      .create({ model: 'work/gpt-4o', messages: [{ role: 'user', content: 'x' }] })
      .catch(() => {});
    const byModel = await gateway.call('GET', '/api/usage?groupBy=model', { token: alice.token });
    expect(byModel.body.rows).toEqual([
      expect.objectContaining({
        key: 'gpt-4o',
        requests: 4,
        errors: 1,
        inputTokens: 33,
        outputTokens: 21,
        cachedTokens: 9,
      }),
    ]);
    const byCredential = await gateway.call('GET', '/api/usage?groupBy=credential', { token: alice.token });
    expect(byCredential.body.rows).toEqual([expect.objectContaining({ label: 'work', requests: 4 })]);
    const credential = (await gateway.call('GET', '/api/credentials', { token: alice.token })).body[0];
    expect(credential.lastUsedAt).not.toBeNull();
    // Another member sees none of it.
    const bob = await gateway.user('bob');
    expect((await gateway.call('GET', '/api/usage?groupBy=model', { token: bob.token })).body.rows).toEqual(
      [],
    );
    expect((await gateway.call('GET', '/api/usage?all=true', { token: bob.token })).status).toBe(403);
  });

  it('lists the models the caller may use as <credential>/<model>', async () => {
    // The chat fake does not list models: a credential whose listing fails simply contributes none.
    const models = await client.models.list();
    expect(models.data).toEqual([]);
  });

  it('retrieves one model as OpenAI does, and answers an unknown one, path or method in its envelope', async () => {
    const lister = await startFakeProvider({
      wire: 'openai',
      validKeys: [key],
      models: ['gpt-4o', 'o3-mini', 'text-embedding-3-small', 'whisper-1'],
    });
    try {
      const listed = await gateway.credential(alice.token, {
        name: 'listed',
        provider: 'openai',
        secret: key,
        settings: { baseUrl: lister.url },
      });
      const model = await client.models.retrieve('listed/o3-mini');
      expect(model).toMatchObject({ id: 'listed/o3-mini', object: 'model', owned_by: 'openai' });
      // Each model says where to send it; bots are models too.
      const bot = await gateway.call('POST', '/api/bots', {
        token: alice.token,
        body: { name: 'helper', credentialId: listed.id, model: 'gpt-4o' },
      });
      expect(bot.status, bot.text).toBe(201);
      const endpoints = Object.fromEntries(
        (await client.models.list()).data.map((entry) => [
          entry.id,
          (entry as { endpoints?: string[] }).endpoints,
        ]),
      );
      const chat = ['/v1/chat/completions', '/v1/responses', '/v1/messages'];
      expect(endpoints).toEqual({
        'listed/gpt-4o': chat,
        'listed/o3-mini': chat,
        'listed/text-embedding-3-small': ['/v1/embeddings'],
        'listed/whisper-1': ['/v1/audio/transcriptions'],
        'bot:helper': chat,
      });
      expect(await client.models.retrieve('bot:helper')).toMatchObject({
        id: 'bot:helper',
        owned_by: 'keyway',
      });
      await gateway.call('DELETE', `/api/bots/${bot.body.id}`, { token: alice.token });
      const missing = (await client.models
        .retrieve('listed/gpt-5')
        .catch((error: unknown) => error)) as APIError;
      expect(missing.status).toBe(404);
      expect(missing.error).toMatchObject({ type: 'invalid_request_error', code: 'model_not_found' });
    } finally {
      await lister.close();
    }
    for (const [method, path] of [
      ['POST', '/v1/responses-not-here'],
      ['GET', '/v1/chat/completions'],
      ['DELETE', '/v1/models'],
    ] as const) {
      const response = await fetch(`${gateway.server.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${alice.token}` },
      });
      expect(response.status, `${method} ${path}`).toBe(404);
      expect(await response.json()).toEqual({
        error: {
          message: `Invalid URL (${method} ${path}).`,
          type: 'invalid_request_error',
          param: null,
          code: 'not_found',
        },
      });
    }
  });

  it("never lets a member reach another member's credential through any model name", async () => {
    const bob = await gateway.user('bob');
    const bobClient = gateway.client(bob.token);
    for (const model of ['work/gpt-4o', 'WORK/gpt-4o', 'openai/gpt-4o']) {
      const error = (await bobClient.chat.completions
        .create({ model, messages: [{ role: 'user', content: 'x' }] })
        .catch((caught: unknown) => caught)) as APIError;
      expect([model, error.status, error.code]).toEqual([model, 404, 'model_not_found']);
    }
    expect(upstream.requests).toHaveLength(0);
    // Two own credentials for one provider: ambiguous, naming both.
    await gateway.credential(alice.token, {
      name: 'work2',
      provider: 'openai',
      secret: key,
      settings: { baseUrl: upstream.url },
    });
    const ambiguous = (await client.chat.completions
      .create({ model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'x' }] })
      .catch((caught: unknown) => caught)) as APIError;
    expect(ambiguous.status).toBe(400);
    expect(ambiguous.message).toContain('work, work2');
    // A shared credential is reachable by its provider when the caller has none of their own.
    const admin = await gateway.user('root', 'admin');
    await gateway.credential(admin.token, {
      name: 'company',
      provider: 'openai',
      secret: key,
      settings: { baseUrl: upstream.url },
      shared: true,
    });
    const viaShared = await bobClient.chat.completions.create({
      model: 'openai/gpt-4o',
      messages: [{ role: 'user', content: 'x' }],
    });
    expect(viaShared.choices[0]!.message.content).toBe('Hello from the fake.');
  });

  it("refuses missing, bad and revoked tokens, and bad bodies, in OpenAI's shape", async () => {
    const anonymous = await fetch(`${gateway.server.url}/v1/chat/completions`, {
      method: 'POST',
      body: '{}',
    });
    expect(anonymous.status).toBe(401);
    expect(((await anonymous.json()) as { error: { code: string } }).error.code).toBe('invalid_api_key');
    const broken = await fetch(`${gateway.server.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${alice.token}`, 'content-type': 'application/json' },
      body: '{"model":',
    });
    expect(broken.status).toBe(400);
    const noMessages = (await client.chat.completions
      .create({ model: 'work/x', messages: [] })
      .catch((caught: unknown) => caught)) as APIError;
    expect(noMessages.status).toBe(400);
    const noSlash = (await client.chat.completions
      .create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] })
      .catch((caught: unknown) => caught)) as APIError;
    expect([noSlash.status, noSlash.code]).toEqual([404, 'model_not_found']);
    const token = (await gateway.call('GET', '/api/tokens', { token: alice.token })).body[0];
    await gateway.call('DELETE', `/api/tokens/${token.id}`, { token: alice.token });
    const revoked = (await client.chat.completions
      .create({ model: 'work/gpt-4o', messages: [{ role: 'user', content: 'x' }] })
      .catch((caught: unknown) => caught)) as APIError;
    expect(revoked.status).toBe(401);
  });
});
