import type { Principal } from '../auth/principal.ts';
import type { GrantTerms } from '../credentials/credentials.repository.ts';
import type { ModelTarget } from '../credentials/model-resolver.ts';
import { KeywayError } from '../errors.ts';
import { costOf, type Price, type TokenCounts } from '../usage/prices.ts';
import type { AllowanceLedger, WindowSpec } from './allowance-ledger.ts';
import type { LimitsDirectory } from './limits-directory.ts';
import { hasLimits, windowEnd, windowStart, type Limits, type Period } from './limits.ts';

/** Who a limit sits on. */
export type LimitScope = 'user' | 'team' | 'grant' | 'token' | 'bot';
export type LimitKind = 'usd' | 'tokens' | 'requestsPerMinute' | 'tokensPerMinute';

/** A user, team, grant, token or bot with its limits, as one request meets them. */
export interface LimitHolder {
  scope: LimitScope;
  id: string;
  /** How a refusal names it to the caller: "your", "your team Physics's", … */
  owner: string;
  limits: Limits;
}

/** The bot asking, when one is. */
export interface AskingBot {
  id: string;
  name: string;
  limits: Limits;
}

/**
 * What a bound counts for an image, by URL or inline (never its base64's bytes): the providers'
 * largest tile budget, the most one image can cost.
 */
export const URL_IMAGE_TOKENS = 1_600;

/** The most a request can use: what is reserved before it is sent. */
export interface RequestBound {
  /** An upper bound on its input tokens (its size in bytes: a token is at least a byte). */
  inputTokens: number;
  /** Its output cap (`max_tokens`, or the default Keyway sends when a limit needs one). */
  outputTokens: number;
  /** A fair guess at its input tokens, charged when a stream breaks off before the provider counted. */
  likelyInputTokens: number;
}

export interface PriceLookup {
  /** Resolves once `priceOf` may be called (the catalogue is imported after start-up). */
  load(): Promise<void>;
  priceOf(provider: string, model: string, overrides?: Record<string, Price>): Price | null;
}

/** One limit window a request takes from, and how much. */
interface Take {
  holder: LimitHolder;
  spec: WindowSpec;
  kind: LimitKind;
  amount: number;
}

/**
 * Decides which limits a request meets and holds them to it: every limit of the caller's token, the
 * user, each of the user's teams that reaches the credential, the grant used and the asking bot.
 * The tightest refuses. Reservations come from the allowance ledger, so nothing here costs a database
 * round trip on a warm path, and no request with no limit pays for any of this (`plan` answers null).
 */
export class SpendGuard {
  readonly #directory: Pick<LimitsDirectory, 'of'>;
  readonly #ledger: Pick<AllowanceLedger, 'take' | 'settle' | 'countRefusal'>;
  readonly #prices: PriceLookup;
  readonly defaultMaxTokens: number;

  constructor(deps: {
    directory: Pick<LimitsDirectory, 'of'>;
    ledger: Pick<AllowanceLedger, 'take' | 'settle' | 'countRefusal'>;
    prices: PriceLookup;
    defaultMaxTokens: number;
  }) {
    this.#directory = deps.directory;
    this.#ledger = deps.ledger;
    this.#prices = deps.prices;
    this.defaultMaxTokens = deps.defaultMaxTokens;
  }

  /** The price of the target's model (the credential's override first); null when unknown. */
  priceOf(target: ModelTarget): Price | null {
    return this.#prices.priceOf(target.provider.id, target.model, target.credential.prices);
  }

