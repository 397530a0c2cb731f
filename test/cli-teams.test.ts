import { describe, expect, it } from 'vitest';
import { parseExpiry, parseModels } from '../src/cli/creds.ts';
import { runCli } from '../src/cli/main.ts';
import { describeLimits, limitsFromFlags, parseAmountPerPeriod, parseSubject } from '../src/cli/teams.ts';
import { formatUsd } from '../src/cli/usage.ts';
import { KeywayError } from '../src/errors.ts';

/** The message of the usage error `fn` throws (and fails when it throws none, or another kind). */
function usageError(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(KeywayError);
    expect((error as KeywayError).code).toBe('usage');
    return (error as KeywayError).message;
  }
  throw new Error('no error was thrown');
}

describe('limits as typed on the command line', () => {
  it.each([
    ['20/month', 'usd', { amount: 20, period: 'month' }],
    ['$2.50/day', 'usd', { amount: 2.5, period: 'day' }],
    [' 0.5 / Week ', 'usd', { amount: 0.5, period: 'week' }],
    ['2M/day', 'tokens', { amount: 2_000_000, period: 'day' }],
    ['100k/week', 'tokens', { amount: 100_000, period: 'week' }],
    ['1,000,000/total', 'tokens', { amount: 1_000_000, period: 'total' }],
    ['1_500_000/month', 'tokens', { amount: 1_500_000, period: 'month' }],
  ] as const)('reads %s as a %s limit', (text, kind, expected) => {
    expect(parseAmountPerPeriod(text, kind)).toEqual(expected);
  });

  it.each([
    ['20', 'usd', 'an amount and a period'],
    ['20/year', 'usd', '"year" is not a period'],
    ['-5/day', 'usd', 'a positive number'],
    ['0/day', 'usd', 'a positive number'],
    ['abc/day', 'tokens', 'a whole number'],
    ['1.5/day', 'tokens', 'a whole number'],
    ['2M/month', 'usd', 'a positive number'],
  ] as const)('refuses %s for --%s', (text, kind, said) => {
    expect(usageError(() => parseAmountPerPeriod(text, kind))).toContain(said);
  });

  it('sets limits on top of the current ones; "none" removes one; no flag changes nothing', () => {
    const current = { usd: { amount: 20, period: 'month' as const }, requestsPerMinute: 60 };
    expect(limitsFromFlags({}, current)).toBeUndefined();
    expect(limitsFromFlags({ tokens: '2M/day', tpm: '100k' }, current)).toEqual({
      usd: { amount: 20, period: 'month' },
      tokens: { amount: 2_000_000, period: 'day' },
      requestsPerMinute: 60,
      tokensPerMinute: 100_000,
    });
    expect(limitsFromFlags({ usd: 'none', rpm: '30' }, current)).toEqual({ requestsPerMinute: 30 });
  });

  it('refuses limits the server would refuse', () => {
    expect(usageError(() => limitsFromFlags({ usd: '5000000000/month' }, {}))).toContain('out of range');
    expect(usageError(() => limitsFromFlags({ rpm: '1.5' }, {}))).toContain('--rpm');
  });

  it('describes limits in one line', () => {
    expect(describeLimits({})).toBe('none');
    expect(
      describeLimits({
        usd: { amount: 20, period: 'month' },
        tokens: { amount: 2_000_000, period: 'day' },
        requestsPerMinute: 60,
        tokensPerMinute: 100_000,
      }),
    ).toBe('$20.00/month, 2,000,000 tokens/day, 60 requests/min, 100,000 tokens/min');
  });
});

describe('grant subjects, models and expiry', () => {
  it.each([
    ['everyone', { type: 'everyone' }],
    ['Everyone', { type: 'everyone' }],
    ['team:Physics 101', { type: 'team', name: 'Physics 101' }],
    ['TEAM: physics ', { type: 'team', name: 'physics' }],
    ['user:alice', { type: 'user', name: 'alice' }],
    ['bot:support', { type: 'bot', name: 'support' }],
    ['token:ci:nightly', { type: 'token', name: 'ci:nightly' }],
  ])('reads %s', (text, expected) => {
    expect(parseSubject(text)).toEqual(expected);
  });

  it.each(['alice', 'group:staff', 'everyone:x', 'team:', 'user:  '])('refuses %s', (text) => {
    expect(usageError(() => parseSubject(text))).toBeTruthy();
  });

  it('splits model patterns on commas', () => {
    expect(parseModels('gpt-4o*, gpt-4.1*,,')).toEqual(['gpt-4o*', 'gpt-4.1*']);
    expect(usageError(() => parseModels(' , '))).toContain('--models');
  });

  it('reads an expiry date as the start of that day in UTC, and refuses one that has passed', () => {
    const now = new Date('2026-12-07T12:00:00Z');
    expect(parseExpiry('2027-01-01', now)).toBe('2027-01-01T00:00:00.000Z');
    expect(parseExpiry('2026-12-07T18:30:00Z', now)).toBe('2026-12-07T18:30:00.000Z');
    expect(usageError(() => parseExpiry('2026-12-01', now))).toContain('has passed');
    for (const text of ['2027-02-30', 'Jan 1 2027', 'tomorrow', '2027-13-01'])
      expect(
        usageError(() => parseExpiry(text, now)),
        text,
      ).toContain('takes a date');
  });
});

describe('dollars', () => {
  it.each([
    [0, '$0.00'],
    [0.00001, '<$0.0001'],
    [0.0123456, '$0.0123'],
    [0.5, '$0.5000'],
    [12.345, '$12.35'],
    [1234.5, '$1,234.50'],
  ])('prints %d as %s', (usd, text) => {
    expect(formatUsd(usd)).toBe(text);
  });
});

describe('keyway teams and creds grant, usage errors (no server needed)', () => {
  const run = async (args: string[]) => {
    let stderr = '';
    const code = await runCli(args, {
      out: () => {},
      err: (text) => (stderr += text),
      env: { KEYWAY_URL: 'http://127.0.0.1:9', KEYWAY_TOKEN: 'kw_unused' },
    });
    return { code, stderr };
  };

  it('exits 2 with the usage for a wrong command or a missing argument', async () => {
    for (const args of [
      ['teams'],
      ['teams', 'frobnicate'],
      ['teams', 'rename', 'physics'],
      ['teams', 'add', 'physics'],
      ['teams', 'list', 'extra'],
      ['creds', 'grant', 'main'],
      ['teams', 'limits', 'physics', '--clear', '--rpm', '5'],
    ]) {
      const { code, stderr } = await run(args);
      expect(code, args.join(' ')).toBe(2);
      expect(stderr, args.join(' ')).toContain('fix: keyway ');
    }
  });

  it('lists the new commands in keyway help', async () => {
    let stdout = '';
    await runCli(['help'], { out: (text) => (stdout += text), err: () => {}, env: {} });
    expect(stdout).toContain('keyway teams list');
    expect(stdout).toContain('keyway creds grant');
    expect(stdout).toContain('user|team');
  });
});
