import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Principal } from '../auth/principal.ts';
import { withoutNul } from '../db/storable-text.ts';
import { KeywayError } from '../errors.ts';
import type { ExchangeAnswer, ExchangeOptions, GatewayService } from '../gateway/gateway.service.ts';
import {
  ResponseEventEncoder,
  type ResponseStreamEvent,
  type StreamErrorInfo,
} from '../gateway/codecs/responses-events.ts';
import {
  outputAsInput,
  responseFromCompletion,
  responseShell,
  type ResponseObject,
} from '../gateway/codecs/response-object.ts';
import {
  inputItems,
  toChatRequest,
  type ResponseItem,
  type ResponsesRequest,
} from '../gateway/codecs/responses.ts';
import {
  OpenAiResponseLookup,
  OpenAiResponsesExchange,
  type RelayedResponseMade,
} from '../gateway/exchanges/responses.ts';
import { findJsonProblem } from '../http/json-shape.ts';
import type { ProviderDefinition } from '../providers/provider.ts';
import type { ResponsesRepository, ResponseTurn } from './responses.repository.ts';

/**
 * Keyway's response ids: `resp_` as OpenAI's, then `kw`, which OpenAI's (hex) never have — so a
 * request relayed to OpenAI looks an id up in Keyway's store only when it can be Keyway's.
 */
export const KEYWAY_RESPONSE_PREFIX = 'resp_kw';

/** How long Keyway keeps a response it produced (OpenAI keeps its own 30 days too). */
export const RETENTION_MS = 30 * 24 * 60 * 60 * 1000;
/** How often a node sweeps expired responses away, at most (on a write: no timer to stop). */
const SWEEP_INTERVAL_MS = 60 * 60 * 1000;

/** What creating a response gives the route to send. */
export type CreatedResponse =
  /** OpenAI's own answer (JSON or SSE bytes), relayed; `nextSequenceNumber` numbers an appended error. */
  | { kind: 'passthrough'; answer: ExchangeAnswer; nextSequenceNumber(): number }
  | { kind: 'whole'; overheadMs: number; response: ResponseObject }
  | {
      kind: 'stream';
      overheadMs: number;
      /**
       * The Responses events, once. A failure after the start becomes the `error` and
       * `response.failed` events, described by `describe` (the route's error mapping). Ending the
       * iteration early stops the provider.
       */
      events(describe: (error: unknown) => StreamErrorInfo): AsyncIterable<ResponseStreamEvent>;
    };

/** A response asked for: one Keyway stored, or OpenAI's answer about one relayed there. */
export type FoundResponse =
  { kind: 'stored'; response: ResponseObject } | { kind: 'relayed'; answer: ExchangeAnswer };

export type DeletedAnswer =
  { kind: 'stored'; deleted: DeletedResponse } | { kind: 'relayed'; answer: ExchangeAnswer };

export interface DeletedResponse {
  id: string;
  object: 'response.deleted';
  deleted: true;
}

type ResponsesGateway = Pick<GatewayService, 'complete' | 'exchange' | 'providerOf'>;

/** What the service keeps and reads: the repository, or a stand-in with the same methods. */
type ResponsesStore = Pick<ResponsesRepository, keyof ResponsesRepository>;

/**
 * The Responses API on every provider. A model whose credential is OpenAI's (and every fallback
 * too) is relayed to OpenAI's own `/responses`; any other model — and `bot:<name>` — is translated
 * onto the chat core, and Keyway keeps what it produced for its owner (30 days; not with
 * `store: false`) so that `previous_response_id`, `GET` and `DELETE` work as on OpenAI.
 */
export class ResponsesService {
  readonly #gateway: ResponsesGateway;
  readonly #repository: ResponsesStore;
  readonly #logger: Logger;
  readonly #now: () => Date;
  #lastSweep = 0;

  constructor(deps: {
    gateway: ResponsesGateway;
    repository: ResponsesStore;
    logger: Logger;
    now?: () => Date;
  }) {
    this.#gateway = deps.gateway;
    this.#repository = deps.repository;
    this.#logger = deps.logger;
    this.#now = deps.now ?? (() => new Date());
  }