  /** The limits a request to `target` meets, or null when none does. */
  async plan(principal: Principal, target: ModelTarget, bot: AskingBot | null): Promise<Charge | null> {
    // Every request is planned before it is sent, so `priceOf` (here and when it is recorded) finds the
    // catalogue loaded; after the first request this is a resolved promise.
    await this.#prices.load();
    const caller = await this.#directory.of(principal);
    const common: LimitHolder[] = [];
    if (caller.token && hasLimits(caller.token.limits))
      common.push({
        scope: 'token',
        id: principal.tokenId!,
        owner: 'this API token’s',
        limits: caller.token.limits,
      });
    if (hasLimits(caller.user))
      common.push({ scope: 'user', id: principal.userId, owner: 'your', limits: caller.user });
    if (bot && hasLimits(bot.limits))
      common.push({ scope: 'bot', id: bot.id, owner: `bot ${bot.name}’s`, limits: bot.limits });
    const grantTeams = new Set(
      target.grants.filter((grant) => grant.subjectType === 'team').map((grant) => grant.subjectId),
    );
    for (const team of caller.teams) {
      if (grantTeams.has(team.id) && hasLimits(team.limits))
        common.push({ scope: 'team', id: team.id, owner: `your team ${team.name}’s`, limits: team.limits });
    }
    const grants: (GrantTerms | null)[] = target.grants.length > 0 ? target.grants : [null];
    if (common.length === 0 && grants.every((grant) => !grant || !hasLimits(grant.limits))) return null;

    const price = this.priceOf(target);
    const priced = [...common, ...grants.map((grant) => grant && { limits: grant.limits })].some(
      (holder) => holder?.limits.usd !== undefined,
    );
    if (priced && !price) {
      throw new KeywayError(
        'price_unknown',
        `A spending limit applies to you, and Keyway knows no price for the model "${target.model}", so it cannot tell what the request would cost.`,
        {
          fix: `The credential's owner can set one: PATCH /api/credentials/:id with prices {"${target.model}": {"input": …, "output": …}}.`,
        },
      );
    }
    const options = grants.map((grant) =>
      grant && hasLimits(grant.limits)
        ? [
            ...common,
            {
              scope: 'grant' as const,
              id: grant.id,
              owner: `your grant on ${target.credential.name}’s`,
              limits: grant.limits,
            },
          ]
        : common,
    );
    return new Charge(this.#ledger, options, price ?? { input: 0, output: 0 }, principal.userId);
  }
}

/** The limits one request meets, with the reservation it takes from them. */
export class Charge {
  readonly #ledger: Pick<AllowanceLedger, 'take' | 'settle' | 'countRefusal'>;
  /** The limit sets to try in order: one per grant the caller could use, most specific first. */
  readonly #options: LimitHolder[][];
  readonly #price: Price;
  readonly #userId: string;

  constructor(
    ledger: Pick<AllowanceLedger, 'take' | 'settle' | 'countRefusal'>,
    options: LimitHolder[][],
    price: Price,
    userId: string,
  ) {
    this.#ledger = ledger;
    this.#options = options;
    this.#price = price;
    this.#userId = userId;
  }

  /** Whether a limit counts output, so the request must carry an output cap. */
  get boundsOutput(): boolean {
    return this.#options.some((holders) =>
      holders.some(
        ({ limits }) =>
          limits.usd !== undefined || limits.tokens !== undefined || limits.tokensPerMinute !== undefined,
      ),
    );
  }

