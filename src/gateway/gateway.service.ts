import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { AccessRevoked, type AccessWatch, type WatchedAccess } from '../auth/access-watch.ts';
import type { Principal } from '../auth/principal.ts';
import type { GatewayCredentials, ModelTarget } from '../credentials/gateway-credentials.ts';
import { KeywayError } from '../errors.ts';
import { effectiveBaseUrl } from '../providers/registry.ts';
import {
  UpstreamBlockedError,
  type UpstreamClient,
  type UpstreamStreamingResponse,
} from '../providers/upstream-client.ts';
import type { UsageRecorder } from '../usage/usage-recorder.ts';
import type { ProviderAdapter, ResponseContext, UpstreamCall } from './adapters/adapter.ts';
import { buildOpenAiWireCall, translateOpenAiWireError } from './adapters/openai-wire.ts';
import type { BotModels, BotRoute } from './bot-models.ts';
import {
  passthroughStream,
  pipePassthrough,
  readWhole,
  typedChunks,
  type Completion,
  type Relay,
} from './completion.ts';
import type { ChatRequest, Usage } from './openai-types.ts';
import { ProviderFailure, providerAnswered, providerUnreachable } from './provider-failure.ts';
import { scrubSecret } from './secret-scrubber.ts';

export type { Completion, StreamedCompletion, WholeCompletion } from './completion.ts';

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

export interface CompleteOptions {
  startedAt: number;
  /** The caller went away: the provider call stops at once. */
  signal: AbortSignal;
  fallbackModels: string[];
  log: Logger;
  /** A bot's own route (the bot engine's calls); `bot:<name>` model names are routed the same way. */
  route?: BotRoute;
}

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

/**
 * The gateway core, typed end to end: a chat request in, a `Completion` out (a whole answer or a
 * stream of chunks), typed domain errors thrown. It resolves the model name to a credential (cached),
 * builds the provider's request (pass-through for OpenAI-wire, translated for Anthropic and Gemini),
 * calls it with retries and fallbacks before the first byte, relays the answer and records usage off
 * the request path. It knows nothing of HTTP answers: `/v1` encodes SSE, envelopes and statuses; chat
 * and bots consume the typed views.
 */
export class GatewayService {
  readonly #credentials: GatewayCredentials;
  readonly #upstream: UpstreamClient;
  readonly #adapters: Partial<Record<string, ProviderAdapter>>;
  readonly #usage: Pick<UsageRecorder, 'record'>;
  readonly #timeouts: GatewayTimeouts;
  readonly #logger: Logger;
  readonly #bots: BotModels | undefined;
  readonly #access: AccessWatch | undefined;

