import type {
  LimitKind,
  LimitPeriod,
  LimitRefusalDetails,
  Limits,
  LimitScope,
} from '../api/sharing-types.ts';
import type { FieldErrors } from './forms.ts';

export const PERIODS: { id: LimitPeriod; label: string }[] = [
  { id: 'day', label: 'per day' },
  { id: 'week', label: 'per week' },
  { id: 'month', label: 'per month' },
  { id: 'total', label: 'in total' },
];

/** The Limits form as its inputs hold it: empty text means no such limit. */
export interface LimitsForm {
  usdAmount: string;
  usdPeriod: LimitPeriod;
  tokensAmount: string;
  tokensPeriod: LimitPeriod;
  requestsPerMinute: string;
  tokensPerMinute: string;
}

export const emptyLimitsForm: LimitsForm = {
  usdAmount: '',
  usdPeriod: 'month',
  tokensAmount: '',
  tokensPeriod: 'month',
  requestsPerMinute: '',
  tokensPerMinute: '',
};

const text = (value: number | undefined) => (value === undefined ? '' : String(value));

export function limitsToForm(limits: Limits | null | undefined): LimitsForm {
  return {
    usdAmount: text(limits?.usd?.amount),
    usdPeriod: limits?.usd?.period ?? 'month',
    tokensAmount: text(limits?.tokens?.amount),
    tokensPeriod: limits?.tokens?.period ?? 'month',
    requestsPerMinute: text(limits?.requestsPerMinute),
    tokensPerMinute: text(limits?.tokensPerMinute),
  };
}

/** Commas, spaces and underscores people type in big numbers ("2,000,000", "1 000") are ignored. */
const parseNumber = (raw: string) => Number(raw.replace(/[\s,_]/g, '').replace(/^\$/, ''));

/**
 * Checks the Limits form and builds the `Limits` the API takes (`{}` when every field is empty).
 * Error keys are `usd`, `tokens`, `requestsPerMinute`, `tokensPerMinute`.
 */
export function parseLimitsForm(form: LimitsForm): { errors: FieldErrors; limits: Limits | null } {
  const errors: FieldErrors = {};
  const limits: Limits = {};
  const positive = (key: string, raw: string, integer: boolean, what: string): number | undefined => {
    if (raw.trim() === '') return undefined;
    const value = parseNumber(raw.trim());
    if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value)))
      errors[key] = `${what} is ${integer ? 'a whole number' : 'an amount'} above 0, or empty for no limit.`;
    else return value;
    return undefined;
  };
  const usd = positive('usd', form.usdAmount, false, 'A USD budget');
  if (usd !== undefined) limits.usd = { amount: usd, period: form.usdPeriod };
  const tokens = positive('tokens', form.tokensAmount, true, 'A token budget');
  if (tokens !== undefined) limits.tokens = { amount: tokens, period: form.tokensPeriod };
  const rpm = positive('requestsPerMinute', form.requestsPerMinute, true, 'Requests per minute');
  if (rpm !== undefined) limits.requestsPerMinute = rpm;
  const tpm = positive('tokensPerMinute', form.tokensPerMinute, true, 'Tokens per minute');
  if (tpm !== undefined) limits.tokensPerMinute = tpm;
  return Object.keys(errors).length > 0 ? { errors, limits: null } : { errors, limits };
}

const usd2 = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD' });
const usdSmall = new Intl.NumberFormat('en-US', {
  style: 'currency',
  currency: 'USD',
  maximumSignificantDigits: 2,
});
const count = new Intl.NumberFormat('en-US');

/** "$20.00"; amounts under a cent keep two significant digits ("$0.0042") so a cost is never "$0.00". */
export function formatUsd(value: number): string {
  if (value !== 0 && Math.abs(value) < 0.01) return usdSmall.format(value);
  return usd2.format(value);
}

export const formatCount = (value: number) => count.format(value);

/** How much of a limit is meant: "$20.00", "2,000,000 tokens", "60 requests", "100,000 tokens". */
export function formatAmount(kind: LimitKind, amount: number): string {
  switch (kind) {
    case 'usd':
      return formatUsd(amount);
    case 'tokens':
    case 'tokensPerMinute':
      return `${count.format(amount)} tokens`;
    case 'requestsPerMinute':
      return `${count.format(amount)} ${amount === 1 ? 'request' : 'requests'}`;
  }
}

/** "per month", "in total"; per-minute kinds are always "per minute". */
export function periodPhrase(kind: LimitKind, period: LimitPeriod | 'minute' | null | undefined): string {
  if (kind === 'requestsPerMinute' || kind === 'tokensPerMinute') return 'per minute';
  return PERIODS.find((option) => option.id === period)?.label ?? 'per minute';
}

