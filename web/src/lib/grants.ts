import type { Grant, GrantInput, GrantPatch, GrantSubject, GrantSubjectType } from '../api/sharing-types.ts';
import type { FieldErrors } from './forms.ts';
import { emptyLimitsForm, limitsToForm, parseLimitsForm, type LimitsForm } from './limits.ts';

export const SUBJECT_TYPES: { id: GrantSubjectType; label: string }[] = [
  { id: 'everyone', label: 'Everyone' },
  { id: 'team', label: 'A team' },
  { id: 'user', label: 'A user' },
  { id: 'bot', label: 'A bot' },
  { id: 'token', label: 'An API token' },
];

/** "Everyone", "team Physics 101", "user ana", "bot support", "token laptop". */
export function subjectLabel(subject: GrantSubject): string {
  if (subject.type === 'everyone') return 'Everyone';
  return `${subject.type} ${subject.name ?? subject.id ?? '?'}`;
}

/** Model patterns from the text field: comma, space or line separated, trimmed, each once. */
export function parseModelPatterns(text: string): string[] {
  const seen = new Set<string>();
  for (const part of text.split(/[\s,]+/)) if (part) seen.add(part);
  return [...seen];
}

export interface GrantForm {
  subjectType: GrantSubjectType;
  subjectId: string;
  /** Comma-separated patterns; empty: every model. */
  models: string;
  /** YYYY-MM-DD from a date input; empty: never expires. */
  expiresOn: string;
  limits: LimitsForm;
}

export const emptyGrantForm: GrantForm = {
  subjectType: 'team',
  subjectId: '',
  models: '',
  expiresOn: '',
  limits: emptyLimitsForm,
};

export function grantToForm(grant: Grant): GrantForm {
  return {
    subjectType: grant.subject.type,
    subjectId: grant.subject.id ?? '',
    models: (grant.models ?? []).join(', '),
    expiresOn: grant.expiresAt ? grant.expiresAt.slice(0, 10) : '',
    limits: limitsToForm(grant.limits),
  };
}

/** A grant given "until 2027-01-31" lasts through that day (UTC, like every limit window). */
export const expiryFromDate = (date: string) => `${date}T23:59:59.999Z`;

const MODEL_PATTERN = /^[^\s,]{1,200}$/;

/**
 * Checks the grant form. A new grant builds a `POST` body (empty fields left out); an edit builds a
 * `PATCH` body where empty fields are `null` (clear), as docs/sharing.md says.
 */
export function grantBody(
  form: GrantForm,
  options: { editing: false; now: Date },
): { errors: FieldErrors; body: GrantInput | null };
export function grantBody(
  form: GrantForm,
  options: { editing: true; now: Date },
): { errors: FieldErrors; body: GrantPatch | null };
export function grantBody(
  form: GrantForm,
  options: { editing: boolean; now: Date },
): { errors: FieldErrors; body: GrantInput | GrantPatch | null } {
  const { errors: limitErrors, limits } = parseLimitsForm(form.limits);
  const errors: FieldErrors = Object.fromEntries(
    Object.entries(limitErrors).map(([key, message]) => [`limits.${key}`, message]),
  );
  if (!options.editing && form.subjectType !== 'everyone' && !form.subjectId)
    errors.subject = `Choose the ${form.subjectType === 'token' ? 'API token' : form.subjectType}.`;
  const models = parseModelPatterns(form.models);
  const bad = models.find((pattern) => !MODEL_PATTERN.test(pattern));
  if (bad) errors.models = `"${bad.slice(0, 40)}" is not a model pattern.`;
  let expiresAt: string | null = null;
  if (form.expiresOn) {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(form.expiresOn) || Number.isNaN(Date.parse(form.expiresOn)))
      errors.expiresOn = 'A date, YYYY-MM-DD.';
    else if (Date.parse(expiryFromDate(form.expiresOn)) <= options.now.getTime())
      errors.expiresOn = 'That day is over; choose a later one or leave it empty.';
    else expiresAt = expiryFromDate(form.expiresOn);
  }
  if (Object.keys(errors).length > 0 || !limits) return { errors, body: null };
  if (options.editing)
    return {
      errors,
      body: { models: models.length > 0 ? models : null, limits, expiresAt },
    };
  const body: GrantInput = {
    subject:
      form.subjectType === 'everyone' ? { type: 'everyone' } : { type: form.subjectType, id: form.subjectId },
  };
  if (models.length > 0) body.models = models;
  if (Object.keys(limits).length > 0) body.limits = limits;
  if (expiresAt) body.expiresAt = expiresAt;
  return { errors, body };
}

/** The meters a grant shows: one per USD or token limit, each with what is spent in its window. */
export function grantMeters(grant: Pick<Grant, 'limits' | 'spent'>): {
  kind: 'usd' | 'tokens';
  spent: number;
  amount: number;
  period: NonNullable<Grant['limits']['usd']>['period'];
}[] {
  const meters: ReturnType<typeof grantMeters> = [];
  if (grant.limits.usd)
    meters.push({
      kind: 'usd',
      spent: grant.spent.usd ?? 0,
      amount: grant.limits.usd.amount,
      period: grant.limits.usd.period,
    });
  if (grant.limits.tokens)
    meters.push({
      kind: 'tokens',
      spent: grant.spent.tokens ?? 0,
      amount: grant.limits.tokens.amount,
      period: grant.limits.tokens.period,
    });
  return meters;
}

/** A grant past its expiry no longer lets anyone use the credential. */
export const isGrantExpired = (grant: Pick<Grant, 'expiresAt'>, now: Date) =>
  grant.expiresAt !== null && Date.parse(grant.expiresAt) <= now.getTime();