  constructor(deps: {
    credentials: GatewayCredentials;
    upstream: UpstreamClient;
    /** Translating adapters by wire format; wires without one are OpenAI-wire pass-through. */
    adapters: Partial<Record<string, ProviderAdapter>>;
    /** Where each provider call's usage goes (batched to the database off the request path). */
    usage: Pick<UsageRecorder, 'record'>;
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
   * disabled, token revoked), the provider call stops at once — before the first byte this throws
   * `access_revoked`, after it the stream ends with that failure.
   */
  async complete(principal: Principal, request: ChatRequest, options: CompleteOptions): Promise<Completion> {
    const access = this.#access?.watch(principal) ?? null;
    const signal = access ? either(options.signal, access.signal) : options.signal;
    try {
      const completion = await this.#complete(principal, request, { ...options, signal }, access);
      return completion;
    } catch (error) {
      access?.release();
      if (access?.signal.aborted) throw new AccessRevoked();
      throw error;
    }
  }

  async #complete(
    principal: Principal,
    request: ChatRequest,
    options: CompleteOptions,
    access: WatchedAccess | null,
  ): Promise<Completion> {
    let route = options.route;
    if (!route && request.model.startsWith('bot:')) {
      if (!this.#bots)
        throw new KeywayError('model_not_found', `The model "${request.model}" does not exist.`, {
          details: { param: 'model' },
        });
      ({ request, route } = await this.#bots.apply(principal, request));
    }
    const attempts: Attempt[] = [];
    if (route) {
      for (const target of route.targets)
        attempts.push(await this.#prepare(principal, request, target, route.botId));
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
    let lastError: KeywayError | undefined;
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
            // The caller's own signal: when it goes away, undici aborts the provider request at once.
            signal: options.signal,
            headersTimeoutMs: this.#timeouts.firstByteMs,
            bodyTimeoutMs: this.#timeouts.idleMs,
          });
        } catch (error) {
          upstreamMs += performance.now() - sentAt;
          if (options.signal.aborted) throw clientClosed();
          const blocked = error instanceof UpstreamBlockedError;
          const failure = providerUnreachable(error, attempt.target.provider.label, blocked);
          lastError = failure;
          this.#record(principal, attempt, failure.reply.status, options.startedAt, null);
          if (blocked) throw failure;
          if (retry < this.#timeouts.retries) {
            await this.#backoff(retry, undefined, options.signal);
            continue;
          }
          break;
        }
        upstreamMs += performance.now() - sentAt;
        if (response.status >= 200 && response.status < 300) {
          const relay: Relay = {
            response,
            adapter: attempt.adapter,
            context,
            secret: attempt.secret,
            revoked: access?.signal ?? null,
            log: options.log,
            finish: (status: number, usage: Usage | null) => {
              access?.release();
              this.#record(principal, attempt, status, options.startedAt, usage);
            },
          };
          if (stream) {
            return {
              kind: 'stream',
              overheadMs: performance.now() - options.startedAt - upstreamMs,
              chunks: () => typedChunks(relay),
              passthrough: attempt.adapter
                ? null
                : {
                    toStream: (encodeError) => passthroughStream(relay, encodeError),
                    pipeTo: (sink, encodeError) => pipePassthrough(relay, sink, encodeError),
                  },
            };
          }
          const readAt = performance.now();
          const whole = await readWhole(relay);
          upstreamMs += performance.now() - readAt;
          return { kind: 'whole', overheadMs: performance.now() - options.startedAt - upstreamMs, ...whole };
        }
        // An error answer: read it (bounded), then retry, fall back, or hand it to the caller.
        const readAt = performance.now();
        const text = await readErrorText(response).catch(() => '');
        upstreamMs += performance.now() - readAt;
        const info = (attempt.adapter?.translateError ?? translateOpenAiWireError)(
          response.status,
          scrubSecret(text, attempt.secret),
        );
        const wait = retryAfterMs(response.headers['retry-after']);
        lastError = providerAnswered(
          response.status,
          info,
          { providerLabel: attempt.target.provider.label, credentialName: attempt.target.credential.name },
          wait,
        );
        this.#record(principal, attempt, response.status, options.startedAt, null);
        if (!RETRYABLE.has(response.status)) throw lastError;
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
      new ProviderFailure('upstream_unreachable', 'The provider could not be reached.', { status: 502 })
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

  /** `/v1/models/{id}`: one model the caller may use, or `model_not_found`. */
  async model(principal: Principal, id: string): Promise<{ id: string; owned_by: string }> {
    const found = (await this.models(principal)).find((model) => model.id === id);
    if (!found)
      throw new KeywayError('model_not_found', `The model "${id}" does not exist.`, {
        details: { param: 'model' },
      });
    return found;
  }

  async #prepare(
    principal: Principal,
    request: ChatRequest,
    model: string | { credentialId: string; model: string },
    botId: string | null,
  ): Promise<Attempt> {
    if (typeof model === 'string' && model.startsWith('bot:')) {
      throw new KeywayError('invalid_request', 'A bot cannot be a fallback model.', {
        details: { param: 'model' },
      });
    }
    const target =
      typeof model === 'string'
        ? await this.#credentials.resolveModel(principal, model)
        : await this.#credentials.resolveById(principal, model.credentialId, model.model);
    const secret = this.#credentials.revealSecret(target.credential);
    const adapter = this.#adapters[target.provider.wire] ?? null;
    const input = {
      request,
      model: target.model,
      provider: target.provider,
      secret,
      settings: target.credential.settings,
      baseUrl: effectiveBaseUrl(target.provider, target.credential.settings),
    };
    // A translating adapter refuses what its provider cannot express (an unknown role, an audio part).
    const call = adapter
      ? adapter.buildRequest(input, request.stream === true)
      : buildOpenAiWireCall(input, request);
    return { target, botId, adapter, call, secret };
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
      throw clientClosed();
    });
  }
}

async function readErrorText(response: UpstreamStreamingResponse): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response.body) {
    chunks.push(chunk);
    size += chunk.length;
    // An error answer larger than this is not an error message: stop reading it.
    if (size > 1024 * 1024) break;
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** A signal that aborts when either does (`AbortSignal.any` costs far more on every request). */
function either(first: AbortSignal, second: AbortSignal): AbortSignal {
  const linked = new AbortController();
  const abort = () => linked.abort();
  if (first.aborted || second.aborted) abort();
  else {
    first.addEventListener('abort', abort, { once: true });
    second.addEventListener('abort', abort, { once: true });
  }
  return linked.signal;
}

/** The caller went away before the answer started (only logs and usage ever see it). */
function clientClosed(): KeywayError {
  return new KeywayError('client_closed', 'The client closed the request.');
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
