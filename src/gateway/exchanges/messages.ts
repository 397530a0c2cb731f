import { KeywayError } from '../../errors.ts';
import type { SseEvent } from '../../http/sse.ts';
import { URL_IMAGE_TOKENS, type RequestBound } from '../../limits/spend-guard.ts';
import type { TokenCounts } from '../../usage/prices.ts';
import { providerErrorText } from '../../providers/provider-error-text.ts';
import type { UpstreamErrorInfo } from '../adapters/adapter.ts';
import { anthropicTypeForStatus } from '../adapters/anthropic.ts';
import { googleAdapter } from '../adapters/google.ts';
import type { ChatRequest } from '../openai-types.ts';
import type { Exchange, ExchangeCall, ExchangeTarget } from '../exchange.ts';

/**
 * The Anthropic Messages API relayed as it is, for Anthropic credentials: `POST /v1/messages` and
 * `POST /v1/messages/count_tokens`. The client's body goes on with only `model` replaced —
 * `cache_control`, thinking blocks, beta fields and anything newer survive — and the answer comes
 * back byte for byte (the key scrubbed by the core). Errors keep Anthropic's own type.
 */

/** The API version sent when the client names none. */
export const DEFAULT_ANTHROPIC_VERSION = '2023-06-01';

/** The client's Anthropic headers, forwarded on pass-through. */
export interface AnthropicHeaders {
  version: string;
  /** `anthropic-beta`, when the client asks for beta features. */
  beta?: string;
}

interface PassthroughInput {
  /** The client's body as it was parsed (validated, not rewritten). */
  body: Record<string, unknown>;
  model: string;
  headers: AnthropicHeaders;
}

/** `POST /v1/messages` to an Anthropic credential, streamed or not. */
export function anthropicMessagesExchange(input: PassthroughInput & { stream: boolean }): Exchange {
  const maxTokens = typeof input.body.max_tokens === 'number' ? input.body.max_tokens : 0;
  return {
    endpoint: '/v1/messages',
    model: input.model,
    stream: input.stream,
    // `max_tokens` is required on this route: the output always has its cap.
    bound: () => boundOf(input.body, maxTokens),
    build(target) {
      if (target.provider.wire !== 'anthropic')
        throw new KeywayError(
          'upstream_unsupported',
          `${target.provider.label} does not speak Anthropic's Messages API as it is: a fallback model of an Anthropic model must be an Anthropic credential too.`,
          { details: { param: 'model' } },
        );
      return { ...call(target, '/v1/messages', input), ...messageUsage() };
    },
  };
}

/**
 * `POST /v1/messages/count_tokens` where the provider counts tokens: Anthropic's own endpoint, relayed;
 * Gemini's `countTokens`, given the request translated as it would be generated (`chat`), its
 * `totalTokens` answered as Anthropic's `input_tokens`. Other providers have no such endpoint.
 */
export function countTokensExchange(input: PassthroughInput & { chat?: ChatRequest }): Exchange {
  return {
    endpoint: '/v1/messages/count_tokens',
    model: input.model,
    stream: false,
    bound: () => boundOf(input.body, 0),
    build(target) {
      // Nothing is generated: the request is recorded with no tokens (and not charged by its size).
      const nothingGenerated = () => ({ inputTokens: 0, outputTokens: 0, cachedTokens: 0 });
      if (target.provider.wire === 'anthropic')
        return { ...call(target, '/v1/messages/count_tokens', input), usageOfWhole: nothingGenerated };
      if (target.provider.wire === 'google' && input.chat) {
        const generate = googleAdapter.buildRequest({ ...target, request: input.chat }, false);
        const { generationConfig: _unused, ...request } = JSON.parse(generate.body) as Record<
          string,
          unknown
        >;
        return {
          url: generate.url.replace(/:generateContent$/, ':countTokens'),
          headers: generate.headers,
          body: JSON.stringify({
            generateContentRequest: { model: `models/${target.model.replace(/^models\//, '')}`, ...request },
          }),
          translateError: (status, text) => googleAdapter.translateError(status, text),
          usageOfWhole: nothingGenerated,
          reshape: (text) => {
            const { totalTokens } = JSON.parse(text) as { totalTokens?: unknown };
            if (typeof totalTokens !== 'number') throw new Error('no totalTokens');
            return JSON.stringify({ input_tokens: totalTokens });
          },
        };
      }
      throw new KeywayError(
        'upstream_unsupported',
        `${target.provider.label} has no token counting endpoint: /v1/messages/count_tokens works with Anthropic and Gemini credentials.`,
        { details: { param: 'model' } },
      );
    },
  };
}

