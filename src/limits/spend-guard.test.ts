import { describe, expect, it } from 'vitest';
import type { Principal } from '../auth/principal.ts';
import type { GrantTerms } from '../credentials/credentials.repository.ts';
import type { ModelTarget } from '../credentials/model-resolver.ts';
import { KeywayError } from '../errors.ts';
import type { Price } from '../usage/prices.ts';
import { FakeLedgerRepository, ledgerOver } from '../../test/fakes/fake-ledger-repository.ts';
import type { CallerLimits } from './limits.repository.ts';
import type { Limits } from './limits.ts';
import { SpendGuard, windowOf, type RequestBound } from './spend-guard.ts';

const alice: Principal = {
  userId: 'u-alice',
  username: 'alice',
  role: 'member',
  via: 'token',
  tokenId: 't-1',
};
const TEAM = 'team-physics';

/** $1 per thousand tokens, input and output alike: a request of 1,000 tokens at most reserves $1. */
const PRICE: Price = { input: 1_000, output: 1_000 };
const BOUND: RequestBound = { inputTokens: 600, outputTokens: 400, likelyInputTokens: 150 };

function grant(id: string, limits: Limits, subjectType: GrantTerms['subjectType'] = 'everyone'): GrantTerms {
  return {
    id,
    subjectType,
    subjectId: subjectType === 'team' ? TEAM : subjectType === 'everyone' ? null : 'u-alice',
    models: null,
    limits,
    expiresAt: null,
  };
}

function target(grants: GrantTerms[], price: Price | null = PRICE): ModelTarget {
  return {
    credential: { id: 'c-1', name: 'lab-openai', prices: price ? { 'model-x': price } : {} },
    provider: { id: 'openai-compatible' },
    model: 'model-x',
    grants,
  } as unknown as ModelTarget;
}

/** A spend guard over a real ledger on a fake repository; the caller's limits as given. */
function guardFor(caller: Partial<CallerLimits> = {}) {
  const repository = new FakeLedgerRepository();
  const ledger = ledgerOver(repository);
  const limits: CallerLimits = { user: {}, token: null, teams: [], ...caller };
  const guard = new SpendGuard({
    directory: { of: async () => limits },
    ledger,
    prices: { load: async () => {}, priceOf: (_provider, model, overrides) => overrides?.[model] ?? null },
    defaultMaxTokens: 4096,
  });
  return { guard, ledger, repository };
}

async function refusalOf(promise: Promise<unknown>): Promise<KeywayError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(KeywayError);
    return error as KeywayError;
  }
  throw new Error('expected a refusal');
}

