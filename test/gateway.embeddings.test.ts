import { randomBytes } from 'node:crypto';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { embedMany } from 'ai';
import OpenAI, { APIError } from 'openai';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  FAKE_GEMINI_KEY,
  fakeGeminiEmbedding,
  geminiScripts,
  startFakeGemini,
  type FakeGemini,
} from './fakes/fake-gemini.ts';
import { fakeEmbedding, startFakeOpenAiExtras, type FakeOpenAiExtras } from './fakes/fake-openai-extras.ts';
import { fakeKey, startGatewayHarness, type GatewayHarness } from './support/gateway-harness.ts';
import { BACKENDS } from './support/test-database.ts';

/** The fakes answer 8 numbers a vector unless asked for other dimensions. */
const DIMENSIONS = 8;

function decodeFloat32(base64: string): number[] {
  const bytes = Buffer.from(base64, 'base64');
  return Array.from({ length: bytes.length / 4 }, (_, index) => bytes.readFloatLE(index * 4));
}

describe.each(BACKENDS)('/v1/embeddings with the official SDKs [%s]', (backend) => {
  const key = `sk-canary-${randomBytes(16).toString('hex')}`;
  let openAiWire: FakeOpenAiExtras;
  let gemini: FakeGemini;
  let gateway: GatewayHarness;
  let alice: { id: string; token: string };
  let client: OpenAI;

  /** The two kinds of upstream: relayed as is, and translated from Gemini. */
  const upstreams = [
    {
      name: 'an OpenAI-wire provider',
      model: 'work/text-embedding-3-small',
      vector: (text: string, dimensions = DIMENSIONS) => fakeEmbedding(text, dimensions),
      /** What the provider was asked, in OpenAI's terms. */
      asked: () => {
        const request = openAiWire.requests.at(-1)!;
        return { texts: request.json!.input, dimensions: request.json!.dimensions, headers: request.headers };
      },
      answeredModel: 'text-embedding-3-small',
    },
    {
      name: 'Gemini',
      model: 'gem/gemini-embedding-001',
      vector: (text: string, dimensions = DIMENSIONS) => fakeGeminiEmbedding(text, dimensions),
      asked: () => {
        const request = gemini.requests.at(-1)!;
        const requests = (request.body as { requests: Record<string, any>[] }).requests;
        return {
          texts: requests.map((item) => item.content.parts[0].text),
          dimensions: requests[0]!.outputDimensionality,
          headers: request.headers,
        };
      },
      answeredModel: 'gem/gemini-embedding-001',
    },
  ];

  beforeAll(async () => {
    openAiWire = await startFakeOpenAiExtras({ validKeys: [key], defaultDimensions: DIMENSIONS });
    gemini = await startFakeGemini({ embeddingDimensions: DIMENSIONS });
  });
  afterAll(async () => {
    await openAiWire.close();
    await gemini.close();
  });
  beforeEach(async () => {
    gateway = await startGatewayHarness(backend);
    alice = await gateway.user('alice');
    await gateway.credential(alice.token, {
      name: 'work',
      provider: 'openai',
      secret: key,
      settings: { baseUrl: openAiWire.url },
    });
    await gateway.credential(alice.token, {
      name: 'gem',
      provider: 'google',
      secret: FAKE_GEMINI_KEY,
      settings: { baseUrl: gemini.url },
    });
    client = gateway.client(alice.token);
    openAiWire.requests.length = 0;
    gemini.requests.length = 0;
    openAiWire.setScript(() => ({ kind: 'answer' }));
    gemini.setScript(() => geminiScripts.text('unused'));
  });
  afterEach(async () => {
    await gateway.stop();
    // Canary: whatever the test did, no provider key reached a log line (debug level included).
    const logs = gateway.logLines.join('\n');
    for (const secret of [key, FAKE_GEMINI_KEY]) expect(logs.includes(secret)).toBe(false);
  });

  describe.each(upstreams)('through $name', (upstream) => {
    it('answers float vectors for a batch, in order, with usage and the overhead header', async () => {
      const texts = ['the first text', 'a second one', 'third'];
      const { data, response } = await client.embeddings
        .create({ model: upstream.model, input: texts, encoding_format: 'float' })
        .withResponse();
      expect(data.object).toBe('list');
      expect(data.model).toBe(upstream.answeredModel);
      expect(data.data.map((item) => item.index)).toEqual([0, 1, 2]);
      expect(data.data.map((item) => item.embedding)).toEqual(texts.map((text) => upstream.vector(text)));
      expect(data.usage.prompt_tokens).toBeGreaterThan(0);
      expect(upstream.asked().texts).toEqual(texts);
      expect(response.headers.get('x-keyway-overhead-ms')).toMatch(/^\d+\.\d{2}$/);
    });

    it("decodes the SDK's default base64 to the same vectors, and returns base64 as asked", async () => {
      const input = 'one text, three encodings';
      const float = await client.embeddings.create({
        model: upstream.model,
        input,
        encoding_format: 'float',
      });
      // Without encoding_format the SDK asks for base64 and decodes it itself.
      const decoded = await client.embeddings.create({ model: upstream.model, input });
      const base64 = await client.embeddings.create({
        model: upstream.model,
        input,
        encoding_format: 'base64',
      });
      expect(float.data[0]!.embedding).toEqual(upstream.vector(input));
      expect(decoded.data[0]!.embedding).toEqual(float.data[0]!.embedding);
      const raw = base64.data[0]!.embedding as unknown;
      expect(typeof raw).toBe('string');
      expect(decodeFloat32(raw as string)).toEqual(float.data[0]!.embedding);
    });

    it('passes dimensions on and answers vectors that long', async () => {
      const { data } = await client.embeddings.create({
        model: upstream.model,
        input: ['short', 'vectors'],
        dimensions: 3,
        encoding_format: 'float',
      });
      expect(data.map((item) => item.embedding)).toEqual([
        upstream.vector('short', 3),
        upstream.vector('vectors', 3),
      ]);
      expect(upstream.asked().dimensions).toBe(3);
    });

    it('serves the AI SDK (openai-compatible) embedMany', async () => {
      const keyway = createOpenAICompatible({
        name: 'keyway',
        baseURL: `${gateway.server.url}/v1`,
        apiKey: alice.token,
      });
      const values = ['sunny day at the beach', 'rainy day in the city'];
      const { embeddings, usage } = await embedMany({
        model: keyway.embeddingModel(upstream.model),
        values,
        maxRetries: 0,
      });
      expect(embeddings).toEqual(values.map((text) => upstream.vector(text)));
      expect(usage.tokens).toBeGreaterThan(0);
    });

    it('retries a 5xx and answers once the provider recovers', async () => {
      openAiWire.setScript((_, index) =>
        index === 0
          ? { kind: 'error', status: 500, message: 'The server had an error.', type: 'server_error' }
          : { kind: 'answer' },
      );
      let calls = 0;
      gemini.setScript(() => (calls++ === 0 ? geminiScripts.unavailable() : geminiScripts.text('unused')));
      const { data } = await client.embeddings.create({
        model: upstream.model,
        input: 'again',
        encoding_format: 'float',
      });
      expect(data[0]!.embedding).toEqual(upstream.vector('again'));
      expect(openAiWire.requests.length + gemini.requests.length).toBe(2);
    });
  });

  it('answers usage as the provider counted it, or estimated for Gemini, and records it per model', async () => {
    const viaWire = await client.embeddings.create({
      model: 'work/text-embedding-3-small',
      input: ['four words right here', 'two more'],
    });
    expect(viaWire.usage).toEqual({ prompt_tokens: 6, total_tokens: 6 });
    // Gemini counts nothing for embeddings: a token per 4 bytes of text (16 + 8 bytes).
    const viaGemini = await client.embeddings.create({
      model: 'gem/gemini-embedding-001',
      input: ['sixteen bytes!!!', '8 bytes!'],
    });
    expect(viaGemini.usage).toEqual({ prompt_tokens: 6, total_tokens: 6 });
    await client.embeddings.create({ model: 'gem/gemini-embedding-001', input: 'abcd' });
    const usage = await gateway.call('GET', '/api/usage?groupBy=model', { token: alice.token });
    expect(usage.body.rows).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          key: 'text-embedding-3-small',
          requests: 1,
          inputTokens: 6,
          outputTokens: 0,
        }),
        expect.objectContaining({
          key: 'gemini-embedding-001',
          requests: 2,
          inputTokens: 7,
          outputTokens: 0,
        }),
      ]),
    );
  });

  it('sends token ids through to an OpenAI-wire provider; to Gemini, which embeds text only, they are a 400, as is a batch past its 100', async () => {
    const { data } = await client.embeddings.create({
      model: 'work/text-embedding-3-small',
      input: [[1, 2, 3], [4]],
      encoding_format: 'float',
    });
    expect(data.map((item) => item.embedding)).toEqual([
      fakeEmbedding('1,2,3', DIMENSIONS),
      fakeEmbedding('4', DIMENSIONS),
    ]);
    const refused = await client.embeddings
      .create({ model: 'gem/gemini-embedding-001', input: [1, 2, 3] })
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(APIError);
    expect([(refused as APIError).status, (refused as APIError).code]).toEqual([400, 'upstream_unsupported']);
    expect((refused as APIError).message).toMatch(/Google Gemini embeds text only/);
    expect(gemini.requests).toEqual([]);
    // What Gemini itself refuses (more than 100 texts in a batch) comes back in OpenAI's envelope.
    const tooMany = await client.embeddings
      .create({
        model: 'gem/gemini-embedding-001',
        input: Array.from({ length: 101 }, (_, i) => `text ${i}`),
      })
      .catch((error: unknown) => error);
    expect(tooMany).toBeInstanceOf(APIError);
    expect((tooMany as APIError).status).toBe(400);
    expect((tooMany as APIError).message).toContain('at most 100 requests can be in one batch');
  });

  it('answers an Anthropic credential with a 400 naming the provider, without calling it', async () => {
    await gateway.credential(alice.token, {
      name: 'claude',
      provider: 'anthropic',
      secret: fakeKey('sk-ant-'),
      settings: { baseUrl: openAiWire.origin },
    });
    const refused = await client.embeddings
      .create({ model: 'claude/claude-sonnet-4-5', input: 'hi' })
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(APIError);
    expect((refused as APIError).status).toBe(400);
    expect((refused as APIError).code).toBe('upstream_unsupported');
    expect((refused as APIError).message).toMatch(/^400 Anthropic has no embeddings endpoint/);
    expect(openAiWire.requests).toEqual([]);
  });

  it("reaches Ollama's OpenAI API under /v1 of its base URL", async () => {
    await gateway.credential(alice.token, {
      name: 'local',
      provider: 'ollama',
      secret: key,
      settings: { baseUrl: openAiWire.origin },
    });
    const { data } = await client.embeddings.create({
      model: 'local/nomic-embed-text',
      input: 'x',
      encoding_format: 'float',
    });
    expect(data[0]!.embedding).toEqual(fakeEmbedding('x', DIMENSIONS));
    expect(openAiWire.requests.at(-1)!.path).toBe('/v1/embeddings');
    expect(openAiWire.requests.at(-1)!.json!.model).toBe('nomic-embed-text');
  });

  it("refuses bad input in OpenAI's envelope, calling no provider", async () => {
    const post = (body: unknown, token: string | null = alice.token) =>
      gateway.call('POST', '/v1/embeddings', { ...(token ? { token } : {}), body });
    const cases: [unknown, number, string, string | null][] = [
      [{ model: 'work/text-embedding-3-small' }, 400, 'invalid_request', 'input'],
      [{ model: 'work/text-embedding-3-small', input: [{ text: 'x' }] }, 400, 'invalid_request', 'input'],
      [
        { model: 'work/text-embedding-3-small', input: 'x', encoding_format: 'int8' },
        400,
        'invalid_request',
        'encoding_format',
      ],
      [
        { model: 'work/text-embedding-3-small', input: 'x', dimensions: -1 },
        400,
        'invalid_request',
        'dimensions',
      ],
      ['{"model": "work/x", "input": ', 400, 'invalid_json', null],
      [{ model: 'nowhere/x', input: 'x' }, 404, 'model_not_found', null],
      [{ model: 'bot:helper', input: 'x' }, 400, 'invalid_request', 'model'],
    ];
    for (const [body, status, code, param] of cases) {
      const response = await post(body);
      expect(
        [response.status, response.body?.error?.code, response.body?.error?.param],
        JSON.stringify(body),
      ).toEqual([status, code, param]);
      expect(response.body.error.type).toBe('invalid_request_error');
      expect(response.headers.get('x-keyway-overhead-ms')).toMatch(/^\d+\.\d{2}$/);
      expect(response.text.includes(key)).toBe(false);
    }
    const anonymous = await post({ model: 'work/text-embedding-3-small', input: 'x' }, null);
    expect([anonymous.status, anonymous.body.error.code]).toEqual([401, 'invalid_api_key']);
    expect(openAiWire.requests).toEqual([]);
    expect(gemini.requests).toEqual([]);
  });

  it('never lets the key the provider echoes reach the client, in an answer or an error', async () => {
    openAiWire.setScript(() => ({ kind: 'answer', echoKey: true }));
    const echoed = await gateway.call('POST', '/v1/embeddings', {
      token: alice.token,
      body: { model: 'work/text-embedding-3-small', input: 'x' },
    });
    expect(echoed.status).toBe(200);
    expect(echoed.body.model).toBe('text-embedding-3-small-[REDACTED]');
    openAiWire.setScript(() => ({ kind: 'error', status: 400, message: 'Bad input', echoKey: true }));
    const failed = await gateway.call('POST', '/v1/embeddings', {
      token: alice.token,
      body: { model: 'work/text-embedding-3-small', input: 'x' },
    });
    expect(failed.status).toBe(400);
    expect(failed.body.error.message).toContain('[REDACTED]');
    for (const text of [echoed.text, failed.text]) expect(text.includes(key)).toBe(false);
  });

  it('holds embeddings to the limits: a per-minute limit, and a token allowance the input cannot fit', async () => {
    const root = await gateway.user('root', 'admin');
    const setLimits = async (limits: object) => {
      const response = await gateway.call('PUT', `/api/users/${alice.id}/limits`, {
        token: root.token,
        body: limits,
      });
      expect(response.status, response.text).toBe(200);
    };
    await setLimits({ requestsPerMinute: 1 });
    await client.embeddings.create({ model: 'work/text-embedding-3-small', input: 'first' });
    const second = await client.embeddings
      .create({ model: 'gem/gemini-embedding-001', input: 'second' })
      .catch((error: unknown) => error);
    expect(second).toBeInstanceOf(APIError);
    expect([(second as APIError).status, (second as APIError).code]).toEqual([429, 'rate_limited']);

    await setLimits({ tokens: { amount: 50, period: 'day' } });
    const tooLong = await client.embeddings
      .create({ model: 'work/text-embedding-3-small', input: 'x'.repeat(200) })
      .catch((error: unknown) => error);
    expect(tooLong).toBeInstanceOf(APIError);
    expect([(tooLong as APIError).status, (tooLong as APIError).code]).toEqual([429, 'budget_exceeded']);
    expect(openAiWire.requests).toHaveLength(1);
    expect(gemini.requests).toEqual([]);
    // What fits still passes.
    await client.embeddings.create({ model: 'work/text-embedding-3-small', input: 'fits' });
    expect(openAiWire.requests).toHaveLength(2);
  });
});