function call(
  target: ExchangeTarget,
  path: string,
  input: PassthroughInput,
): Omit<ExchangeCall, 'usageOfWhole'> {
  return {
    url: `${target.baseUrl}${path}`,
    headers: {
      // The stored key, never the client's Keyway token.
      ...(target.secret !== null ? { 'x-api-key': target.secret } : {}),
      'anthropic-version': input.headers.version,
      ...(input.headers.beta ? { 'anthropic-beta': input.headers.beta } : {}),
      'content-type': 'application/json',
    },
    body: JSON.stringify({ ...input.body, model: target.model }),
    translateError: anthropicErrorInfo,
  };
}

/** The most a request can use: its size in bytes bounds its input tokens, `max_tokens` its output. */
function boundOf(body: Record<string, unknown>, maxTokens: number): RequestBound {
  const text = JSON.stringify([body.system, body.messages, body.tools]);
  const urlImages = text.match(/"type":"url"/g)?.length ?? 0;
  let inputTokens = Buffer.byteLength(text) + urlImages * URL_IMAGE_TOKENS;
  // An inline image costs the model one image, not its base64 (as in the chat's bound).
  for (const message of Array.isArray(body.messages) ? body.messages : []) {
    const content = (message as { content?: unknown })?.content;
    for (const block of Array.isArray(content) ? content : []) {
      const source = (block as { type?: unknown; source?: { type?: unknown; data?: unknown } })?.source;
      if ((block as { type?: unknown }).type !== 'image' || source?.type !== 'base64') continue;
      if (typeof source.data === 'string') inputTokens += URL_IMAGE_TOKENS - Buffer.byteLength(source.data);
    }
  }
  return { inputTokens, outputTokens: maxTokens, likelyInputTokens: Math.ceil(inputTokens / 4) };
}

/** Anthropic's counts as they arrive; every field is cumulative, so a later report replaces an earlier one. */
interface AnthropicCounts {
  input: number;
  output: number;
  cacheRead: number;
  cacheCreation: number;
}

/** Where a message and its stream carry usage: the message's `usage`, `message_start` then `message_delta`. */
function messageUsage(): Pick<ExchangeCall, 'usageOfWhole' | 'usageOfEvent'> {
  const counts: AnthropicCounts = { input: 0, output: 0, cacheRead: 0, cacheCreation: 0 };
  return {
    usageOfWhole(text) {
      const usage = usageIn(parse(text));
      return usage ? tokensOf(merge(counts, usage)) : null;
    },
    usageOfEvent(event: SseEvent, before) {
      // Only two events carry usage: the deltas in between are not parsed.
      const name = event.event ?? (event.data.includes('"message_') ? undefined : 'other');
      if (name !== undefined && name !== 'message_start' && name !== 'message_delta') return before;
      const data = parse(event.data) as { type?: unknown; message?: unknown } | undefined;
      const usage =
        data?.type === 'message_start'
          ? usageIn(data.message)
          : data?.type === 'message_delta'
            ? usageIn(data)
            : null;
      return usage ? tokensOf(merge(counts, usage)) : before;
    },
  };
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function usageIn(value: unknown): Record<string, unknown> | null {
  const usage = (value as { usage?: unknown } | undefined)?.usage;
  return typeof usage === 'object' && usage !== null ? (usage as Record<string, unknown>) : null;
}

function merge(counts: AnthropicCounts, usage: Record<string, unknown>): AnthropicCounts {
  const count = (key: string) => {
    const value = usage[key];
    return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
  };
  counts.input = count('input_tokens') ?? counts.input;
  counts.output = count('output_tokens') ?? counts.output;
  counts.cacheRead = count('cache_read_input_tokens') ?? counts.cacheRead;
  counts.cacheCreation = count('cache_creation_input_tokens') ?? counts.cacheCreation;
  return counts;
}

/** Keyway counts every input token, cached ones included; Anthropic's `input_tokens` leaves both cache counts out. */
function tokensOf(counts: AnthropicCounts): TokenCounts {
  return {
    inputTokens: counts.input + counts.cacheRead + counts.cacheCreation,
    outputTokens: counts.output,
    cachedTokens: counts.cacheRead,
  };
}

/**
 * An Anthropic error answer for `/v1/messages`, its type kept as both `type` and `code` so that the
 * client gets Anthropic's own type. Its message only when the body is Anthropic's envelope (the one rule
 * of provider-error-text.ts); any other body — a page behind the base URL — is described, never quoted.
 */
export function anthropicErrorInfo(status: number, text: string): UpstreamErrorInfo {
  const error = providerErrorText('anthropic', { status, body: text }, { who: 'Anthropic' });
  const type = error.relayed ? error.details.type : anthropicTypeForStatus(status);
  return { message: error.message, type, code: type };
}
