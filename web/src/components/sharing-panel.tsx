import { useCallback, useEffect, useId, useState, type FormEvent, type ReactNode } from 'react';
import { del, get, isMissingRoute, patch, post } from '../api/client.ts';
import type { Grant, GrantSubjectType, Team } from '../api/sharing-types.ts';
import type { ApiToken, Bot, User } from '../api/types.ts';
import type { FieldErrors } from '../lib/forms.ts';
import {
  emptyGrantForm,
  grantBody,
  grantMeters,
  grantToForm,
  isGrantExpired,
  subjectLabel,
  SUBJECT_TYPES,
  type GrantForm,
} from '../lib/grants.ts';
import { formatCount, formatUsd, periodPhrase } from '../lib/limits.ts';
import { Field, formatDate, Notice } from './field.tsx';
import { LimitsFields, LimitsSummary, SpendMeter } from './limits-fields.tsx';

const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));
const limitErrors = (errors: FieldErrors) =>
  Object.fromEntries(
    Object.entries(errors)
      .filter(([key]) => key.startsWith('limits.'))
      .map(([key, message]) => [key.slice('limits.'.length), message]),
  );

/** One grant: who, which models, its limits and expiry, and a meter per budget. */
export function GrantSummary({
  grant,
  title,
  children,
}: {
  grant: Grant;
  /** What heads the grant; its subject unless given. */
  title?: ReactNode;
  children?: ReactNode;
}) {
  const meters = grantMeters(grant);
  const expired = isGrantExpired(grant, new Date());
  return (
    <>
      <div className="grant-head">
        <strong>{title ?? subjectLabel(grant.subject)}</strong>
        {expired ? <span className="badge badge-invalid">expired</span> : null}
        {children}
      </div>
      <p className="grant-facts">
        {grant.models && grant.models.length > 0 ? (
          <>
            Models: <code>{grant.models.join(', ')}</code>
          </>
        ) : (
          'Every model'
        )}
        {' · '}
        <LimitsSummary limits={grant.limits} />
        {' · '}
        {grant.expiresAt ? `${expired ? 'expired' : 'expires'} ${formatDate(grant.expiresAt)}` : 'no expiry'}
      </p>
      {meters.map((meter) => (
        <SpendMeter
          key={meter.kind}
          kind={meter.kind}
          spent={meter.spent}
          amount={meter.amount}
          label={`${meter.kind === 'usd' ? 'USD' : 'Tokens'} spent by ${subjectLabel(grant.subject)}`}
        >
          {' '}
          {periodPhrase(meter.kind, meter.period) === 'in total' ? 'in total' : `this ${meter.period}`}
        </SpendMeter>
      ))}
      {meters.length === 0 ? (
        <p className="grant-facts">
          Spent {formatUsd(grant.spent.usd ?? 0)} · {formatCount(grant.spent.tokens ?? 0)} tokens
        </p>
      ) : null}
    </>
  );
}

/**
 * A credential's Sharing panel: its grants with what each has spent, and (for whoever may manage the
 * credential) adding, editing and revoking them. Loaded when opened.
 */
