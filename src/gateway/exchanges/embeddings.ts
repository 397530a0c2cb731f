import { z } from 'zod';
import { KeywayError } from '../../errors.ts';
import type { RequestBound } from '../../limits/spend-guard.ts';
import type { TokenCounts } from '../../usage/prices.ts';
import { googleAdapter } from '../adapters/google.ts';
import { translateOpenAiWireError, usageIn } from '../adapters/openai-wire.ts';
import type { Exchange, ExchangeCall, ExchangeTarget } from '../exchange.ts';
import { openAiWireEndpoint } from './openai-wire-endpoint.ts';

/*
 * `POST /v1/embeddings` in OpenAI's shape, to every provider that embeds: OpenAI-wire providers
 * (OpenAI, Mistral, Ollama, Azure, any OpenAI-compatible server) get the body as sent with only
 * `model` replaced and their answer goes back as it is; Gemini gets `batchEmbedContents` and its
 * answer is reshaped into OpenAI's list, base64 included.
 */

const tokenIds = z.array(z.number().int().nonnegative()).min(1);

/** OpenAI's embeddings request, read loosely: fields Keyway does not know go through to OpenAI-wire providers. */
export const embeddingsRequestSchema = z.looseObject({
  model: z.string().min(1),
  input: z.union(
    [z.string(), z.array(z.string()).min(1), tokenIds, z.array(tokenIds).min(1)],
    'input must be a string, an array of strings, an array of token ids or an array of such arrays.',
  ),
  encoding_format: z.enum(['float', 'base64']).optional(),
  dimensions: z.number().int().positive().optional(),
  user: z.string().optional(),
});
export type EmbeddingsRequest = z.infer<typeof embeddingsRequestSchema>;

/** One embeddings request as an exchange: a whole JSON answer, nothing streamed. */
export function embeddingsExchange(request: EmbeddingsRequest): Exchange {
  return {
    endpoint: '/v1/embeddings',
    model: request.model,
    stream: false,
    bound: () => embeddingsBound(request.input),
    build: (target) => buildEmbeddingsCall(request, target),
  };
}

/** The most an embeddings request can use: its input (a token is at least a byte); no output. */
export function embeddingsBound(input: EmbeddingsRequest['input']): RequestBound {
  if (typeof input !== 'string' && typeof input[0] !== 'string') {
    // Token ids are counted as they are.
    const count = (input as (number | number[])[]).reduce<number>(
      (sum, item) => sum + (Array.isArray(item) ? item.length : 1),
      0,
    );
    return { inputTokens: count, outputTokens: 0, likelyInputTokens: count };
  }
  const bytes = Buffer.byteLength(JSON.stringify(input));
  return { inputTokens: bytes, outputTokens: 0, likelyInputTokens: Math.ceil(bytes / 4) };
}

function buildEmbeddingsCall(request: EmbeddingsRequest, target: ExchangeTarget): ExchangeCall {
  switch (target.provider.wire) {
    case 'openai':
    case 'ollama':
    case 'azure-openai':
      return openAiWireEmbeddings(request, target);
    case 'google':
      return geminiEmbeddings(request, target);
    default:
      throw new KeywayError(
        'upstream_unsupported',
        `${target.provider.label} has no embeddings endpoint: use a credential of OpenAI, Azure OpenAI, Mistral, Ollama, Google Gemini or an OpenAI-compatible server.`,
        { details: { param: 'model' } },
      );
  }
}

function openAiWireEmbeddings(request: EmbeddingsRequest, target: ExchangeTarget): ExchangeCall {
  return {
    ...openAiWireEndpoint(target, '/embeddings', 'application/json'),
    body: JSON.stringify({ ...request, model: target.model }),
    translateError: translateOpenAiWireError,
    usageOfWhole: (text) => {
      const usage = usageIn(text);
      return usage ? { inputTokens: usage.prompt_tokens, outputTokens: 0, cachedTokens: 0 } : null;
    },
  };
}

const geminiAnswerSchema = z.object({
  embeddings: z.array(z.object({ values: z.array(z.number()) })),
});

/**
 * Gemini's `batchEmbedContents`, one request per input. Gemini counts no tokens for embeddings, so
 * usage is an estimate: a token per 4 bytes of text (recorded, and reported in the answer's `usage`).
 */
function geminiEmbeddings(request: EmbeddingsRequest, target: ExchangeTarget): ExchangeCall {
  const { input } = request;
  const texts = typeof input === 'string' ? [input] : input;
  if (!texts.every((text) => typeof text === 'string')) {
    throw new KeywayError(
      'upstream_unsupported',
      `${target.provider.label} embeds text only: send input as text, not token ids.`,
      { details: { param: 'input' } },
    );
  }
  const model = target.model.replace(/^models\//, '');
  const requests = texts.map((text) => ({
    model: `models/${model}`,
    content: { parts: [{ text }] },
    ...(request.dimensions === undefined ? {} : { outputDimensionality: request.dimensions }),
  }));
  const base = target.baseUrl.replace(/\/v1beta$/, '');
  // The key goes in a header only: URLs end up in logs, proxies and error messages.
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (target.secret !== null) headers['x-goog-api-key'] = target.secret;
  const promptTokens = texts.reduce((sum, text) => sum + Math.ceil(Buffer.byteLength(text) / 4), 0);
  const usage: TokenCounts = { inputTokens: promptTokens, outputTokens: 0, cachedTokens: 0 };
  return {
    url: `${base}/v1beta/models/${encodeURIComponent(model)}:batchEmbedContents`,
    headers,
    body: JSON.stringify({ requests }),
    translateError: (status, text) => googleAdapter.translateError(status, text),
    usageOfWhole: () => usage,
    reshape: (text) => {
      const answer = geminiAnswerSchema.parse(JSON.parse(text));
      if (answer.embeddings.length !== texts.length)
        throw new Error('Gemini answered a different number of embeddings than were asked for.');
      return JSON.stringify({
        object: 'list',
        data: answer.embeddings.map(({ values }, index) => ({
          object: 'embedding',
          index,
          embedding: request.encoding_format === 'base64' ? float32Base64(values) : values,
        })),
        model: request.model,
        usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
      });
    },
  };
}

/** A vector as OpenAI's `encoding_format: "base64"` sends it: little-endian float32 bytes, in base64. */
export function float32Base64(values: number[]): string {
  const bytes = Buffer.allocUnsafe(values.length * 4);
  for (const [index, value] of values.entries()) bytes.writeFloatLE(value, index * 4);
  return bytes.toString('base64');
}
