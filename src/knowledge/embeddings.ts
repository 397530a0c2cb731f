/**
 * Embedding through the gateway, shared by ingestion (a file's chunks) and retrieval (a question):
 * every embedding is a gateway call as a principal, so grants, limits and usage apply to it as to any
 * call of theirs.
 */
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Principal } from '../auth/principal.ts';
import { KeywayError } from '../errors.ts';
import { embeddingsExchange } from '../gateway/exchanges/embeddings.ts';
import type { Exchange } from '../gateway/exchange.ts';
import type { ExchangeAnswer, ExchangeOptions } from '../gateway/gateway.service.ts';
import type { Chunk } from './chunker.ts';

/** The one gateway call embedding makes; `GatewayService` fits it. */
export interface EmbeddingGateway {
  exchange(principal: Principal, exchange: Exchange, options: ExchangeOptions): Promise<ExchangeAnswer>;
}

/** The text embedded for a chunk: its heading path first, so a chunk is found by what it is under. */
export function embeddingInput(chunk: Pick<Chunk, 'headings' | 'text'>): string {
  return chunk.headings.length > 0 ? `${chunk.headings.join(' > ')}\n\n${chunk.text}` : chunk.text;
}

/** Worth retrying: the provider was busy, down or unreachable (not a refusal of the request itself). */
export function isTransient(error: unknown): boolean {
  return error instanceof KeywayError && (error.status === 429 || error.status >= 500);
}

const embeddingsAnswer = z.object({
  data: z.array(z.object({ index: z.number().int().nonnegative(), embedding: z.array(z.number()) })),
});

/** The vectors of an OpenAI-shaped embeddings answer, in input order; throws when it does not fit. */
export function vectorsOf(body: string, inputs: number): number[][] {
  let parsed;
  try {
    parsed = embeddingsAnswer.parse(JSON.parse(body));
  } catch {
    throw new KeywayError(
      'upstream_invalid',
      'The provider answered the embeddings call with something Keyway cannot read.',
    );
  }
  const vectors = new Array<number[] | undefined>(inputs);
  for (const item of parsed.data) if (item.index < inputs) vectors[item.index] = item.embedding;
  const dimensions = vectors[0]?.length ?? 0;
  for (const vector of vectors) {
    if (!vector || vector.length === 0 || vector.length !== dimensions || !vector.every(Number.isFinite))
      throw new KeywayError('upstream_invalid', 'The provider answered fewer, empty or uneven embeddings.');
  }
  return vectors as number[][];
}

/** One embeddings call through the gateway as `principal`: the vectors of `inputs`, in order. */
export async function embed(
  gateway: EmbeddingGateway,
  principal: Principal,
  model: string,
  inputs: string[],
  options: { signal?: AbortSignal; log: Logger },
): Promise<number[][]> {
  const answer = await gateway.exchange(
    principal,
    embeddingsExchange({ model, input: inputs, encoding_format: 'float' }),
    {
      startedAt: performance.now(),
      signal: options.signal ?? new AbortController().signal,
      fallbackModels: [],
      log: options.log,
    },
  );
  if (answer.kind !== 'whole') throw new KeywayError('upstream_invalid', 'The provider streamed embeddings.');
  return vectorsOf(answer.body, inputs.length);
}
