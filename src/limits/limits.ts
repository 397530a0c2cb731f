import { z } from 'zod';

/** The calendar windows a USD or token limit counts over, in UTC (`total`: never resets). */
export const PERIODS = ['day', 'week', 'month', 'total'] as const;
export type Period = (typeof PERIODS)[number];

const periodSchema = z.enum(PERIODS);

/**
 * Limits: the one shape that sits on users, teams, API tokens, bots and grants. Every limit that
 * applies to a request is checked; the tightest refuses. `{}` means no limit.
 */
export const limitsSchema = z
  .object({
    usd: z
      .object({ amount: z.number().positive().max(1_000_000_000), period: periodSchema })
      .strict()
      .optional(),
    tokens: z
      .object({ amount: z.number().int().positive().max(1e15), period: periodSchema })
      .strict()
      .optional(),
    requestsPerMinute: z.number().int().positive().max(10_000_000).optional(),
    tokensPerMinute: z.number().int().positive().max(1e12).optional(),
  })
  .strict();
export type Limits = z.infer<typeof limitsSchema>;

/** Limits read back from a JSONB column; anything unreadable counts as no limit rather than failing a request. */
export function limitsFrom(value: unknown): Limits {
  const parsed = limitsSchema.safeParse(value ?? {});
  return parsed.success ? parsed.data : {};
}

export const hasLimits = (limits: Limits) =>
  limits.usd !== undefined ||
  limits.tokens !== undefined ||
  limits.requestsPerMinute !== undefined ||
  limits.tokensPerMinute !== undefined;

/** When the window holding `at` began (UTC): midnight, Monday, the 1st, or the epoch for `total`. */
export function windowStart(period: Period | 'minute', at: Date): Date {
  const y = at.getUTCFullYear();
  const m = at.getUTCMonth();
  const d = at.getUTCDate();
  switch (period) {
    case 'minute':
      return new Date(Math.floor(at.getTime() / 60_000) * 60_000);
    case 'day':
      return new Date(Date.UTC(y, m, d));
    case 'week':
      return new Date(Date.UTC(y, m, d - ((at.getUTCDay() + 6) % 7)));
    case 'month':
      return new Date(Date.UTC(y, m, 1));
    case 'total':
      return new Date(0);
  }
}

/** When the window holding `at` ends (null for `total`). */
export function windowEnd(period: Period | 'minute', at: Date): Date | null {
  const start = windowStart(period, at);
  switch (period) {
    case 'minute':
      return new Date(start.getTime() + 60_000);
    case 'day':
      return new Date(start.getTime() + 86_400_000);
    case 'week':
      return new Date(start.getTime() + 7 * 86_400_000);
    case 'month':
      return new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + 1, 1));
    case 'total':
      return null;
  }
}