  async create(
    principal: Principal,
    request: ResponsesRequest,
    options: ExchangeOptions,
  ): Promise<CreatedResponse> {
    const names = [request.model, ...options.fallbackModels];
    const providers = await Promise.all(names.map((name) => this.#gateway.providerOf(principal, name)));
    if (providers.every((provider) => provider?.id === 'openai'))
      return this.#relay(principal, request, options);
    return this.#translate(principal, request, options, providers[0] ?? null);
  }

  /**
   * A response of the caller's own: one Keyway stored, or one relayed to OpenAI, asked of the
   * credential that made it (OpenAI's answer as it is). Anyone else's, an expired one or one never
   * made here: not found.
   */
  async retrieve(principal: Principal, id: string, options: ExchangeOptions): Promise<FoundResponse> {
    const relayed = await this.#relayedLookup(principal, 'GET', id, options);
    if (relayed) return { kind: 'relayed', answer: relayed };
    const response = await this.#repository.find(principal.userId, id, this.#now());
    if (!response) throw notFound(id);
    return { kind: 'stored', response };
  }

  async delete(principal: Principal, id: string, options: ExchangeOptions): Promise<DeletedAnswer> {
    const relayed = await this.#relayedLookup(principal, 'DELETE', id, options);
    if (relayed) {
      await this.#repository.deleteRelayed(principal.userId, id);
      return { kind: 'relayed', answer: relayed };
    }
    if (!(await this.#repository.delete(principal.userId, id, this.#now()))) throw notFound(id);
    return { kind: 'stored', deleted: { id, object: 'response.deleted', deleted: true } };
  }

  /** OpenAI's answer about one of the caller's relayed responses; null when the id is not one. */
  async #relayedLookup(
    principal: Principal,
    method: 'GET' | 'DELETE',
    id: string,
    options: ExchangeOptions,
  ): Promise<ExchangeAnswer | null> {
    if (id.startsWith(KEYWAY_RESPONSE_PREFIX)) return null;
    const made = await this.#repository.findRelayed(principal.userId, id, this.#now());
    if (!made) return null;
    const lookup = new OpenAiResponseLookup(method, id, made);
    return this.#gateway.exchange(principal, lookup, { ...options, fallbackModels: [] });
  }

  /** Deletes expired responses (every node may; each row goes once). */
  async sweep(): Promise<number> {
    return this.#repository.deleteExpired(this.#now());
  }

  async #relay(
    principal: Principal,
    request: ResponsesRequest,
    options: ExchangeOptions,
  ): Promise<CreatedResponse> {
    let body: Record<string, unknown> & { model: string } = request;
    // A conversation begun on a translated model continues on OpenAI with its turns inlined: OpenAI
    // does not know Keyway's ids. Any other id is OpenAI's to resolve.
    if (request.previous_response_id?.startsWith(KEYWAY_RESPONSE_PREFIX)) {
      const turns = await this.#repository.chain(principal.userId, request.previous_response_id, this.#now());
      if (turns.length > 0) {
        const { previous_response_id: _inlined, ...rest } = request;
        const input = typeof request.input === 'string' ? inputItems(request.input) : (request.input ?? []);
        body = { ...rest, input: [...historyOf(turns), ...input] };
      }
    }
    // Where OpenAI keeps what it makes here, so GET and DELETE reach the same credential for its owner.
    let remembered: Promise<void> | null = null;
    const remember = (made: RelayedResponseMade) => {
      remembered = this.#repository
        .insertRelayed({ ...made, ownerId: principal.userId, expiresAt: this.#expiry() })
        .then(() => this.#sweepNowAndThen())
        .catch((error: unknown) =>
          this.#logger.warn({ err: error, id: made.id }, 'could not remember a relayed response'),
        );
    };
    const exchange = new OpenAiResponsesExchange(body, request.store === false ? undefined : remember);
    const answer = await this.#gateway.exchange(principal, exchange, options);
    // A whole answer's id is known now: remembered before the client can ask for it.
    if (answer.kind === 'whole') await remembered;
    return { kind: 'passthrough', answer, nextSequenceNumber: () => exchange.nextSequenceNumber };
  }

  async #translate(
    principal: Principal,
    request: ResponsesRequest,
    options: ExchangeOptions,
    provider: ProviderDefinition | null,
  ): Promise<CreatedResponse> {
    const store = request.store !== false;
    // Checked before the provider is paid: PostgreSQL cannot store a NUL character.
    const problem = store ? findJsonProblem(request, { rejectNul: true }) : null;
    if (problem?.kind === 'nul')
      throw new KeywayError(
        'invalid_text',
        `${problem.path} contains a NUL character (\\u0000), which Keyway cannot store (send store: false to skip storing).`,
        { details: { param: problem.path } },
      );
    const items = inputItems(request.input);
    const history = request.previous_response_id
      ? await this.#history(principal, request.previous_response_id)
      : [];
    const chat = toChatRequest(request, [...history, ...items], {
      providerLabel: provider?.label ?? null,
      maxTokensField: provider?.id === 'openai' ? 'max_completion_tokens' : 'max_tokens',
    });
    const shell = responseShell(request, `${KEYWAY_RESPONSE_PREFIX}${hex()}`, this.#seconds());
    const completion = await this.#gateway.complete(principal, chat, options);
    const save = store ? (response: ResponseObject) => this.#save(principal, request, items, response) : null;
    if (completion.kind === 'whole') {
      const finishedAt = performance.now();
      const response = responseFromCompletion(shell, completion.completion(), {
        newId,
        completedAt: this.#seconds(),
      });
      await save?.(response);
      return { kind: 'whole', overheadMs: completion.overheadMs + performance.now() - finishedAt, response };
    }
    const encoder = new ResponseEventEncoder(shell, newId);
    const seconds = () => this.#seconds();
    return {
      kind: 'stream',
      overheadMs: completion.overheadMs,
      async *events(describe) {
        yield* encoder.start();
        try {
          for await (const chunk of completion.chunks()) yield* encoder.push(chunk);
        } catch (error) {
          yield* encoder.fail(describe(error));
          return;
        }
        const { events, response } = encoder.finish(seconds());
        yield* events;
        await save?.(response);
        yield encoder.terminal(response);
      },
    };
  }

  /** The items of the conversation ending with `id`, or OpenAI's 400 when it is not the caller's. */
  async #history(principal: Principal, id: string): Promise<ResponseItem[]> {
    const turns = await this.#repository.chain(principal.userId, id, this.#now());
    if (turns.length === 0)
      throw new KeywayError('previous_response_not_found', `Previous response with id '${id}' not found.`, {
        details: { param: 'previous_response_id' },
      });
    return historyOf(turns);
  }

  /**
   * Keeps a finished response for its owner. A failed write is logged, not answered: the client has
   * its answer, and a later `previous_response_id` naming it gets a clear 400.
   */
  async #save(
    principal: Principal,
    request: ResponsesRequest,
    input: ResponseItem[],
    response: ResponseObject,
  ) {
    const now = this.#now();
    try {
      await this.#repository.insert({
        id: response.id,
        ownerId: principal.userId,
        previousResponseId: request.previous_response_id ?? null,
        input,
        // Providers' text may hold a NUL, which PostgreSQL cannot store.
        response: storable(response),
        expiresAt: new Date(now.getTime() + RETENTION_MS),
      });
    } catch (error) {
      this.#logger.error({ err: error, responseId: response.id }, 'could not store a response');
      return;
    }
    this.#sweepNowAndThen();
  }

  /** On a write, at most hourly: expired rows of both kinds go (no timer to stop). */
  #sweepNowAndThen(): void {
    const now = this.#now().getTime();
    if (now - this.#lastSweep <= SWEEP_INTERVAL_MS) return;
    this.#lastSweep = now;
    this.sweep().catch((error: unknown) =>
      this.#logger.warn({ err: error }, 'could not delete expired responses'),
    );
  }

  #expiry(): Date {
    return new Date(this.#now().getTime() + RETENTION_MS);
  }

  #seconds(): number {
    return Math.floor(this.#now().getTime() / 1000);
  }
}

function historyOf(turns: ResponseTurn[]): ResponseItem[] {
  return turns.flatMap((turn) => [...turn.input, ...outputAsInput(turn.output)]);
}

function notFound(id: string): KeywayError {
  return new KeywayError(
    'not_found',
    `Response with id '${id}' not found. (Keyway keeps the responses of translated models; OpenAI keeps those of its own models, which Keyway relays but cannot fetch back.)`,
    { details: { param: 'response_id' } },
  );
}

/** Item ids as OpenAI makes them: a prefix and 48 hex digits. */
function newId(prefix: 'msg' | 'fc'): string {
  return `${prefix}_${hex()}`;
}

/** Unguessable: response ids name stored answers. */
function hex(): string {
  return randomBytes(24).toString('hex');
}

function storable<T>(value: T): T {
  if (typeof value === 'string') return withoutNul(value) as T;
  if (Array.isArray(value)) return value.map(storable) as T;
  if (typeof value === 'object' && value !== null)
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, storable(item)])) as T;
  return value;
}