export function SharingPanel({
  credential,
  admin,
}: {
  credential: { id: string; name: string };
  admin: boolean;
}) {
  const [open, setOpen] = useState(false);
  const [grants, setGrants] = useState<Grant[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [unavailable, setUnavailable] = useState(false);
  const [message, setMessage] = useState<string | null>(null);
  const [adding, setAdding] = useState(false);
  const [editing, setEditing] = useState<string | null>(null);
  const panelId = useId();
  const base = `/api/credentials/${encodeURIComponent(credential.id)}/grants`;

  const load = useCallback(async () => {
    try {
      const found = await get<{ grants: Grant[] }>(base);
      setGrants(found.grants);
    } catch (caught) {
      if (isMissingRoute(caught)) setUnavailable(true);
      else setError(errorText(caught));
    }
  }, [base]);

  useEffect(() => {
    if (open && grants === null) void load();
  }, [open, grants, load]);

  const revoke = async (grant: Grant) => {
    if (!window.confirm(`Revoke the grant to ${subjectLabel(grant.subject)}? They lose access at once.`))
      return;
    setError(null);
    try {
      await del(`${base}/${encodeURIComponent(grant.id)}`);
      setMessage(`Revoked the grant to ${subjectLabel(grant.subject)}.`);
      await load();
    } catch (caught) {
      setError(errorText(caught));
    }
  };

  return (
    <div className="sharing">
      <button
        type="button"
        className="button small ghost"
        aria-expanded={open}
        aria-controls={panelId}
        onClick={() => setOpen((value) => !value)}
      >
        {open ? '▾' : '▸'} Sharing
      </button>
      {open ? (
        <div id={panelId} role="region" aria-label={`Sharing of ${credential.name}`}>
          {unavailable ? (
            <Notice kind="info">Sharing is not available on this server yet.</Notice>
          ) : (
            <>
              {error ? <Notice kind="error">{error}</Notice> : null}
              {message ? <Notice kind="success">{message}</Notice> : null}
              {grants === null ? (
                <p className="muted">Loading…</p>
              ) : grants.length === 0 ? (
                <p className="muted">
                  Only you can use this credential. Grant it to a team, a user, a bot or a token.
                </p>
              ) : (
                <ul className="grant-list" aria-label={`Grants of ${credential.name}`}>
                  {grants.map((grant) => (
                    <li key={grant.id} className="grant">
                      {editing === grant.id ? (
                        <GrantEditor
                          base={base}
                          admin={admin}
                          grant={grant}
                          onCancel={() => setEditing(null)}
                          onSaved={() => {
                            setEditing(null);
                            setMessage(`Saved the grant to ${subjectLabel(grant.subject)}.`);
                            void load();
                          }}
                        />
                      ) : (
                        <GrantSummary grant={grant}>
                          <span className="row">
                            <button
                              type="button"
                              className="button small"
                              onClick={() => setEditing(grant.id)}
                              aria-label={`Edit the grant to ${subjectLabel(grant.subject)}`}
                            >
                              Edit
                            </button>
                            <button
                              type="button"
                              className="button small danger"
                              onClick={() => void revoke(grant)}
                              aria-label={`Revoke the grant to ${subjectLabel(grant.subject)}`}
                            >
                              Revoke
                            </button>
                          </span>
                        </GrantSummary>
                      )}
                    </li>
                  ))}
                </ul>
              )}
              {adding ? (
                <GrantEditor
                  base={base}
                  admin={admin}
                  grant={null}
                  onCancel={() => setAdding(false)}
                  onSaved={(created) => {
                    setAdding(false);
                    setMessage(
                      `Granted "${credential.name}" to ${subjectLabel(created?.subject ?? { type: 'everyone' })}.`,
                    );
                    void load();
                  }}
                />
              ) : (
                <button type="button" className="button small primary" onClick={() => setAdding(true)}>
                  Add a grant
                </button>
              )}
            </>
          )}
        </div>
      ) : null}
    </div>
  );
}

type SubjectOption = { id: string; label: string };

/** What a subject of each type may be, as the signed-in user can list them. */
async function subjectOptions(type: GrantSubjectType): Promise<SubjectOption[]> {
  switch (type) {
    case 'team':
      return (await get<{ teams: Team[] }>('/api/teams')).teams.map((team) => ({
        id: team.id,
        label: team.name,
      }));
    case 'user':
      return (await get<User[]>('/api/users')).map((user) => ({ id: user.id, label: user.username }));
    case 'bot': {
      const found = await get<Bot[] | { bots: Bot[] }>('/api/bots');
      return (Array.isArray(found) ? found : found.bots).map((bot) => ({ id: bot.id, label: bot.name }));
    }
    case 'token':
      return (await get<ApiToken[]>('/api/tokens')).map((token) => ({ id: token.id, label: token.name }));
    case 'everyone':
      return [];
  }
}

/** Adds a grant (`grant` null) or edits one: models, limits and expiry; the subject stays. */
function GrantEditor({
  base,
  admin,
  grant,
  onSaved,
  onCancel,
}: {
  base: string;
  admin: boolean;
  grant: Grant | null;
  onSaved: (grant: Grant | undefined) => void;
  onCancel: () => void;
}) {
  const [form, setForm] = useState<GrantForm>(() => (grant ? grantToForm(grant) : emptyGrantForm));
  const [errors, setErrors] = useState<FieldErrors>({});
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [options, setOptions] = useState<SubjectOption[] | null>(null);

  useEffect(() => {
    if (grant || form.subjectType === 'everyone') return;
    let cancelled = false;
    setOptions(null);
    subjectOptions(form.subjectType)
      .then((found) => {
        if (!cancelled) setOptions(found);
      })
      .catch((caught: unknown) => {
        if (!cancelled) {
          setOptions([]);
          setError(errorText(caught));
        }
      });
    return () => {
      cancelled = true;
    };
  }, [grant, form.subjectType]);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    const now = new Date();
    const result = grant ? grantBody(form, { editing: true, now }) : grantBody(form, { editing: false, now });
    setErrors(result.errors);
    if (!result.body) return;
    setBusy(true);
    try {
      const saved = grant
        ? await patch<Grant>(`${base}/${encodeURIComponent(grant.id)}`, result.body)
        : await post<Grant>(base, result.body);
      // The subject's name is optional in a grant: the picked one names it in the confirmation.
      const picked = options?.find((option) => option.id === form.subjectId)?.label;
      onSaved(
        saved && !saved.subject.name && picked
          ? { ...saved, subject: { ...saved.subject, name: picked } }
          : saved,
      );
    } catch (caught) {
      setError(errorText(caught));
    } finally {
      setBusy(false);
    }
  };

  const types = SUBJECT_TYPES.filter((type) => admin || type.id !== 'user');
  return (
    <form
      className="grant-editor"
      onSubmit={(event) => void submit(event)}
      noValidate
      aria-label={grant ? `Edit the grant to ${subjectLabel(grant.subject)}` : 'Add a grant'}
    >
      {grant ? null : <h3>Add a grant</h3>}
      {error ? <Notice kind="error">{error}</Notice> : null}
      {grant ? (
        <p>
          <strong>{subjectLabel(grant.subject)}</strong>
        </p>
      ) : (
        <div className="grid-2">
          <Field label="Share with">
            {(props) => (
              <select
                {...props}
                value={form.subjectType}
                onChange={(event) =>
                  setForm({ ...form, subjectType: event.target.value as GrantSubjectType, subjectId: '' })
                }
              >
                {types.map((type) => (
                  <option key={type.id} value={type.id}>
                    {type.label}
                  </option>
                ))}
              </select>
            )}
          </Field>
          {form.subjectType !== 'everyone' ? (
            <Field label="Who" error={errors.subject}>
              {(props) => (
                <select
                  {...props}
                  value={form.subjectId}
                  disabled={options === null}
                  onChange={(event) => setForm({ ...form, subjectId: event.target.value })}
                >
                  <option value="">
                    {options === null ? 'Loading…' : options.length === 0 ? 'None to choose' : 'Choose…'}
                  </option>
                  {(options ?? []).map((option) => (
                    <option key={option.id} value={option.id}>
                      {option.label}
                    </option>
                  ))}
                </select>
              )}
            </Field>
          ) : null}
        </div>
      )}
      <div className="grid-2">
        <Field
          label="Models"
          hint="Patterns, comma-separated: gpt-4o*, *-mini. * is the only wildcard. Empty: every model."
          error={errors.models}
        >
          {(props) => (
            <input
              {...props}
              autoComplete="off"
              spellCheck={false}
              value={form.models}
              onChange={(event) => setForm({ ...form, models: event.target.value })}
            />
          )}
        </Field>
        <Field
          label="Expires"
          hint="Lasts through that day (UTC). Empty: no expiry."
          error={errors.expiresOn}
        >
          {(props) => (
            <input
              {...props}
              type="date"
              value={form.expiresOn}
              onChange={(event) => setForm({ ...form, expiresOn: event.target.value })}
            />
          )}
        </Field>
      </div>
      <LimitsFields
        value={form.limits}
        onChange={(limits) => setForm({ ...form, limits })}
        errors={limitErrors(errors)}
        legend="Limits of this grant"
      />
      <div className="row">
        <button type="submit" className="button small primary" disabled={busy}>
          {busy ? 'Saving…' : grant ? 'Save grant' : 'Grant'}
        </button>
        <button type="button" className="button small ghost" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
