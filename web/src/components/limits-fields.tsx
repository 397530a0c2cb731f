import { useState, type FormEvent, type ReactNode } from 'react';
import type { LimitKind, LimitPeriod, Limits } from '../api/sharing-types.ts';
import type { FieldErrors } from '../lib/forms.ts';
import {
  describeLimits,
  limitsToForm,
  parseLimitsForm,
  PERIODS,
  spentFraction,
  spentText,
  type LimitsForm,
} from '../lib/limits.ts';
import { Field, Notice } from './field.tsx';

/**
 * The Limits inputs (USD budget and period, token budget and period, requests and tokens per
 * minute), used inside grant, team and user forms. Empty means no such limit. `errors` are keyed
 * like parseLimitsForm's (`usd`, `tokens`, `requestsPerMinute`, `tokensPerMinute`).
 */
export function LimitsFields({
  value,
  onChange,
  errors = {},
  legend = 'Limits',
}: {
  value: LimitsForm;
  onChange: (value: LimitsForm) => void;
  errors?: FieldErrors;
  legend?: string;
}) {
  const set = (changes: Partial<LimitsForm>) => onChange({ ...value, ...changes });
  const period = (current: LimitPeriod, label: string, key: 'usdPeriod' | 'tokensPeriod') => (
    <Field label={label}>
      {(props) => (
        <select
          {...props}
          value={current}
          onChange={(event) => set({ [key]: event.target.value as LimitPeriod })}
        >
          {PERIODS.map((option) => (
            <option key={option.id} value={option.id}>
              {option.label}
            </option>
          ))}
        </select>
      )}
    </Field>
  );
  return (
    <fieldset className="section limits-fields">
      <legend>{legend}</legend>
      <p className="hint">
        Leave a field empty for no limit. Days, weeks and months are UTC calendar windows.
      </p>
      <div className="limits-grid">
        <Field label="USD budget" error={errors.usd}>
          {(props) => (
            <input
              {...props}
              inputMode="decimal"
              autoComplete="off"
              placeholder="e.g. 20"
              value={value.usdAmount}
              onChange={(event) => set({ usdAmount: event.target.value })}
            />
          )}
        </Field>
        {period(value.usdPeriod, 'USD period', 'usdPeriod')}
        <Field label="Token budget" error={errors.tokens}>
          {(props) => (
            <input
              {...props}
              inputMode="numeric"
              autoComplete="off"
              placeholder="e.g. 2000000"
              value={value.tokensAmount}
              onChange={(event) => set({ tokensAmount: event.target.value })}
            />
          )}
        </Field>
        {period(value.tokensPeriod, 'Token period', 'tokensPeriod')}
        <Field label="Requests per minute" error={errors.requestsPerMinute}>
          {(props) => (
            <input
              {...props}
              inputMode="numeric"
              autoComplete="off"
              value={value.requestsPerMinute}
              onChange={(event) => set({ requestsPerMinute: event.target.value })}
            />
          )}
        </Field>
        <Field label="Tokens per minute" error={errors.tokensPerMinute}>
          {(props) => (
            <input
              {...props}
              inputMode="numeric"
              autoComplete="off"
              value={value.tokensPerMinute}
              onChange={(event) => set({ tokensPerMinute: event.target.value })}
            />
          )}
        </Field>
      </div>
    </fieldset>
  );
}

/**
 * A small form that edits one Limits object and saves it with `save` (a `PUT …/limits`): the team
 * and user pages use it.
 */
export function LimitsEditor({
  limits,
  save,
  onSaved,
  onCancel,
  title,
}: {
  limits: Limits | null | undefined;
  save: (limits: Limits) => Promise<unknown>;
  onSaved: (limits: Limits) => void;
  onCancel?: () => void;
  title: string;
}) {
  const [form, setForm] = useState<LimitsForm>(() => limitsToForm(limits));
  const [errors, setErrors] = useState<FieldErrors>({});
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const parsed = parseLimitsForm(form);
    setErrors(parsed.errors);
    if (!parsed.limits) return;
    setBusy(true);
    setError(null);
    try {
      await save(parsed.limits);
      onSaved(parsed.limits);
    } catch (caught) {
      setError(caught instanceof Error ? caught.message : String(caught));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="limits-editor" onSubmit={(event) => void submit(event)} noValidate>
      {error ? <Notice kind="error">{error}</Notice> : null}
      <LimitsFields value={form} onChange={setForm} errors={errors} legend={title} />
      <div className="row">
        <button type="submit" className="button primary small" disabled={busy}>
          {busy ? 'Saving…' : 'Save limits'}
        </button>
        {onCancel ? (
          <button type="button" className="button ghost small" onClick={onCancel}>
            Cancel
          </button>
        ) : null}
      </div>
    </form>
  );
}

/** "No limits" or the limits in words, as a short inline list. */
export function LimitsSummary({ limits }: { limits: Limits | null | undefined }) {
  const lines = describeLimits(limits);
  if (lines.length === 0) return <span className="muted">No limits</span>;
  return <span>{lines.join(' · ')}</span>;
}

/** A bar of what is spent against a limit, with the numbers in words beside it. */
export function SpendMeter({
  kind,
  spent,
  amount,
  label,
  children,
}: {
  kind: LimitKind;
  spent: number;
  amount: number;
  label: string;
  children?: ReactNode;
}) {
  const fraction = spentFraction(spent, amount);
  const words = spentText(kind, spent, amount);
  return (
    <div className="meter-row">
      <div
        className={`meter ${fraction >= 1 ? 'meter-full' : fraction >= 0.8 ? 'meter-high' : ''}`}
        role="meter"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={amount}
        aria-valuenow={Math.min(spent, amount)}
        aria-valuetext={words}
      >
        <span className="meter-fill" style={{ width: `${fraction * 100}%` }} />
      </div>
      <span className="meter-text">
        {words}
        {children}
      </span>
    </div>
  );
}
