import { randomBytes } from 'node:crypto';
import { AccessRevoked, type AccessWatch, type WatchedAccess } from '../auth/access-watch.ts';
import { latin1, scrubSecret, StreamScrubber } from './secret-scrubber.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { Principal } from '../auth/principal.ts';
import type { GatewayCredentials, ModelTarget } from '../credentials/gateway-credentials.ts';
import { KeywayError } from '../errors.ts';
import { SseDecoder, encodeSse } from '../http/sse.ts';
import { effectiveBaseUrl } from '../providers/registry.ts';
import {
  UpstreamBlockedError,
  type UpstreamClient,
  type UpstreamStreamingResponse,
} from '../providers/upstream-client.ts';
import type { UsageRecorder } from '../usage/usage-recorder.ts';
import type {
  ProviderAdapter,
  ResponseContext,
  UpstreamCall,
  UpstreamErrorInfo,
} from './adapters/adapter.ts';
import { UpstreamStreamError } from './adapters/adapter.ts';
import { buildOpenAiWireCall, translateOpenAiWireError, usageIn } from './adapters/openai-wire.ts';
import type { BotModels, BotRoute } from './bot-models.ts';
import { GatewayError } from './gateway-error.ts';
import type { ChatCompletionChunk, ChatRequest, Usage } from './openai-types.ts';

export interface GatewayTimeouts {
  /** Longest wait for the provider's response headers. */
  firstByteMs: number;
  /** Longest silence between two pieces of a response body. */
  idleMs: number;
  /** Retries of one target on 429, 5xx or a failed connection, before anything reached the client. */
  retries: number;
  /** Longest `retry-after` Keyway waits out itself; longer ones go back to the client. */
  maxRetryAfterMs: number;
}

export type GatewayResult =
  | { kind: 'json'; status: number; body: string; overheadMs: number }
  | {
      kind: 'stream';
      stream: ReadableStream<Uint8Array>;
      overheadMs: number;
      /**
       * For in-process consumers that reassemble the text: a scrubber of the credential's key across
       * content deltas (a key streamed token by token is split across events, not just reads).
       */
      contentScrubber(): StreamScrubber | null;
    };

interface Attempt {
  target: ModelTarget;
  botId: string | null;
  adapter: ProviderAdapter | null;
  call: UpstreamCall;
  /** To scrub from whatever the provider sends back (some echo the key in their errors). */
  secret: string | null;
}

// Completion ids: unique per process start and request, without random bytes per request.
const ID_PREFIX = randomBytes(6).toString('base64url');
let idCounter = 0;

const RETRYABLE = new Set([408, 409, 425, 429, 500, 502, 503, 504, 529]);
const encoder = new TextEncoder();

/**
 * The `/v1/chat/completions` pipeline: resolve the model name to a credential (cached), build the
 * provider's request (pass-through for OpenAI-wire, translated for Anthropic and Gemini), call it
 * with retries and fallbacks before the first byte reaches the client, then relay the answer — a
 * stream chunk by chunk as it arrives — and record usage off the request path.
 */
export interface ChatOptions {
  startedAt: number;
  signal: AbortSignal;
  fallbackModels: string[];
  log: Logger;
  /** A bot's own route (the bot engine's calls); `bot:<name>` model names are routed the same way. */
  route?: BotRoute;
}

export class GatewayService {
  readonly #credentials: GatewayCredentials;
  readonly #upstream: UpstreamClient;
  readonly #adapters: Partial<Record<string, ProviderAdapter>>;
  readonly #usage: UsageRecorder;
  readonly #timeouts: GatewayTimeouts;
  readonly #logger: Logger;
  readonly #bots: BotModels | undefined;
  readonly #access: AccessWatch | undefined;

  constructor(deps: {
    credentials: GatewayCredentials;
    upstream: UpstreamClient;
    /** Translating adapters by wire format; wires without one are OpenAI-wire pass-through. */
    adapters: Partial<Record<string, ProviderAdapter>>;
    usage: UsageRecorder;
    timeouts: GatewayTimeouts;
    logger: Logger;
    /** Serves `bot:<name>` model names; without it they are unknown models. */
    bots?: BotModels;
    /** Stops work whose principal loses access; without it nothing is watched. */
    access?: AccessWatch;
  }) {
    this.#bots = deps.bots;
    this.#access = deps.access;
    this.#credentials = deps.credentials;
    this.#upstream = deps.upstream;
    this.#adapters = deps.adapters;
    this.#usage = deps.usage;
    this.#timeouts = deps.timeouts;
    this.#logger = deps.logger;
  }