  /** Reserves the most the request can use; throws `budget_exceeded` or `rate_limited` naming the limit. */
  async reserve(bound: RequestBound, now = new Date()): Promise<Reservation> {
    const most: TokenCounts = {
      inputTokens: bound.inputTokens,
      outputTokens: bound.outputTokens,
      cachedTokens: 0,
    };
    let refusal: KeywayError | undefined;
    for (const holders of this.#options) {
      const takes = holders.flatMap((holder) => takesOf(holder, most, this.#price, now));
      const taken: Take[] = [];
      let refused: Take | undefined;
      for (const take of takes) {
        if (await this.#ledger.take(take.spec, take.amount)) taken.push(take);
        else {
          refused = take;
          break;
        }
      }
      if (!refused) return new Reservation(this.#ledger, taken, this.#price, bound);
      for (const take of taken) this.#ledger.settle(take.spec, take.amount, 0);
      const { holder } = refused;
      this.#ledger.countRefusal(refused.spec.key, codeOf(refused.kind), this.#userId);
      refusal ??= refusalOf(refused, now);
      // Another grant may still have room; any other limit refuses whatever the grant.
      if (holder.scope !== 'grant') break;
    }
    throw refusal!;
  }
}

/** A request's hold on its limits until it ends: settled with what it used, or released. */
export class Reservation {
  readonly #ledger: Pick<AllowanceLedger, 'settle'>;
  readonly #takes: Take[];
  readonly #price: Price;
  readonly #bound: RequestBound;
  #done = false;

  constructor(ledger: Pick<AllowanceLedger, 'settle'>, takes: Take[], price: Price, bound: RequestBound) {
    this.#ledger = ledger;
    this.#takes = takes;
    this.#price = price;
    this.#bound = bound;
  }

  /**
   * What the request used, as the provider counted it; when it did not (a stream cut off), the likely
   * input and one token per streamed chunk.
   */
  usedTokens(usage: TokenCounts | null, streamedChunks: number): TokenCounts {
    return (
      usage ?? {
        inputTokens: this.#bound.likelyInputTokens,
        outputTokens: streamedChunks,
        cachedTokens: 0,
      }
    );
  }

  /** Settles with what the request used (once; later calls do nothing). */
  settle(used: TokenCounts): void {
    if (this.#done) return;
    this.#done = true;
    for (const take of this.#takes)
      this.#ledger.settle(take.spec, take.amount, measure(take.kind, used, this.#price));
  }

  /** The request failed before using anything: only the request itself counts (against per-minute request limits). */
  release(): void {
    if (this.#done) return;
    this.#done = true;
    for (const take of this.#takes)
      this.#ledger.settle(take.spec, take.amount, take.kind === 'requestsPerMinute' ? 1 : 0);
  }
}

function measure(kind: LimitKind, used: TokenCounts, price: Price): number {
  switch (kind) {
    case 'usd':
      return costOf(price, used);
    case 'tokens':
    case 'tokensPerMinute':
      return used.inputTokens + used.outputTokens;
    case 'requestsPerMinute':
      return 1;
  }
}

/** The window a limit of `kind` on `scope:id` counts in at `now`: the key is the same on every node. */
export function windowOf(
  holder: Pick<LimitHolder, 'scope' | 'id' | 'limits'>,
  kind: LimitKind,
  now: Date,
): WindowSpec | null {
  const { limits } = holder;
  const spec = (suffix: string, period: Period | 'minute', cap: number): WindowSpec => ({
    key: `${holder.scope}:${holder.id}:${suffix}`,
    start: windowStart(period, now),
    end: windowEnd(period, now),
    cap,
  });
  switch (kind) {
    case 'requestsPerMinute':
      return limits.requestsPerMinute === undefined ? null : spec('rpm', 'minute', limits.requestsPerMinute);
    case 'tokensPerMinute':
      return limits.tokensPerMinute === undefined ? null : spec('tpm', 'minute', limits.tokensPerMinute);
    case 'tokens':
      return limits.tokens === undefined
        ? null
        : spec(`tokens:${limits.tokens.period}`, limits.tokens.period, limits.tokens.amount);
    case 'usd':
      return limits.usd === undefined
        ? null
        : spec(`usd:${limits.usd.period}`, limits.usd.period, limits.usd.amount);
  }
}

export const LIMIT_KINDS: LimitKind[] = ['requestsPerMinute', 'tokensPerMinute', 'tokens', 'usd'];

function takesOf(holder: LimitHolder, most: TokenCounts, price: Price, now: Date): Take[] {
  const takes: Take[] = [];
  for (const kind of LIMIT_KINDS) {
    const spec = windowOf(holder, kind, now);
    if (spec) takes.push({ holder, spec, kind, amount: measure(kind, most, price) });
  }
  return takes;
}

const codeOf = (kind: LimitKind) =>
  kind === 'requestsPerMinute' || kind === 'tokensPerMinute' ? 'rate_limited' : 'budget_exceeded';

const number = new Intl.NumberFormat('en-US');
const cents = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD' });
const fraction = new Intl.NumberFormat('en-US', {
  style: 'currency',
  currency: 'USD',
  maximumSignificantDigits: 2,
});
/** Dollars to the cent, and a budget under a cent to two significant digits (never "$0.00"). */
const usd = { format: (amount: number) => (amount >= 0.01 ? cents : fraction).format(amount) };

/** The refusal a caller reads: which limit (theirs, their team's, the grant's…), and when it resets. */
function refusalOf(take: Take, now: Date): KeywayError {
  const { holder } = take;
  const owner = holder.owner.charAt(0).toUpperCase() + holder.owner.slice(1);
  const { limits } = holder;
  const resetsAt = take.spec.end;
  const details = (amount: number, period: Period | 'minute') => ({
    limit: { scope: holder.scope, kind: take.kind, amount, period },
    resetsAt: resetsAt?.toISOString() ?? null,
  });
  if (take.kind === 'requestsPerMinute' || take.kind === 'tokensPerMinute') {
    const amount = take.kind === 'requestsPerMinute' ? limits.requestsPerMinute! : limits.tokensPerMinute!;
    const seconds = Math.max(1, Math.ceil((resetsAt!.getTime() - now.getTime()) / 1000));
    const what = take.kind === 'requestsPerMinute' ? 'requests' : 'tokens';
    return new KeywayError(
      'rate_limited',
      `${owner} limit of ${number.format(amount)} ${what} per minute is reached; try again in ${seconds} s.`,
      { details: { ...details(amount, 'minute'), retryAfterSeconds: seconds } },
    );
  }
  const { amount, period } = take.kind === 'usd' ? limits.usd! : limits.tokens!;
  const size =
    take.kind === 'usd' ? `budget of ${usd.format(amount)}` : `allowance of ${number.format(amount)} tokens`;
  const per = period === 'total' ? 'in total' : `per ${period}`;
  const reset = resetsAt ? `; it resets on ${resetsAt.toISOString().slice(0, 10)} (UTC)` : '';
  const what =
    take.amount > amount
      ? ` cannot cover this request (reserved for its most: its input and its max_tokens${take.kind === 'usd' ? ' at the model’s price' : ''}; ask for fewer max_tokens)`
      : ' has no room left for this request';
  return new KeywayError('budget_exceeded', `${owner} ${size} ${per}${what}${reset}.`, {
    details: details(amount, period),
  });
}
