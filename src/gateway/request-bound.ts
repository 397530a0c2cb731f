import { URL_IMAGE_TOKENS, type RequestBound } from '../limits/spend-guard.ts';
import type { ChatRequest } from './openai-types.ts';

/** The output cap a request names, if it names a usable one. */
export function outputCap(request: ChatRequest): number | undefined {
  for (const value of [request.max_completion_tokens, request.max_tokens])
    if (typeof value === 'number' && Number.isInteger(value) && value > 0) return value;
  return undefined;
}

/**
 * The most a chat request can use: its size in bytes bounds its input tokens (a token is at least a
 * byte), its cap (× `n`) its output. An image — by URL or inline as a `data:` URL — counts as
 * `URL_IMAGE_TOKENS`, the most one image costs at any provider, not as its bytes: a 5 MB photo is
 * ~1,600 tokens to the model, and counting its base64 would reserve millions against a limit.
 */
export function chatRequestBound(request: ChatRequest, defaultMaxTokens: number): RequestBound {
  let inputTokens = Buffer.byteLength(JSON.stringify(request.messages));
  if (request.tools !== undefined) inputTokens += Buffer.byteLength(JSON.stringify(request.tools));
  for (const message of request.messages) {
    inputTokens += 8;
    if (!Array.isArray(message.content)) continue;
    for (const part of message.content as { type?: unknown; image_url?: { url?: unknown } }[]) {
      const url = part?.type === 'image_url' ? part.image_url?.url : undefined;
      if (typeof url !== 'string') continue;
      if (url.startsWith('data:')) inputTokens -= Buffer.byteLength(url);
      inputTokens += URL_IMAGE_TOKENS;
    }
  }
  const choices = typeof request.n === 'number' && request.n > 1 ? Math.floor(request.n) : 1;
  return {
    inputTokens,
    outputTokens: (outputCap(request) ?? defaultMaxTokens) * choices,
    likelyInputTokens: Math.ceil(inputTokens / 4),
  };
}