  /**
   * Answers a chat request. The work is watched: if the principal loses access meanwhile (user
   * disabled, token revoked), the provider call stops at once — before the first byte it fails with
   * 403 `access_revoked`, after it the stream ends with an `access_revoked` error event.
   */
  async chat(principal: Principal, request: ChatRequest, options: ChatOptions): Promise<GatewayResult> {
    const access = this.#access?.watch(principal);
    if (!access) return this.#chat(principal, request, options, null);
    try {
      const result = await this.#chat(
        principal,
        request,
        { ...options, signal: AbortSignal.any([options.signal, access.signal]) },
        access,
      );
      if (result.kind === 'json') access.release();
      return result;
    } catch (error) {
      access.release();
      if (access.signal.aborted) throw accessRevoked();
      throw error;
    }
  }

  async #chat(
    principal: Principal,
    request: ChatRequest,
    options: ChatOptions,
    access: WatchedAccess | null,
  ): Promise<GatewayResult> {
    let route = options.route;
    if (!route && request.model.startsWith('bot:')) {
      if (!this.#bots)
        throw new GatewayError(404, `The model "${request.model}" does not exist.`, {
          code: 'model_not_found',
          param: 'model',
        });
      try {
        ({ request, route } = await this.#bots.apply(principal, request));
      } catch (error) {
        throw fromKeywayError(error);
      }
    }
    const attempts: Attempt[] = [];
    if (route) {
      for (const target of route.targets) {
        attempts.push(await this.#prepare(principal, request, target, route.botId));
      }
    } else {
      for (const name of [request.model, ...options.fallbackModels])
        attempts.push(await this.#prepare(principal, request, name, null));
    }
    const stream = request.stream === true;
    const context: ResponseContext = {
      id: `chatcmpl-${ID_PREFIX}${(++idCounter).toString(36)}`,
      created: Math.floor(Date.now() / 1000),
      model: request.model,
      includeUsage: request.stream_options?.include_usage === true,
    };

    let upstreamMs = 0;
    let lastError: GatewayError | undefined;
    for (const [position, attempt] of attempts.entries()) {
      const isLast = position === attempts.length - 1;
      for (let retry = 0; retry <= this.#timeouts.retries; retry++) {
        const sentAt = performance.now();
        let response: UpstreamStreamingResponse;
        try {
          response = await this.#upstream.open({
            url: attempt.call.url,
            method: 'POST',
            headers: attempt.call.headers,
            body: attempt.call.body,
            policy: this.#credentials.upstreamPolicy(attempt.target.credential),
            // The client's own signal: when it goes away, undici aborts the provider request at once.
            signal: options.signal,
            headersTimeoutMs: this.#timeouts.firstByteMs,
            bodyTimeoutMs: this.#timeouts.idleMs,
          });
        } catch (error) {
          upstreamMs += performance.now() - sentAt;
          if (options.signal.aborted)
            throw new GatewayError(499 as never, 'The client closed the request.', { code: 'client_closed' });
          lastError = connectionError(error, attempt);
          this.#record(principal, attempt, lastError.status, options.startedAt, null);
          if (error instanceof UpstreamBlockedError) throw lastError;
          if (retry < this.#timeouts.retries) {
            await this.#backoff(retry, undefined, options.signal);
            continue;
          }
          break;
        }
        upstreamMs += performance.now() - sentAt;
        if (response.status >= 200 && response.status < 300) {
          const relay: Relay = {
            attempt,
            response,
            context,
            principal,
            startedAt: options.startedAt,
            log: options.log,
            access,
          };
          if (stream) {
            return {
              kind: 'stream',
              stream: this.#relayStream(relay),
              overheadMs: performance.now() - options.startedAt - upstreamMs,
              contentScrubber: () => (attempt.secret ? new StreamScrubber(attempt.secret) : null),
            };
          }
          const readAt = performance.now();
          const body = await this.#readAll(relay);
          upstreamMs += performance.now() - readAt;
          return {
            kind: 'json',
            status: 200,
            body,
            overheadMs: performance.now() - options.startedAt - upstreamMs,
          };
        }
        // An error answer: read it (bounded), then retry, fall back, or hand it to the client.
        const readAt = performance.now();
        const text = await readText(response).catch(() => '');
        upstreamMs += performance.now() - readAt;
        const info = (attempt.adapter?.translateError ?? translateOpenAiWireError)(
          response.status,
          scrubSecret(text, attempt.secret),
        );
        lastError = upstreamError(
          response.status,
          info,
          attempt,
          retryAfterMs(response.headers['retry-after']),
        );
        this.#record(principal, attempt, response.status, options.startedAt, null);
        if (!RETRYABLE.has(response.status)) throw lastError;
        const wait = retryAfterMs(response.headers['retry-after']);
        if (
          retry < this.#timeouts.retries &&
          (wait === undefined || wait <= this.#timeouts.maxRetryAfterMs)
        ) {
          await this.#backoff(retry, wait, options.signal);
          continue;
        }
        break;
      }
      if (isLast) break;
      options.log.warn(
        { from: attempt.target.credential.id, to: attempts[position + 1]!.target.credential.id },
        'falling back to the next credential',
      );
    }
    throw (
      lastError ??
      new GatewayError(502, 'The provider could not be reached.', { code: 'upstream_unreachable' })
    );
  }

  /** `/v1/models`: `<credential>/<model>` for every credential the caller may use. */
  async models(principal: Principal): Promise<{ id: string; owned_by: string }[]> {
    const credentials = await this.#credentials.usable(principal);
    const lists = await Promise.all(
      credentials.map(async (row) => ({
        row,
        models: await this.#credentials.cachedModels(row).catch(() => []),
      })),
    );
    return lists.flatMap(({ row, models }) =>
      models.map((model) => ({ id: `${row.name}/${model.id}`, owned_by: row.provider })),
    );
  }

  async #prepare(
    principal: Principal,
    request: ChatRequest,
    model: string | { credentialId: string; model: string },
    botId: string | null,
  ): Promise<Attempt> {
    if (typeof model === 'string' && model.startsWith('bot:')) {
      throw new GatewayError(400, 'A bot cannot be a fallback model.', {
        code: 'invalid_request',
        param: 'model',
      });
    }
    let target: ModelTarget;
    let secret: string | null;
    try {
      target =
        typeof model === 'string'
          ? await this.#credentials.resolveModel(principal, model)
          : await this.#credentials.resolveById(principal, model.credentialId, model.model);
      secret = this.#credentials.revealSecret(target.credential);
    } catch (error) {
      throw fromKeywayError(error);
    }
    const adapter = this.#adapters[target.provider.wire] ?? null;
    const input = {
      request,
      model: target.model,
      provider: target.provider,
      secret,
      settings: target.credential.settings,
      baseUrl: effectiveBaseUrl(target.provider, target.credential.settings),
    };
    try {
      // A translating adapter refuses what its provider cannot express (an unknown role, an audio part).
      const call = adapter
        ? adapter.buildRequest(input, request.stream === true)
        : buildOpenAiWireCall(input, request);
      return { target, botId, adapter, call, secret };
    } catch (error) {
      throw fromKeywayError(error);
    }
  }

  async #readAll(relay: Relay): Promise<string> {
    const { attempt, response, context } = relay;
    let text: string;
    try {
      text = await readText(response);
    } catch (error) {
      this.#record(relay.principal, attempt, 502, relay.startedAt, null);
      throw new GatewayError(502, `The provider's answer broke off: ${describeNetworkError(error)}`, {
        code: 'upstream_interrupted',
      });
    }
    if (!attempt.adapter) {
      this.#record(relay.principal, attempt, 200, relay.startedAt, usageIn(text));
      return scrubSecret(text, attempt.secret);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new GatewayError(502, 'The provider answered with something that is not JSON.', {
        code: 'upstream_invalid',
      });
    }
    let completion;
    try {
      completion = attempt.adapter.translateResponse(parsed, context);
    } catch (error) {
      if (error instanceof UpstreamStreamError)
        throw new GatewayError(502, error.info.message, { type: error.info.type, code: error.info.code });
      throw fromKeywayError(error);
    }
    this.#record(relay.principal, attempt, 200, relay.startedAt, completion.usage ?? null);
    return scrubSecret(JSON.stringify(completion), attempt.secret);
  }

  /**
   * Relays a stream as it arrives. Pass-through: the provider's bytes unchanged (watched for usage).
   * Translated: events decoded, translated, re-encoded. A client that goes away aborts the provider
   * request at once; an error after the first byte becomes an `error` event, which SDKs raise.
   */
  #relayStream(relay: Relay): ReadableStream<Uint8Array> {
    const { attempt, response, context } = relay;
    const decoder = new SseDecoder();
    const translator = attempt.adapter?.createStreamTranslator(context);
    const textDecoder = new TextDecoder();
    const iterator = response.body[Symbol.asyncIterator]();
    // The key may come back split across network reads: scrubbed across them, bytes as latin1 on
    // the pass-through path, text on the translated one.
    const secret = attempt.secret;
    const scrubber = secret ? new StreamScrubber(translator ? secret : latin1(secret)) : null;
    let usage: Usage | null = null;
    let finished = false;
    const finish = (status: number) => {
      if (finished) return;
      finished = true;
      relay.access?.release();
      this.#record(
        relay.principal,
        attempt,
        status,
        relay.startedAt,
        translator ? translator.usage() : usage,
      );
    };
    return new ReadableStream<Uint8Array>(
      {
        // pull() must enqueue before it returns: a pull that yields nothing is not called again.
        pull: async (stream) => {
          const send = (chunks: ChatCompletionChunk[], tail = '') => {
            const encoded = chunks.map((chunk) => encodeSse(JSON.stringify(chunk))).join('');
            const text = (scrubber ? scrubber.push(encoded) + (tail ? scrubber.end() : '') : encoded) + tail;
            if (text) stream.enqueue(encoder.encode(text));
            return text.length > 0;
          };
          /** Pass-through bytes, scrubbed; false when all of them are held back for now. */
          const relayBytes = (bytes: Buffer): boolean => {
            if (!scrubber) {
              stream.enqueue(bytes);
              return true;
            }
            const out = scrubber.push(bytes.toString('latin1'));
            if (out) stream.enqueue(Buffer.from(out, 'latin1'));
            return out.length > 0;
          };
          // Chunks translated before an error in the same read still reach the client, then the error.
          const pending: ChatCompletionChunk[] = [];
          try {
            for (;;) {
              const next = await iterator.next();
              if (next.done) {
                if (translator) {
                  for (const event of decoder.end()) pending.push(...translator.push(event));
                  pending.push(...translator.end());
                  send(pending.splice(0), encodeSse('[DONE]'));
                } else if (scrubber) {
                  const rest = scrubber.end();
                  if (rest) stream.enqueue(Buffer.from(rest, 'latin1'));
                }
                finish(200);
                stream.close();
                return;
              }
              const events = decoder.push(textDecoder.decode(next.value, { stream: true }));
              if (!translator) {
                for (const event of events) usage = usageIn(event.data) ?? usage;
                if (relayBytes(next.value)) return;
                continue;
              }
              for (const event of events) pending.push(...translator.push(event));
              if (send(pending.splice(0))) return;
            }
          } catch (error) {
            send(pending.splice(0));
            // What was held back ends here: released (or redacted) before the error event.
            const rest = scrubber?.end();
            if (rest) stream.enqueue(translator ? encoder.encode(rest) : Buffer.from(rest, 'latin1'));
            const info: UpstreamErrorInfo = relay.access?.signal.aborted
              ? { message: accessRevoked().message, type: 'permission_error', code: 'access_revoked' }
              : error instanceof UpstreamStreamError
                ? { ...error.info, message: scrubSecret(error.info.message, attempt.secret) }
                : {
                    message: `The provider's stream broke off: ${describeNetworkError(error)}`,
                    type: 'api_error',
                    code: 'upstream_interrupted',
                  };
            relay.log.warn(
              { credentialId: attempt.target.credential.id, type: info.type, code: info.code },
              'upstream stream failed after the first byte',
            );
            stream.enqueue(
              encoder.encode(
                encodeSse(
                  JSON.stringify({
                    error: { message: info.message, type: info.type, param: null, code: info.code },
                  }),
                ),
              ),
            );
            finish(502);
            response.body.destroy();
            stream.close();
          }
        },
        cancel: () => {
          // The client went away: stop the provider at once.
          response.body.destroy();
          finish(499);
        },
      },
      { highWaterMark: 0 },
    );
  }

  #record(
    principal: Principal,
    attempt: Attempt,
    status: number,
    startedAt: number,
    usage: Usage | null,
  ): void {
    this.#usage.record({
      at: new Date(),
      userId: principal.userId,
      tokenId: principal.tokenId ?? null,
      botId: attempt.botId,
      credentialId: attempt.target.credential.id,
      provider: attempt.target.provider.id,
      model: attempt.target.model,
      inputTokens: usage?.prompt_tokens ?? null,
      outputTokens: usage?.completion_tokens ?? null,
      cachedTokens: usage?.prompt_tokens_details?.cached_tokens ?? null,
      latencyMs: Math.round(performance.now() - startedAt),
      status,
    });
  }

  async #backoff(retry: number, retryAfter: number | undefined, signal: AbortSignal): Promise<void> {
    const base = 200 * 2 ** retry;
    const delay = retryAfter ?? base + Math.random() * base;
    await sleep(delay, undefined, { signal }).catch(() => {
      throw new GatewayError(499 as never, 'The client closed the request.', { code: 'client_closed' });
    });
  }
}

