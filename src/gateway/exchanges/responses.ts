import { KeywayError } from '../../errors.ts';
import type { RequestBound } from '../../limits/spend-guard.ts';
import type { TokenCounts } from '../../usage/prices.ts';
import { translateOpenAiWireError } from '../adapters/openai-wire.ts';
import type { Exchange, ExchangeCall, ExchangeTarget } from '../exchange.ts';

/** The events whose `response` carries the final usage. */
const FINAL_EVENTS = new Set(['response.completed', 'response.incomplete', 'response.failed']);
const SEQUENCE_NUMBER = /"sequence_number"\s*:\s*(\d+)/;

/**
 * `POST /v1/responses` relayed to OpenAI as it is: the client's body with only `model` replaced (fields
 * Keyway does not know survive), OpenAI's answer and events byte for byte. OpenAI stores these
 * responses itself, so `previous_response_id` works there natively. Usage comes from the answer's
 * `usage` (the final event's, when streamed). One object per request: it also remembers the last
 * `sequence_number` relayed, so an error Keyway appends continues the numbering.
 */
export class OpenAiResponsesExchange implements Exchange {
  readonly endpoint = '/v1/responses';
  readonly model: string;
  readonly stream: boolean;
  #body: Record<string, unknown>;
  #lastSequenceNumber = -1;
  readonly #onCreated: ((made: RelayedResponseMade) => void) | undefined;
  #created = false;

  /** `onCreated` hears once which credential made the response, as soon as its id is seen. */
  constructor(
    body: Record<string, unknown> & { model: string },
    onCreated?: (made: RelayedResponseMade) => void,
  ) {
    this.#body = body;
    this.model = body.model;
    this.stream = body.stream === true;
    this.#onCreated = onCreated;
  }

  #made(response: unknown, target: ExchangeTarget): void {
    const id = (response as { id?: unknown } | undefined)?.id;
    if (this.#created || typeof id !== 'string') return;
    this.#created = true;
    this.#onCreated?.({ id, credentialId: target.credentialId, model: target.model });
  }

  /** The `sequence_number` of the next event, if Keyway has to write one (an error after the start). */
  get nextSequenceNumber(): number {
    return this.#lastSequenceNumber + 1;
  }

  bound(defaultMaxTokens: number, capOutput: boolean): RequestBound {
    const cap = this.#body.max_output_tokens;
    let outputTokens = typeof cap === 'number' && Number.isInteger(cap) && cap > 0 ? cap : undefined;
    if (outputTokens === undefined && capOutput) {
      this.#body = { ...this.#body, max_output_tokens: defaultMaxTokens };
      outputTokens = defaultMaxTokens;
    }
    const inputTokens = Buffer.byteLength(JSON.stringify(this.#body));
    return {
      inputTokens,
      outputTokens: outputTokens ?? defaultMaxTokens,
      likelyInputTokens: Math.ceil(inputTokens / 4),
    };
  }

  build(target: ExchangeTarget): ExchangeCall {
    if (target.provider.id !== 'openai')
      throw new KeywayError(
        'upstream_unsupported',
        `${target.provider.label} has no Responses API of its own: Keyway relays /v1/responses only to OpenAI.`,
        { details: { param: 'model' } },
      );
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (target.secret) headers.authorization = `Bearer ${target.secret}`;
    if (typeof target.settings.organization === 'string')
      headers['openai-organization'] = target.settings.organization;
    return {
      url: `${target.baseUrl}/responses`,
      headers,
      body: JSON.stringify({ ...this.#body, model: target.model }),
      translateError: translateOpenAiWireError,
      usageOfWhole: (text) => {
        const response = parseObject(text);
        this.#made(response, target);
        return usageOf(response);
      },
      usageOfEvent: (event, before) => {
        const sequence = SEQUENCE_NUMBER.exec(event.data);
        if (sequence) this.#lastSequenceNumber = Number(sequence[1]);
        const type = event.event ?? /"type"\s*:\s*"([^"]+)"/.exec(event.data)?.[1];
        if (type === 'response.created') this.#made(parseObject(event.data)?.response, target);
        if (!type || !FINAL_EVENTS.has(type)) return before;
        return usageOf(parseObject(event.data)?.response) ?? before;
      },
    };
  }
}

/** A response OpenAI made through Keyway: its id, and the credential and model that made it. */
export interface RelayedResponseMade {
  id: string;
  credentialId: string;
  model: string;
}

/**
 * `GET` or `DELETE /v1/responses/{id}` of a response relayed to OpenAI, sent with the credential that
 * made it (the exchange is pinned to it). OpenAI's answer relayed as it is.
 */
export class OpenAiResponseLookup implements Exchange {
  readonly endpoint = '/v1/responses';
  readonly stream = false;
  readonly model: string;
  readonly credentialId: string;
  readonly #id: string;
  readonly #method: 'GET' | 'DELETE';

  constructor(method: 'GET' | 'DELETE', id: string, made: { credentialId: string; model: string }) {
    this.#method = method;
    this.#id = id;
    this.model = made.model;
    this.credentialId = made.credentialId;
  }

  bound(): RequestBound {
    return { inputTokens: 0, outputTokens: 0, likelyInputTokens: 0 };
  }

  build(target: ExchangeTarget): ExchangeCall {
    const headers: Record<string, string> = {};
    if (target.secret) headers.authorization = `Bearer ${target.secret}`;
    if (typeof target.settings.organization === 'string')
      headers['openai-organization'] = target.settings.organization;
    return {
      method: this.#method,
      url: `${target.baseUrl}/responses/${encodeURIComponent(this.#id)}`,
      headers,
      body: '',
      translateError: translateOpenAiWireError,
      usageOfWhole: () => null,
    };
  }
}

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** A Response object's `usage` as token counts (`input_tokens` includes the cached ones). */
export function usageOf(response: unknown): TokenCounts | null {
  if (typeof response !== 'object' || response === null) return null;
  const usage = (response as { usage?: unknown }).usage;
  if (typeof usage !== 'object' || usage === null) return null;
  const { input_tokens, output_tokens, input_tokens_details } = usage as {
    input_tokens?: unknown;
    output_tokens?: unknown;
    input_tokens_details?: { cached_tokens?: unknown } | null;
  };
  const count = (value: unknown) => (typeof value === 'number' && Number.isFinite(value) ? value : 0);
  return {
    inputTokens: count(input_tokens),
    outputTokens: count(output_tokens),
    cachedTokens: count(input_tokens_details?.cached_tokens),
  };
}
