import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { AccessRevoked, type AccessWatch, type WatchedAccess } from '../auth/access-watch.ts';
import type { Principal } from '../auth/principal.ts';
import type { GatewayCredentials, ModelTarget } from '../credentials/gateway-credentials.ts';
import { grantsFor } from '../credentials/model-resolver.ts';
import { KeywayError } from '../errors.ts';
import { effectiveBaseUrl } from '../providers/registry.ts';
import {
  UpstreamBlockedError,
  type UpstreamClient,
  type UpstreamStreamingResponse,
} from '../providers/upstream-client.ts';
import {
  type AskingBot,
  type Charge,
  type RequestBound,
  type Reservation,
  type SpendGuard,
} from '../limits/spend-guard.ts';
import { costOf, type TokenCounts } from '../usage/prices.ts';
import type { UsageRecorder } from '../usage/usage-recorder.ts';
import type { ProviderDefinition } from '../providers/provider.ts';
import type {
  ProviderAdapter,
  ResponseContext,
  UpstreamCall,
  UpstreamErrorInfo,
} from './adapters/adapter.ts';
import { buildOpenAiWireCall, translateOpenAiWireError } from './adapters/openai-wire.ts';
import { isAssistantModel, type AssistantModels, type BotModels, type BotRoute } from './bot-models.ts';
import {
  passthroughStream,
  pipePassthrough,
  readWhole,
  typedChunks,
  type Completion,
  type PassthroughView,
  type Relay,
} from './completion.ts';
import type { Exchange, ExchangeCall } from './exchange.ts';
import { hasImageParts, refuseImagesWithoutVision } from './model-capabilities.ts';
import { BOT_ENDPOINTS, endpointsOf, type V1Endpoint } from './model-endpoints.ts';
import type { ChatRequest } from './openai-types.ts';
import { ProviderFailure, providerAnswered, providerUnreachable } from './provider-failure.ts';
import { chatRequestBound, outputCap } from './request-bound.ts';
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

/** A model name `/v1` answers, with who provides it and the endpoints it serves. */
export interface ServedModel {
  id: string;
  owned_by: string;
  endpoints: V1Endpoint[];
}

export interface ExchangeOptions {
  startedAt: number;
  /** The caller went away: the provider call stops at once. */
  signal: AbortSignal;
  fallbackModels: string[];
  log: Logger;
}

/**
 * A provider's answer to an exchange, in its own format (the key scrubbed), with the provider's
 * `content-type` (null when it sent none, or the answer was reshaped): a transcription may be JSON,
 * plain text or SSE.
 */
export type ExchangeAnswer =
  | { kind: 'whole'; overheadMs: number; body: string; contentType: string | null }
  | { kind: 'stream'; overheadMs: number; passthrough: PassthroughView; contentType: string | null };

type SendOptions = Pick<CompleteOptions, 'startedAt' | 'signal' | 'log'>;

/** A provider answered 2xx: its response, unread, and what the request reserved against its limits. */
interface Sent {
  attempt: Attempt;
  response: UpstreamStreamingResponse;
  reservation: Reservation | null;
  /** Time spent waiting for providers so far (excluded from Keyway's overhead). */
  upstreamMs: number;
}