describe('SpendGuard', () => {
  it('plans nothing when no limit applies, so an unlimited request costs no reservation', async () => {
    const { guard } = guardFor();
    expect(await guard.plan(alice, target([grant('g1', {})]), null)).toBeNull();
    expect(await guard.plan(alice, target([]), null)).toBeNull();
  });

  it('refuses a USD limit on a model without a price: it cannot tell what a request costs', async () => {
    const { guard } = guardFor({ user: { usd: { amount: 5, period: 'day' } } });
    const error = await refusalOf(guard.plan(alice, target([], null), null));
    expect(error.code).toBe('price_unknown');
  });

  it('asks for an output cap only when a limit counts output', async () => {
    const rpm = await guardFor({ user: { requestsPerMinute: 5 } }).guard.plan(alice, target([]), null);
    expect(rpm!.boundsOutput).toBe(false);
    const tpm = await guardFor({ user: { tokensPerMinute: 5_000 } }).guard.plan(alice, target([]), null);
    expect(tpm!.boundsOutput).toBe(true);
  });

  it('refuses with the tightest limit: its message, code and details', async () => {
    const { guard, repository, ledger } = guardFor({ user: { usd: { amount: 2, period: 'day' } } });
    const charge = (await guard.plan(
      alice,
      target([grant('g1', { usd: { amount: 10, period: 'month' } })]),
      null,
    ))!;
    const now = new Date('2030-03-15T12:00:00Z');
    for (let i = 0; i < 2; i++) {
      const reservation = await charge.reserve(BOUND, now);
      reservation.settle({ inputTokens: 600, outputTokens: 400, cachedTokens: 0 });
    }
    const error = await refusalOf(charge.reserve(BOUND, now));
    expect(error.code).toBe('budget_exceeded');
    expect(error.status).toBe(429);
    expect(error.message).toBe(
      'Your budget of $2.00 per day has no room left for this request; it resets on 2030-03-16 (UTC).',
    );
    expect(error.details).toEqual({
      limit: { scope: 'user', kind: 'usd', amount: 2, period: 'day' },
      resetsAt: '2030-03-16T00:00:00.000Z',
    });
    // The refused request reserved nothing: the grant's window holds exactly the two settled requests.
    const grantWindow = windowOf(
      { scope: 'grant', id: 'g1', limits: { usd: { amount: 10, period: 'month' } } },
      'usd',
      now,
    )!;
    expect(ledger.unreported(grantWindow.key, grantWindow.start)).toBeCloseTo(2, 9);
    await ledger.sync();
    expect(repository.refusals).toEqual([
      expect.objectContaining({
        limitKey: 'user:u-alice:usd:day',
        code: 'budget_exceeded',
        userId: 'u-alice',
      }),
    ]);
  });

  it('says a budget cannot cover a request bigger than the whole budget, and names the grant', async () => {
    const { guard } = guardFor();
    const charge = (await guard.plan(
      alice,
      target([grant('g1', { tokens: { amount: 500, period: 'total' } })]),
      null,
    ))!;
    const error = await refusalOf(charge.reserve(BOUND));
    expect(error.code).toBe('budget_exceeded');
    expect(error.message).toMatch(
      /^Your grant on lab-openai’s allowance of 500 tokens in total cannot cover this request/,
    );
    expect(error.details).toMatchObject({
      limit: { scope: 'grant', kind: 'tokens', amount: 500, period: 'total' },
      resetsAt: null,
    });
  });

  it('refuses past a requests-per-minute limit with rate_limited and the seconds to wait', async () => {
    const { guard } = guardFor();
    const charge = (await guard.plan(alice, target([grant('g1', { requestsPerMinute: 2 })]), null))!;
    const now = new Date('2030-03-15T12:00:45Z');
    for (let i = 0; i < 2; i++)
      (await charge.reserve(BOUND, now)).settle({ inputTokens: 1, outputTokens: 1, cachedTokens: 0 });
    const error = await refusalOf(charge.reserve(BOUND, now));
    expect(error.code).toBe('rate_limited');
    expect(error.message).toBe(
      'Your grant on lab-openai’s limit of 2 requests per minute is reached; try again in 15 s.',
    );
    expect(error.details).toEqual({
      limit: { scope: 'grant', kind: 'requestsPerMinute', amount: 2, period: 'minute' },
      resetsAt: '2030-03-15T12:01:00.000Z',
      retryAfterSeconds: 15,
    });
    // The next minute is a new window.
    await charge.reserve(BOUND, new Date('2030-03-15T12:01:00Z'));
  });

  it('counts a released request against a per-minute request limit, but not against a budget', async () => {
    const { guard, ledger } = guardFor();
    const limits: Limits = { requestsPerMinute: 10, usd: { amount: 10, period: 'month' } };
    const charge = (await guard.plan(alice, target([grant('g1', limits)]), null))!;
    const now = new Date('2030-03-15T12:00:00Z');
    (await charge.reserve(BOUND, now)).release();
    const holder = { scope: 'grant' as const, id: 'g1', limits };
    const rpm = windowOf(holder, 'requestsPerMinute', now)!;
    const usd = windowOf(holder, 'usd', now)!;
    expect(ledger.unreported(rpm.key, rpm.start)).toBe(1);
    expect(ledger.unreported(usd.key, usd.start)).toBe(0);
  });

  it('settles a stream cut short by its likely input and one token per streamed chunk', async () => {
    const { guard, ledger } = guardFor();
    const limits: Limits = { tokens: { amount: 100_000, period: 'day' } };
    const charge = (await guard.plan(alice, target([grant('g1', limits)]), null))!;
    const now = new Date();
    const reservation = await charge.reserve(BOUND, now);
    const used = reservation.usedTokens(null, 12);
    expect(used).toEqual({ inputTokens: 150, outputTokens: 12, cachedTokens: 0 });
    reservation.settle(used);
    reservation.settle({ inputTokens: 999, outputTokens: 999, cachedTokens: 0 }); // once only
    const window = windowOf({ scope: 'grant', id: 'g1', limits }, 'tokens', now)!;
    expect(ledger.unreported(window.key, window.start)).toBe(162);
  });

  it('falls through to the next grant when a grant refuses, and reports the first refusal when all do', async () => {
    const { guard, ledger } = guardFor({ teams: [{ id: TEAM, name: 'Physics', limits: {} }] });
    const teamGrant = grant('g-team', { requestsPerMinute: 1 }, 'team');
    const everyoneGrant = grant('g-all', { requestsPerMinute: 2 });
    const charge = (await guard.plan(alice, target([teamGrant, everyoneGrant]), null))!;
    const now = new Date('2030-03-15T12:00:30Z');
    const used = { inputTokens: 1, outputTokens: 1, cachedTokens: 0 };
    for (let i = 0; i < 3; i++) (await charge.reserve(BOUND, now)).settle(used);
    const count = (grantId: string) => {
      const window = windowOf(
        { scope: 'grant', id: grantId, limits: { requestsPerMinute: 1 } },
        'requestsPerMinute',
        now,
      )!;
      return ledger.unreported(window.key, window.start);
    };
    // The most specific grant first; the second and third request went to the grant to everyone.
    expect(count('g-team')).toBe(1);
    expect(count('g-all')).toBe(2);
    const error = await refusalOf(charge.reserve(BOUND, now));
    expect(error.code).toBe('rate_limited');
    expect(error.details).toMatchObject({ limit: { scope: 'grant', amount: 1 } });
  });

  it('does not fall through to another grant when the user’s own limit refuses', async () => {
    const { guard, ledger } = guardFor({ user: { requestsPerMinute: 1 } });
    const charge = (await guard.plan(
      alice,
      target([
        grant('g1', { usd: { amount: 100, period: 'month' } }, 'user'),
        grant('g2', { usd: { amount: 100, period: 'month' } }),
      ]),
      null,
    ))!;
    const now = new Date('2030-03-15T12:00:00Z');
    (await charge.reserve(BOUND, now)).settle({ inputTokens: 10, outputTokens: 10, cachedTokens: 0 });
    const error = await refusalOf(charge.reserve(BOUND, now));
    expect(error.code).toBe('rate_limited');
    expect(error.message).toMatch(/^Your limit of 1 requests per minute is reached/);
    expect(error.details).toMatchObject({ limit: { scope: 'user', kind: 'requestsPerMinute', amount: 1 } });
    // The second grant was not tried: nothing is reserved or spent on it.
    const g2 = windowOf(
      { scope: 'grant', id: 'g2', limits: { usd: { amount: 100, period: 'month' } } },
      'usd',
      now,
    )!;
    expect(ledger.unreported(g2.key, g2.start)).toBe(0);
  });

  it('does not fall through when the team’s limit refuses, and names the team', async () => {
    const { guard } = guardFor({
      teams: [{ id: TEAM, name: 'Physics 101', limits: { usd: { amount: 1.5, period: 'week' } } }],
    });
    const charge = (await guard.plan(
      alice,
      target([grant('g-team', {}, 'team'), grant('g-all', { usd: { amount: 100, period: 'month' } })]),
      null,
    ))!;
    const now = new Date('2030-03-13T12:00:00Z'); // a Wednesday: the week began on Monday the 11th
    (await charge.reserve(BOUND, now)).settle({ inputTokens: 600, outputTokens: 400, cachedTokens: 0 });
    const error = await refusalOf(charge.reserve(BOUND, now));
    expect(error.code).toBe('budget_exceeded');
    expect(error.message).toBe(
      'Your team Physics 101’s budget of $1.50 per week has no room left for this request; it resets on 2030-03-18 (UTC).',
    );
    expect(error.details).toMatchObject({
      limit: { scope: 'team', kind: 'usd', amount: 1.5, period: 'week' },
    });
  });

  it('holds a request to its API token’s and its bot’s limits too', async () => {
    const { guard } = guardFor({ token: { name: 'ci', limits: { requestsPerMinute: 1 } } });
    const now = new Date('2030-03-15T12:00:00Z');
    const viaToken = (await guard.plan(alice, target([]), null))!;
    (await viaToken.reserve(BOUND, now)).release();
    const tokenRefusal = await refusalOf(viaToken.reserve(BOUND, now));
    expect(tokenRefusal.message).toMatch(/^This API token’s limit of 1 requests per minute/);

    const { guard: botGuard } = guardFor();
    const viaBot = (await botGuard.plan(alice, target([]), {
      id: 'b-1',
      name: 'helpdesk',
      limits: { requestsPerMinute: 1 },
    }))!;
    (await viaBot.reserve(BOUND, now)).release();
    const botRefusal = await refusalOf(viaBot.reserve(BOUND, now));
    expect(botRefusal.message).toMatch(/^Bot helpdesk’s limit of 1 requests per minute/);
    expect(botRefusal.details).toMatchObject({ limit: { scope: 'bot' } });
  });
});