/** "$20.00 per month", "60 requests per minute". */
export function formatLimit(kind: LimitKind, amount: number, period?: LimitPeriod | 'minute' | null): string {
  return `${formatAmount(kind, amount)} ${periodPhrase(kind, period)}`;
}

/** Every limit of a Limits object in words, in a fixed order; empty when there is none. */
export function describeLimits(limits: Limits | null | undefined): string[] {
  if (!limits) return [];
  const out: string[] = [];
  if (limits.usd) out.push(formatLimit('usd', limits.usd.amount, limits.usd.period));
  if (limits.tokens) out.push(formatLimit('tokens', limits.tokens.amount, limits.tokens.period));
  if (limits.requestsPerMinute !== undefined)
    out.push(formatLimit('requestsPerMinute', limits.requestsPerMinute));
  if (limits.tokensPerMinute !== undefined) out.push(formatLimit('tokensPerMinute', limits.tokensPerMinute));
  return out;
}

/** How full a meter is, 0–1 (a limit of 0 or less counts as full). */
export function spentFraction(spent: number, amount: number): number {
  if (!(amount > 0)) return 1;
  return Math.min(1, Math.max(0, spent / amount));
}

/** "$4.20 of $20.00", "1,200 of 2,000,000 tokens". */
export function spentText(kind: LimitKind, spent: number, amount: number): string {
  if (kind === 'usd') return `${formatUsd(spent)} of ${formatUsd(amount)}`;
  return `${count.format(Math.round(spent))} of ${formatAmount(kind, amount)}`;
}

const day = (value: string) => {
  const date = new Date(value);
  return Number.isNaN(date.getTime())
    ? value
    : date.toLocaleDateString('en-US', { dateStyle: 'medium', timeZone: 'UTC' });
};
const time = (value: string) => {
  const date = new Date(value);
  return Number.isNaN(date.getTime())
    ? value
    : date.toLocaleTimeString('en-US', { hour: '2-digit', minute: '2-digit', timeZone: 'UTC' }) + ' UTC';
};

/**
 * "resets Jan 1, 2027" (windows are UTC calendar days, so the date is the UTC one), "resets at
 * 10:42 UTC" for a per-minute limit, "never resets" for `total`.
 */
export function resetsText(
  resetsAt: string | null | undefined,
  kind: LimitKind,
  period?: LimitPeriod | 'minute' | null,
): string {
  if (period === 'total' || !resetsAt) return 'never resets';
  return kind === 'requestsPerMinute' || kind === 'tokensPerMinute'
    ? `resets at ${time(resetsAt)}`
    : `resets ${day(resetsAt)}`;
}

const SCOPE_OWNER: Record<LimitScope, string> = {
  user: 'your',
  team: "your team's",
  grant: "the credential grant's",
  token: "the API token's",
  bot: "the bot's",
};

/** What a 429 from the chat says beyond its message, when the server sent the refusing limit. */
export interface LimitRefusal {
  code: 'budget_exceeded' | 'rate_limited';
  message: string;
  details: LimitRefusalDetails | null;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Reads a refusal from an API error's status, code and details; anything else is null. */
export function limitRefusal(error: {
  status?: number;
  code?: string;
  message?: string;
  details?: unknown;
}): LimitRefusal | null {
  if (error.code !== 'budget_exceeded' && error.code !== 'rate_limited') return null;
  const raw = error.details;
  let details: LimitRefusalDetails | null = null;
  if (isObject(raw) && isObject(raw.limit) && typeof raw.limit.kind === 'string') {
    const limit = raw.limit;
    details = {
      limit: {
        scope: (typeof limit.scope === 'string' ? limit.scope : 'user') as LimitScope,
        kind: limit.kind as LimitKind,
        amount: typeof limit.amount === 'number' ? limit.amount : Number(limit.amount),
        period: typeof limit.period === 'string' ? (limit.period as LimitPeriod) : null,
      },
      resetsAt: typeof raw.resetsAt === 'string' ? raw.resetsAt : null,
    };
  }
  return { code: error.code, message: error.message ?? 'A limit refused the request.', details };
}

/** "Limit: your team's $20.00 per month · resets Jan 1, 2027". */
export function refusalSummary(details: LimitRefusalDetails): string {
  const { limit, resetsAt } = details;
  const amount = Number.isFinite(limit.amount) ? formatLimit(limit.kind, limit.amount, limit.period) : '';
  return `Limit: ${SCOPE_OWNER[limit.scope] ?? ''} ${amount} · ${resetsText(resetsAt, limit.kind, limit.period)}`
    .replace(/\s+/g, ' ')
    .trim();
}
