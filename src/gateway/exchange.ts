import type { RequestBound } from '../limits/spend-guard.ts';
import type { ProviderDefinition } from '../providers/provider.ts';
import type { TokenCounts } from '../usage/prices.ts';
import type { UpstreamErrorInfo } from './adapters/adapter.ts';

/**
 * A provider call relayed in the provider's own format rather than through the chat core: the native
 * pass-throughs (`/v1/responses` to OpenAI, `/v1/messages` to Anthropic), embeddings, transcriptions,
 * token counting. The gateway runs it exactly like a chat completion — model resolution, grants,
 * limits, retries and fallbacks before the first byte, timeouts, client abort, key scrubbing, usage —
 * and hands back the provider's answer; the exchange says how to build the call for each target and
 * where the answer carries its token counts. One exchange object serves one request.
 */
export interface Exchange {
  /** The route, for messages: `/v1/embeddings`. */
  readonly endpoint: string;
  /** The client's model name (`credential/model`, `provider/model` or a bare model). */
  readonly model: string;
  /** Whether the answer is an SSE stream. */
  readonly stream: boolean;
  /**
   * Pins the call to one credential (by id) instead of resolving `model`: reading or deleting what an
   * earlier call made there (a relayed response). The caller must still be allowed to use it.
   */
  readonly credentialId?: string;
  /**
   * The most this request can use, for limits: input bounded by its size, output by its cap. When
   * `capOutput` is true and the request names no output cap, the exchange sets one of
   * `defaultMaxTokens` in its own body first (a limit that counts output needs one).
   */
  bound(defaultMaxTokens: number, capOutput: boolean): RequestBound;
  /**
   * The upstream call for one target. Throws `KeywayError('upstream_unsupported')` (400) naming the
   * provider when it has no such endpoint ("Anthropic has no embeddings endpoint").
   */
  build(target: ExchangeTarget): ExchangeCall;
}

/** What building one upstream call needs: the resolved target. */
export interface ExchangeTarget extends CallTarget {
  /** The credential the call uses: an exchange may remember where something it made lives. */
  credentialId: string;
}

/** Where a provider call goes and with what key (chat adapters get this and the request). */
export interface CallTarget {
  /** The provider's own model id (the part after the credential or provider name). */
  model: string;
  provider: ProviderDefinition;
  secret: string | null;
  settings: Record<string, unknown>;
  /** Base URL after settings and defaults (Azure: the `endpoint`), without a trailing slash. */
  baseUrl: string;
}

/** The HTTP request to send upstream, and how to read what comes back. */
export interface ExchangeCall {
  /** POST unless said otherwise; a GET or DELETE sends no body. */
  method?: 'GET' | 'DELETE';
  url: string;
  headers: Record<string, string>;
  body: string | Uint8Array;
  /** An error answer (status + body text) in OpenAI's terms; never quotes a body that is not an error message. */
  translateError(status: number, text: string): UpstreamErrorInfo;
  /** Token counts in a whole answer; null when it carries none. */
  usageOfWhole(text: string): TokenCounts | null;
  /** Streamed answers: the counts after one more SSE event, given those before it. */
  usageOfEvent?(event: { event?: string; data: string }, before: TokenCounts | null): TokenCounts | null;
  /** A whole answer in the client's format (Gemini's embeddings as OpenAI's); the text as it is otherwise. */
  reshape?(text: string): string;
}
