import { describe, expect, it } from 'vitest';
import {
  describeLimits,
  emptyLimitsForm,
  formatLimit,
  formatUsd,
  limitRefusal,
  limitsToForm,
  parseLimitsForm,
  refusalSummary,
  resetsText,
  spentFraction,
  spentText,
} from './limits.ts';

describe('parseLimitsForm', () => {
  it('reads an empty form as no limits at all ({} removes every limit)', () => {
    expect(parseLimitsForm(emptyLimitsForm)).toEqual({ errors: {}, limits: {} });
  });

  it('builds every kind of limit, ignoring the separators people type in big numbers', () => {
    const { errors, limits } = parseLimitsForm({
      usdAmount: '$20',
      usdPeriod: 'month',
      tokensAmount: '2,000,000',
      tokensPeriod: 'day',
      requestsPerMinute: '60',
      tokensPerMinute: '100 000',
    });
    expect(errors).toEqual({});
    expect(limits).toEqual({
      usd: { amount: 20, period: 'month' },
      tokens: { amount: 2_000_000, period: 'day' },
      requestsPerMinute: 60,
      tokensPerMinute: 100_000,
    });
  });

  it('keeps cents and refuses zero, negatives, fractions of tokens and text', () => {
    expect(parseLimitsForm({ ...emptyLimitsForm, usdAmount: '0.5' }).limits).toEqual({
      usd: { amount: 0.5, period: 'month' },
    });
    const { errors, limits } = parseLimitsForm({
      ...emptyLimitsForm,
      usdAmount: '0',
      tokensAmount: '1.5',
      requestsPerMinute: '-1',
      tokensPerMinute: 'lots',
    });
    expect(limits).toBeNull();
    expect(Object.keys(errors).sort()).toEqual(['requestsPerMinute', 'tokens', 'tokensPerMinute', 'usd']);
  });

  it('round-trips through limitsToForm', () => {
    const limits = { usd: { amount: 5, period: 'week' as const }, requestsPerMinute: 10 };
    expect(parseLimitsForm(limitsToForm(limits)).limits).toEqual(limits);
    expect(limitsToForm(null)).toEqual(emptyLimitsForm);
  });
});

describe('formatting limits', () => {
  it('formats USD with cents, and small costs with significant digits instead of $0.00', () => {
    expect(formatUsd(20)).toBe('$20.00');
    expect(formatUsd(1234.5)).toBe('$1,234.50');
    expect(formatUsd(0)).toBe('$0.00');
    expect(formatUsd(0.0042)).toBe('$0.0042');
  });

  it('says each limit in words', () => {
    expect(formatLimit('usd', 20, 'month')).toBe('$20.00 per month');
    expect(formatLimit('tokens', 2_000_000, 'total')).toBe('2,000,000 tokens in total');
    expect(formatLimit('requestsPerMinute', 60)).toBe('60 requests per minute');
    expect(formatLimit('tokensPerMinute', 100_000, null)).toBe('100,000 tokens per minute');
    expect(
      describeLimits({ usd: { amount: 1, period: 'day' }, tokensPerMinute: 5, requestsPerMinute: 1 }),
    ).toEqual(['$1.00 per day', '1 request per minute', '5 tokens per minute']);
    expect(describeLimits({})).toEqual([]);
  });

  it('fills a meter from 0 to 1 and says what is spent', () => {
    expect(spentFraction(5, 20)).toBe(0.25);
    expect(spentFraction(30, 20)).toBe(1);
    expect(spentFraction(-1, 20)).toBe(0);
    expect(spentFraction(1, 0)).toBe(1);
    expect(spentText('usd', 4.2, 20)).toBe('$4.20 of $20.00');
    expect(spentText('tokens', 1200.4, 2_000_000)).toBe('1,200 of 2,000,000 tokens');
  });

  it('says when a window resets, in UTC like the windows themselves', () => {
    expect(resetsText('2027-01-01T00:00:00.000Z', 'usd', 'month')).toBe('resets Jan 1, 2027');
    expect(resetsText(null, 'usd', 'total')).toBe('never resets');
    expect(resetsText('2027-01-01T00:00:00.000Z', 'usd', 'total')).toBe('never resets');
    expect(resetsText('2026-12-31T10:42:00.000Z', 'requestsPerMinute')).toBe('resets at 10:42 AM UTC');
  });
});

describe('limitRefusal', () => {
  const details = {
    limit: { scope: 'team', kind: 'usd', amount: 20, period: 'month' },
    resetsAt: '2027-01-01T00:00:00.000Z',
  };

  it('reads the refusing limit of a 429 budget_exceeded and says it in a line', () => {
    const refusal = limitRefusal({
      status: 429,
      code: 'budget_exceeded',
      message: "Your team Physics 101's budget of $20.00 per month is spent; it resets on 2027-01-01.",
      details,
    });
    expect(refusal?.code).toBe('budget_exceeded');
    expect(refusal?.details?.limit).toEqual({ scope: 'team', kind: 'usd', amount: 20, period: 'month' });
    expect(refusalSummary(refusal!.details!)).toBe(
      "Limit: your team's $20.00 per month · resets Jan 1, 2027",
    );
  });

  it('keeps a rate limit without details, and ignores every other error', () => {
    expect(limitRefusal({ code: 'rate_limited', message: 'Slow down.' })).toEqual({
      code: 'rate_limited',
      message: 'Slow down.',
      details: null,
    });
    expect(limitRefusal({ code: 'model_not_found', details })).toBeNull();
    expect(
      refusalSummary({
        limit: { scope: 'user', kind: 'requestsPerMinute', amount: 60 },
        resetsAt: '2026-12-31T10:42:00.000Z',
      }),
    ).toBe('Limit: your 60 requests per minute · resets at 10:42 AM UTC');
  });
});