interface Attempt {
  target: ModelTarget;
  botId: string | null;
  /** The limits the request meets on this target, and the most it can use (null: no limit applies). */
  charge: Charge | null;
  bound: RequestBound | null;
  /** The translating adapter of a chat attempt; null for pass-through and exchanges. */
  adapter: ProviderAdapter | null;
  call: UpstreamCall | ExchangeCall;
  translateError(status: number, text: string): UpstreamErrorInfo;
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
  readonly #assistants: AssistantModels | undefined;
  readonly #access: AccessWatch | undefined;
  readonly #limits: SpendGuard | undefined;

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
    /** Serves `assistant:<name>` model names; without it they are unknown models. */
    assistants?: AssistantModels;
    /** Stops work whose principal loses access; without it nothing is watched. */
    access?: AccessWatch;
    /** Holds requests to their limits and prices them; without it nothing is limited or priced. */
    limits?: SpendGuard;
  }) {
    this.#limits = deps.limits;
    this.#bots = deps.bots;
    this.#assistants = deps.assistants;
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
    return this.#watched(principal, options.signal, (signal, access) =>
      this.#complete(principal, request, { ...options, signal }, access),
    );
  }

  /**
   * Runs work that calls a provider while watching its principal: the signal it gets also aborts when
   * access ends. Released here on failure; on success, by the relay when the answer ends.
   */
  async #watched<T>(
    principal: Principal,
    signal: AbortSignal,
    work: (signal: AbortSignal, access: WatchedAccess | null) => Promise<T>,
  ): Promise<T> {
    const access = this.#access?.watch(principal) ?? null;
    try {
      return await work(access ? either(signal, access.signal) : signal, access);
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
    // The answer names the model asked for (`assistant:<name>`), not the one behind it.
    const askedFor = request.model;
    if (!route && isAssistantModel(request.model))
      request = await this.#assistantRequest(principal, request, {
        signal: options.signal,
        log: options.log,
      });
    if (!route && request.model.startsWith('bot:')) {
      if (!this.#bots)
        throw new KeywayError('model_not_found', `The model "${request.model}" does not exist.`, {
          details: { param: 'model' },
        });
      ({ request, route } = await this.#bots.apply(principal, request, {
        signal: options.signal,
        log: options.log,
      }));
    }
    const attempts: Attempt[] = [];
    if (route) {
      // Grants to the bot reach it; its own limits apply with its caller's.
      const asker: Principal = { ...principal, botId: route.botId };
      const bot: AskingBot = { id: route.botId, name: route.name, limits: route.limits };
      for (const target of route.targets) attempts.push(await this.#prepareChat(asker, request, target, bot));
    } else {
      for (const name of [request.model, ...options.fallbackModels])
        attempts.push(await this.#prepareChat(principal, request, name, null));
    }
    const context: ResponseContext = {
      id: `chatcmpl-${ID_PREFIX}${(++idCounter).toString(36)}`,
      created: Math.floor(Date.now() / 1000),
      model: askedFor,
      includeUsage: request.stream_options?.include_usage === true,
    };
    const sent = await this.#send(principal, attempts, options);
    const relay = this.#relay(principal, sent, context, access, options);
    if (request.stream === true) {
      return {
        kind: 'stream',
        overheadMs: performance.now() - options.startedAt - sent.upstreamMs,
        chunks: () => typedChunks(relay),
        passthrough: sent.attempt.adapter ? null : passthroughViews(relay),
      };
    }
    const readAt = performance.now();
    const whole = await readWhole(relay);
    const upstreamMs = sent.upstreamMs + performance.now() - readAt;
    return { kind: 'whole', overheadMs: performance.now() - options.startedAt - upstreamMs, ...whole };
  }

  /**
   * Relays a provider call in the provider's own format (see `Exchange`): the native pass-throughs,
   * embeddings, transcriptions. Everything a chat completion gets — grants, limits, retries and
   * fallbacks, timeouts, abort, key scrubbing, usage — this gets too.
   */
  async exchange(
    principal: Principal,
    exchange: Exchange,
    options: ExchangeOptions,
  ): Promise<ExchangeAnswer> {
    return this.#watched(principal, options.signal, (signal, access) =>
      this.#exchange(principal, exchange, { ...options, signal }, access),
    );
  }

  async #exchange(
    principal: Principal,
    exchange: Exchange,
    options: ExchangeOptions,
    access: WatchedAccess | null,
  ): Promise<ExchangeAnswer> {
    if (
      [exchange.model, ...options.fallbackModels].some(
        (name) => name.startsWith('bot:') || isAssistantModel(name),
      )
    )
      throw new KeywayError(
        'invalid_request',
        `Bots and assistants answer on /v1/chat/completions, /v1/responses and /v1/messages, not on ${exchange.endpoint}.`,
        { details: { param: 'model' } },
      );
    const attempts: Attempt[] = [];
    if (exchange.credentialId)
      attempts.push(
        await this.#prepareExchange(principal, exchange, {
          credentialId: exchange.credentialId,
          model: exchange.model,
        }),
      );
    else
      for (const name of [exchange.model, ...options.fallbackModels])
        attempts.push(await this.#prepareExchange(principal, exchange, name));
    const sent = await this.#send(principal, attempts, options);
    const call = sent.attempt.call as ExchangeCall;
    const context: ResponseContext = { id: '', created: 0, model: exchange.model, includeUsage: false };
    const relay = this.#relay(principal, sent, context, access, options);
    relay.usage = {
      ofWhole: (text) => call.usageOfWhole(text),
      ofEvent: (event, before) => call.usageOfEvent?.(event, before) ?? before,
    };
    const type = sent.response.headers['content-type'];
    const contentType = (Array.isArray(type) ? type[0] : type) ?? null;
    if (exchange.stream) {
      return {
        kind: 'stream',
        overheadMs: performance.now() - options.startedAt - sent.upstreamMs,
        passthrough: passthroughViews(relay),
        contentType,
      };
    }
    const readAt = performance.now();
    const whole = await readWhole(relay);
    const upstreamMs = sent.upstreamMs + performance.now() - readAt;
    let body = whole.passthrough!;
    if (call.reshape) {
      try {
        body = call.reshape(body);
      } catch {
        throw new ProviderFailure(
          'upstream_invalid',
          'The provider answered with something Keyway cannot read.',
          {
            status: 502,
          },
        );
      }
    }
    return {
      kind: 'whole',
      overheadMs: performance.now() - options.startedAt - upstreamMs,
      body,
      contentType: call.reshape ? null : contentType,
    };
  }

  /**
   * The refusal `complete()` would make, without calling anyone: `model_without_vision` when the request
   * has images and a model it would reach cannot read them. The chat asks before storing a message.
   */
  async refuseImagesWithoutVision(principal: Principal, request: ChatRequest): Promise<void> {
    if (!hasImageParts(request)) return;
    // Only the model is wanted: no retrieval for a check.
    if (isAssistantModel(request.model))
      request = await this.#assistantRequest(principal, request, { ground: false });
    if (!request.model.startsWith('bot:') || !this.#bots) {
      const target = await this.#credentials.resolveModel(principal, request.model);
      return refuseImagesWithoutVision(request, target.model, request.model);
    }
    // Only the route is wanted: no retrieval for a check.
    const { route } = await this.#bots.apply(principal, request, { ground: false });
    for (const { credentialId, model } of route.targets) {
      const asker: Principal = { ...principal, botId: route.botId };
      const target = await this.#credentials.resolveById(asker, credentialId, model);
      refuseImagesWithoutVision(request, target.model, `${request.model} (${target.model})`);
    }
  }

  /** Which provider a model name reaches for this caller: how an ingress picks pass-through or translation. */
  async providerOf(principal: Principal, model: string): Promise<ProviderDefinition | null> {
    // Bots and assistants are answered by `complete()`, whatever provider is behind them.
    if (model.startsWith('bot:') || isAssistantModel(model)) return null;
    return (await this.#credentials.resolveModel(principal, model)).provider;
  }

  /**
   * Sends the first attempt, with retries on 429, 5xx and failed connections and fallbacks to the next
   * attempts, until a provider answers 2xx (handed back with its reservation) or the last one fails.
   */
  async #send(principal: Principal, attempts: Attempt[], options: SendOptions): Promise<Sent> {
    let upstreamMs = 0;
    let lastError: KeywayError | undefined;
    for (const [position, attempt] of attempts.entries()) {
      const isLast = position === attempts.length - 1;
      let reservation: Reservation | null = null;
      if (attempt.charge) {
        try {
          reservation = await attempt.charge.reserve(attempt.bound!);
        } catch (error) {
          // A limit on this credential's grant may leave a fallback credential open.
          if (isLast || !(error instanceof KeywayError)) throw error;
          lastError = error;
          continue;
        }
      }
      let handedOver = false;
      try {
        for (let retry = 0; retry <= this.#timeouts.retries; retry++) {
          const sentAt = performance.now();
          let response: UpstreamStreamingResponse;
          try {
            response = await this.#upstream.open({
              url: attempt.call.url,
              method: 'method' in attempt.call ? (attempt.call.method ?? 'POST') : 'POST',
              headers: attempt.call.headers,
              ...('method' in attempt.call && attempt.call.method ? {} : { body: attempt.call.body }),
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
            handedOver = true;
            return { attempt, response, reservation, upstreamMs };
          }
          // An error answer: read it (bounded), then retry, fall back, or hand it to the caller.
          const readAt = performance.now();
          const text = await readErrorText(response).catch(() => '');
          upstreamMs += performance.now() - readAt;
          const translated = attempt.translateError(response.status, scrubSecret(text, attempt.secret));
          // Scrubbed again once decoded: a key the provider's JSON spelled with escapes (`\u0073k-…`)
          // is whole only in the translated message.
          const info = { ...translated, message: scrubSecret(translated.message, attempt.secret) };
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
      } finally {
        if (!handedOver) reservation?.release();
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

  /** How an answer that started is relayed and, once it ends, settled and recorded. */
  #relay(
    principal: Principal,
    sent: Sent,
    context: ResponseContext,
    access: WatchedAccess | null,
    options: SendOptions,
  ): Relay {
    const { attempt, reservation } = sent;
    return {
      response: sent.response,
      adapter: attempt.adapter,
      context,
      secret: attempt.secret,
      revoked: access?.signal ?? null,
      log: options.log,
      finish: (status: number, usage: TokenCounts | null, relayed: number) => {
        access?.release();
        const used = usage ?? (relayed > 0 && reservation ? reservation.usedTokens(null, relayed) : null);
        if (used) reservation?.settle(used);
        else reservation?.release();
        this.#record(principal, attempt, status, options.startedAt, used);
      },
    };
  }

  /** `<credential>/<model>` for every credential model the caller may use (the chat's picker too). */
  async models(principal: Principal): Promise<ServedModel[]> {
    const credentials = await this.#credentials.usable(principal);
    const lists = await Promise.all(
      credentials.map(async (row) => ({
        row,
        models: await this.#credentials.cachedModels(row).catch(() => []),
      })),
    );
    // A grant with a model list shows only those models: the others do not exist for this caller.
    return lists.flatMap(({ row, models }) => {
      const wire = this.#credentials.wireOf(row.provider);
      return models
        .filter((model) => grantsFor(row, model.id) !== null)
        .map((model) => ({
          id: `${row.name}/${model.id}`,
          owned_by: row.provider,
          endpoints: wire ? endpointsOf(wire, model.id) : [],
        }));
    });
  }

  /**
   * `/v1/models`: every model name `/v1` answers for this caller — credential models, then bots, then
   * assistants (their own and those shared with them).
   */
  async servedModels(principal: Principal): Promise<ServedModel[]> {
    const [models, bots, assistants] = await Promise.all([
      this.models(principal),
      this.#bots ? this.#bots.list(principal) : [],
      this.#assistants ? this.#assistants.list(principal) : [],
    ]);
    const botModels = bots
      .filter((bot) => bot.credentialId !== null)
      .map((bot) => ({ id: `bot:${bot.name}`, owned_by: 'keyway', endpoints: [...BOT_ENDPOINTS] }));
    const assistantModels = assistants.map((assistant) => ({
      id: `assistant:${assistant.name}`,
      owned_by: 'keyway',
      endpoints: [...BOT_ENDPOINTS],
    }));
    return [...models, ...botModels, ...assistantModels];
  }

  /** `assistant:<name>`: the assistant's request (its model, instructions, knowledge, defaults). */
  async #assistantRequest(
    principal: Principal,
    request: ChatRequest,
    options: { signal?: AbortSignal; log?: Logger; ground?: boolean },
  ): Promise<ChatRequest> {
    if (!this.#assistants)
      throw new KeywayError('model_not_found', `The model "${request.model}" does not exist.`, {
        details: { param: 'model' },
      });
    return this.#assistants.apply(principal, request, options);
  }

  /** `/v1/models/{id}`: one model the caller may use, or `model_not_found`. */
  async model(principal: Principal, id: string): Promise<ServedModel> {
    const found = (await this.servedModels(principal)).find((model) => model.id === id);
    if (!found)
      throw new KeywayError('model_not_found', `The model "${id}" does not exist.`, {
        details: { param: 'model' },
      });
    return found;
  }

  /** The credential a model name reaches for this caller, and the limits the request meets on it. */
  async #target(
    principal: Principal,
    model: string | { credentialId: string; model: string },
    bot: AskingBot | null,
  ): Promise<{ target: ModelTarget; charge: Charge | null }> {
    if (typeof model === 'string' && model.startsWith('bot:')) {
      throw new KeywayError('invalid_request', 'A bot cannot be a fallback model.', {
        details: { param: 'model' },
      });
    }
    const target =
      typeof model === 'string'
        ? await this.#credentials.resolveModel(principal, model)
        : await this.#credentials.resolveById(principal, model.credentialId, model.model);
    const charge = this.#limits ? await this.#limits.plan(principal, target, bot) : null;
    return { target, charge };
  }

  async #prepareChat(
    principal: Principal,
    request: ChatRequest,
    model: string | { credentialId: string; model: string },
    bot: AskingBot | null,
  ): Promise<Attempt> {
    const { target, charge } = await this.#target(principal, model, bot);
    // Before any call: images for a model known not to read them are refused in Keyway's words.
    refuseImagesWithoutVision(request, target.model, typeof model === 'string' ? model : request.model);
    let bound: RequestBound | null = null;
    if (charge) {
      // A limit that counts output needs a cap on it: without one the answer could run past what was reserved.
      if (charge.boundsOutput && outputCap(request) === undefined) {
        const field = target.provider.id === 'openai' ? 'max_completion_tokens' : 'max_tokens';
        request = { ...request, [field]: this.#limits!.defaultMaxTokens };
      }
      // A stream is settled by the provider's count, which OpenAI-wire providers send only when asked.
      if (request.stream === true && request.stream_options?.include_usage !== true)
        request = { ...request, stream_options: { ...request.stream_options, include_usage: true } };
      bound = chatRequestBound(request, this.#limits!.defaultMaxTokens);
    }
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
    const translateError = adapter ? adapter.translateError.bind(adapter) : translateOpenAiWireError;
    return { target, botId: bot?.id ?? null, charge, bound, adapter, call, translateError, secret };
  }

  async #prepareExchange(
    principal: Principal,
    exchange: Exchange,
    model: string | { credentialId: string; model: string },
  ): Promise<Attempt> {
    const { target, charge } = await this.#target(principal, model, null);
    const bound = charge ? exchange.bound(this.#limits!.defaultMaxTokens, charge.boundsOutput) : null;
    const secret = this.#credentials.revealSecret(target.credential);
    const call = exchange.build({
      credentialId: target.credential.id,
      model: target.model,
      provider: target.provider,
      secret,
      settings: target.credential.settings,
      baseUrl: effectiveBaseUrl(target.provider, target.credential.settings),
    });
    return {
      target,
      botId: null,
      charge,
      bound,
      adapter: null,
      call,
      translateError: call.translateError.bind(call),
      secret,
    };
  }

  #record(
    principal: Principal,
    attempt: Attempt,
    status: number,
    startedAt: number,
    used: TokenCounts | null,
  ): void {
    const price = used && this.#limits ? this.#limits.priceOf(attempt.target) : null;
    this.#usage.record({
      at: new Date(),
      userId: principal.userId,
      tokenId: principal.tokenId ?? null,
      botId: attempt.botId,
      credentialId: attempt.target.credential.id,
      provider: attempt.target.provider.id,
      model: attempt.target.model,
      inputTokens: used?.inputTokens ?? null,
      outputTokens: used?.outputTokens ?? null,
      cachedTokens: used ? used.cachedTokens : null,
      costUsd: used && price ? costOf(price, used) : null,
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

/** Both pass-through views of one relay (consume one of them, once). */
function passthroughViews(relay: Relay): PassthroughView {
  return {
    toStream: (encodeError) => passthroughStream(relay, encodeError),
    pipeTo: (sink, encodeError) => pipePassthrough(relay, sink, encodeError),
  };
}
