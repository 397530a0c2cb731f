import { describe, expect, it } from 'vitest';
import { KeywayError } from '../../errors.ts';
import { createDefaultRegistry, effectiveBaseUrl } from '../../providers/registry.ts';
import type { ExchangeTarget } from '../exchange.ts';
import { embeddingsBound, embeddingsExchange, embeddingsRequestSchema, float32Base64 } from './embeddings.ts';

const providers = createDefaultRegistry();

function target(
  providerId: string,
  settings: Record<string, unknown> = {},
  model = 'text-embedding-3-small',
): ExchangeTarget {
  const provider = providers.get(providerId)!;
  return {
    credentialId: 'cred-1',
    model,
    provider,
    secret: 'key-123',
    settings,
    baseUrl: effectiveBaseUrl(provider, settings),
  };
}

function build(body: Record<string, unknown>, to: ExchangeTarget) {
  return embeddingsExchange(embeddingsRequestSchema.parse(body)).build(to);
}

function decodeFloat32(base64: string): number[] {
  const bytes = Buffer.from(base64, 'base64');
  return Array.from({ length: bytes.length / 4 }, (_, index) => bytes.readFloatLE(index * 4));
}

describe('embeddingsRequestSchema', () => {
  it("accepts OpenAI's four input shapes and keeps fields it does not know", () => {
    for (const input of ['one', ['one', 'two'], [1, 2, 3], [[1, 2], [3]]])
      expect(embeddingsRequestSchema.safeParse({ model: 'm', input }).success).toBe(true);
    expect(embeddingsRequestSchema.parse({ model: 'm', input: 'x', vendor: { a: 1 } })).toMatchObject({
      vendor: { a: 1 },
    });
  });

  it('refuses what no provider takes', () => {
    for (const body of [
      { model: 'm' },
      { model: 'm', input: 5 },
      { model: 'm', input: [] },
      { model: 'm', input: ['a', 1] },
      { model: 'm', input: [1.5] },
      { model: 'm', input: 'x', encoding_format: 'int8' },
      { model: 'm', input: 'x', dimensions: 0 },
      { model: '', input: 'x' },
    ])
      expect(embeddingsRequestSchema.safeParse(body).success, JSON.stringify(body)).toBe(false);
  });
});