interface Relay {
  /** Released when the relay ends; aborted when the principal loses access. */
  access: WatchedAccess | null;
  attempt: Attempt;
  response: UpstreamStreamingResponse;
  context: ResponseContext;
  principal: Principal;
  startedAt: number;
  log: Logger;
}

async function readText(response: UpstreamStreamingResponse): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response.body) {
    chunks.push(chunk);
    size += chunk.length;
    if (size > 64 * 1024 * 1024) throw new Error('response too large');
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** `retry-after` in seconds or as an HTTP date, in milliseconds. */
function retryAfterMs(header: string | string[] | undefined): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

function upstreamError(
  status: number,
  info: UpstreamErrorInfo,
  attempt: Attempt,
  retryAfter: number | undefined,
): GatewayError {
  const who = attempt.target.provider.label;
  // A redirect is never relayed (it would reach the client without its Location, and following it
  // could leave the provider's host): the credential's base URL is wrong.
  if (status >= 300 && status < 400) {
    return new GatewayError(
      502,
      `${who} answered the credential "${attempt.target.credential.name}" with a redirect (HTTP ${status}), which Keyway does not follow; check its base URL.`,
      { type: 'upstream_error', code: 'upstream_redirect' },
    );
  }
  // Google answers a bad key with 400 INVALID_ARGUMENT; the adapter recognises it.
  if (
    status === 401 ||
    status === 403 ||
    info.code === 'invalid_api_key' ||
    info.type === 'authentication_error'
  ) {
    return new GatewayError(
      502,
      `${who} rejected the stored credential "${attempt.target.credential.name}": ${info.message}`,
      { type: 'upstream_auth_error', code: 'upstream_auth_failed' },
    );
  }
  if (status === 429) {
    return new GatewayError(429, info.message, {
      type: info.type,
      code: info.code ?? 'rate_limited',
      ...(retryAfter !== undefined ? { retryAfter: Math.ceil(retryAfter / 1000) } : {}),
    });
  }
  if (status >= 500)
    return new GatewayError(502, `${who} failed: ${info.message}`, {
      type: 'upstream_error',
      code: info.code ?? `upstream_${status}`,
    });
  return new GatewayError(status as never, info.message, { type: info.type, code: info.code });
}

function connectionError(error: unknown, attempt: Attempt): GatewayError {
  if (error instanceof UpstreamBlockedError) {
    return new GatewayError(
      502,
      `The credential's URL points at an address Keyway may not call: ${error.message}`,
      { code: 'upstream_blocked' },
    );
  }
  const code = (error as { code?: string }).code;
  if (code === 'UND_ERR_HEADERS_TIMEOUT') {
    return new GatewayError(504, `${attempt.target.provider.label} did not start answering in time.`, {
      type: 'timeout',
      code: 'upstream_timeout',
    });
  }
  return new GatewayError(
    502,
    `${attempt.target.provider.label} could not be reached: ${describeNetworkError(error)}`,
    { code: 'upstream_unreachable' },
  );
}

function describeNetworkError(error: unknown): string {
  const code = (error as { code?: string }).code;
  if (code === 'UND_ERR_BODY_TIMEOUT') return 'it stopped sending (idle timeout)';
  if (code === 'UND_ERR_CONNECT_TIMEOUT') return 'the connection timed out';
  if (code === 'ECONNREFUSED') return 'the connection was refused';
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET') return 'the connection was reset';
  if (code === 'ENOTFOUND') return 'the host name does not resolve';
  return 'a network error';
}

function accessRevoked(): GatewayError {
  return new GatewayError(403, new AccessRevoked().message, {
    type: 'permission_error',
    code: 'access_revoked',
  });
}

/** Domain errors met while resolving a model, in OpenAI's terms. */
export function fromKeywayError(error: unknown): GatewayError {
  if (!(error instanceof KeywayError)) throw error;
  switch (error.code) {
    case 'model_not_found':
      return new GatewayError(404, error.message, { code: 'model_not_found', param: 'model' });
    case 'ambiguous_model':
      return new GatewayError(400, error.message, { code: 'ambiguous_model', param: 'model' });
    case 'upstream_error':
      return new GatewayError(502, error.message, { code: 'upstream_invalid' });
    case 'secret_unreadable':
      return new GatewayError(502, 'The stored credential cannot be decrypted; its owner must rotate it.', {
        code: 'credential_unreadable',
      });
    default:
      return new GatewayError(400, error.message, {
        code: error.code,
        ...(typeof error.details?.param === 'string' ? { param: error.details.param } : {}),
      });
  }
}