describe('embeddings to OpenAI-wire providers', () => {
  it('sends the body as it came but for the model, with the key as Bearer, and reads usage.prompt_tokens', () => {
    const body = {
      model: 'work/text-embedding-3-small',
      input: ['a', 'b'],
      dimensions: 64,
      user: 'u',
      extra: 1,
    };
    const call = build(body, target('openai', { organization: 'org-1' }));
    expect(call.url).toBe('https://api.openai.com/v1/embeddings');
    expect(call.headers).toEqual({
      'content-type': 'application/json',
      authorization: 'Bearer key-123',
      'openai-organization': 'org-1',
    });
    expect(JSON.parse(call.body as string)).toEqual({ ...body, model: 'text-embedding-3-small' });
    expect(call.reshape).toBeUndefined();
    const answer = '{"object":"list","data":[],"model":"m","usage":{"prompt_tokens":12,"total_tokens":12}}';
    expect(call.usageOfWhole(answer)).toEqual({ inputTokens: 12, outputTokens: 0, cachedTokens: 0 });
    expect(call.usageOfWhole('{"data":[]}')).toBeNull();
  });

  it("reaches Mistral at its base URL and Ollama's OpenAI API under /v1", () => {
    expect(build({ model: 'm', input: 'x' }, target('mistral')).url).toBe(
      'https://api.mistral.ai/v1/embeddings',
    );
    const ollama = build({ model: 'm', input: 'x' }, target('ollama', { baseUrl: 'http://127.0.0.1:11434' }));
    expect(ollama.url).toBe('http://127.0.0.1:11434/v1/embeddings');
  });

  it("addresses Azure's deployment the model names (not the chat deployment), with api-key", () => {
    const call = build(
      { model: 'az/embed-prod', input: 'x' },
      target(
        'azure-openai',
        { endpoint: 'https://res.openai.azure.com', deployment: 'chat-4o', apiVersion: '2024-10-21' },
        'embed-prod',
      ),
    );
    expect(call.url).toBe(
      'https://res.openai.azure.com/openai/deployments/embed-prod/embeddings?api-version=2024-10-21',
    );
    expect(call.headers).toEqual({ 'content-type': 'application/json', 'api-key': 'key-123' });
  });

  it('refuses Anthropic with a 400 naming it', () => {
    let error: unknown;
    try {
      build({ model: 'claude/x', input: 'x' }, target('anthropic'));
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(KeywayError);
    expect((error as KeywayError).code).toBe('upstream_unsupported');
    expect((error as KeywayError).status).toBe(400);
    expect((error as KeywayError).message).toMatch(/^Anthropic has no embeddings endpoint/);
  });
});

describe('embeddings to Gemini', () => {
  const gemini = target('google', {}, 'gemini-embedding-001');

  it('asks batchEmbedContents for one embedding per input, with the key in a header and the dimensions', () => {
    const call = build({ model: 'g/gemini-embedding-001', input: ['a', 'b'], dimensions: 256 }, gemini);
    expect(call.url).toBe(
      'https://generativelanguage.googleapis.com/v1beta/models/gemini-embedding-001:batchEmbedContents',
    );
    expect(call.headers).toEqual({ 'content-type': 'application/json', 'x-goog-api-key': 'key-123' });
    expect(JSON.parse(call.body as string)).toEqual({
      requests: ['a', 'b'].map((text) => ({
        model: 'models/gemini-embedding-001',
        content: { parts: [{ text }] },
        outputDimensionality: 256,
      })),
    });
  });

  it("reshapes the answer into OpenAI's list with the client's model name and an estimated usage", () => {
    const call = build({ model: 'g/gemini-embedding-001', input: ['hello', 'worlds!!'] }, gemini);
    const answer = JSON.stringify({ embeddings: [{ values: [0.5, -0.25] }, { values: [1, 0] }] });
    expect(JSON.parse(call.reshape!(answer))).toEqual({
      object: 'list',
      data: [
        { object: 'embedding', index: 0, embedding: [0.5, -0.25] },
        { object: 'embedding', index: 1, embedding: [1, 0] },
      ],
      model: 'g/gemini-embedding-001',
      usage: { prompt_tokens: 4, total_tokens: 4 },
    });
    expect(call.usageOfWhole(answer)).toEqual({ inputTokens: 4, outputTokens: 0, cachedTokens: 0 });
  });

  it('encodes base64 as OpenAI does: little-endian float32 bytes', () => {
    const call = build({ model: 'g/m', input: 'x', encoding_format: 'base64' }, gemini);
    const values = [0.1, -2.5, 3.25];
    const reshaped = JSON.parse(call.reshape!(JSON.stringify({ embeddings: [{ values }] })));
    expect(decodeFloat32(reshaped.data[0].embedding)).toEqual(values.map(Math.fround));
    expect(float32Base64([1])).toBe(Buffer.from([0, 0, 0x80, 0x3f]).toString('base64'));
  });

  it('refuses token ids (Gemini embeds text) and an answer of the wrong length', () => {
    expect(() => build({ model: 'g/m', input: [1, 2, 3] }, gemini)).toThrow(/embeds text only/);
    expect(() => build({ model: 'g/m', input: [[1], [2]] }, gemini)).toThrow(KeywayError);
    const call = build({ model: 'g/m', input: ['a', 'b'] }, gemini);
    expect(() => call.reshape!(JSON.stringify({ embeddings: [{ values: [1] }] }))).toThrow();
    expect(() => call.reshape!('{"error":{}}')).toThrow();
  });
});

describe('embeddingsBound', () => {
  it('bounds the input by its size in bytes, or by its count of token ids; no output', () => {
    expect(embeddingsBound('héllo')).toEqual({ inputTokens: 8, outputTokens: 0, likelyInputTokens: 2 });
    expect(embeddingsBound([[1, 2], [3]])).toEqual({ inputTokens: 3, outputTokens: 0, likelyInputTokens: 3 });
    expect(embeddingsBound([7, 8])).toMatchObject({ inputTokens: 2 });
  });
});
