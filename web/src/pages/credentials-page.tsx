import { useCallback, useEffect, useRef, useState, type FormEvent } from 'react';
import { ApiError, del, get, patch, post } from '../api/client.ts';
import type { CreatedCredential, Credential, CredentialTestResult, Provider } from '../api/types.ts';
import { Field, formatDate, Notice } from '../components/field.tsx';
import { SharingPanel } from '../components/sharing-panel.tsx';
import { credentialBody, settingLabel, type CredentialForm, type FieldErrors } from '../lib/forms.ts';
import { useTitle } from '../lib/router.ts';
import { useSession } from '../session.tsx';

const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));
const emptyForm: CredentialForm = { name: '', provider: '', secret: '', settings: {}, shared: false };

/** The vault: provider keys go in, never come out. */
export default function CredentialsPage() {
  useTitle('Credentials');
  const { me } = useSession();
  const [credentials, setCredentials] = useState<Credential[] | null>(null);
  const [providers, setProviders] = useState<Provider[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const [adding, setAdding] = useState(false);
  const [tested, setTested] = useState<SaveOutcome | null>(null);

  const load = useCallback(async () => {
    try {
      setCredentials(await get<Credential[]>('/api/credentials'));
    } catch (caught) {
      setError(errorText(caught));
    }
  }, []);

  useEffect(() => {
    void load();
    get<Provider[]>('/api/providers')
      .then(setProviders)
      .catch((caught: unknown) => setError(errorText(caught)));
  }, [load]);

  const providerLabel = (id: string) => providers.find((provider) => provider.id === id)?.label ?? id;

  return (
    <section className="page" aria-labelledby="credentials-title">
      <div className="page-head">
        <h1 id="credentials-title" tabIndex={-1}>
          Credentials
        </h1>
        {!adding ? (
          <button type="button" className="button primary" onClick={() => setAdding(true)}>
            Add credential
          </button>
        ) : null}
      </div>
      <p className="muted">
        Each provider key is stored once, encrypted, and used by chat, bots and the <code>/v1</code> gateway.
        Keys are never shown again after you save them.
      </p>
      {error ? <Notice kind="error">{error}</Notice> : null}
      {message ? <Notice kind="success">{message}</Notice> : null}
      {tested ? <SavedAndTested outcome={tested} onDismiss={() => setTested(null)} /> : null}
      {adding ? (
        <AddCredential
          providers={providers}
          admin={me.user.role === 'admin'}
          onCancel={() => setAdding(false)}
          onAdded={(outcome) => {
            setAdding(false);
            setMessage(null);
            setTested(outcome);
            void load();
          }}
        />
      ) : null}
      {credentials === null ? (
        <p className="muted">Loading…</p>
      ) : credentials.length === 0 ? (
        <Notice kind="info">No credentials yet. Add a provider key to start chatting.</Notice>
      ) : (
        <ul className="card-list" aria-label="Your credentials">
          {credentials.map((credential) => (
            <CredentialCard
              key={credential.id}
              credential={credential}
              providerLabel={providerLabel(credential.provider)}
              canEdit={credential.manageable}
              admin={me.user.role === 'admin'}
              providers={providers}
              onChanged={(text) => {
                setTested(null);
                setMessage(text);
                void load();
              }}
            />
          ))}
        </ul>
      )}
    </section>
  );
}

function AddCredential({
  providers,
  admin,
  onAdded,
  onCancel,
}: {
  providers: Provider[];
  admin: boolean;
  onAdded: (outcome: SaveOutcome) => void;
  onCancel: () => void;
}) {
  const [form, setForm] = useState<CredentialForm>(emptyForm);
  const [errors, setErrors] = useState<FieldErrors>({});
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [testing, setTesting] = useState(false);
  const first = useRef<HTMLInputElement>(null);
  useEffect(() => first.current?.focus(), []);
  const provider = providers.find((candidate) => candidate.id === form.provider);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const { errors: found, body } = credentialBody(form, provider);
    setErrors(found);
    if (!body) return;
    setBusy(true);
    setError(null);
    try {
      const created = await post<CreatedCredential>('/api/credentials', body);
      // The key leaves the page's state as soon as the server has it.
      setForm(emptyForm);
      setTesting(true);
      onAdded({ created, test: await testCredential(created.id) });
    } catch (caught) {
      setForm((current) => ({ ...current, secret: '' }));
      setError(errorText(caught));
    } finally {
      setBusy(false);
      setTesting(false);
    }
  };

  return (
    <form
      className="card form-card"
      onSubmit={(event) => void submit(event)}
      noValidate
      aria-labelledby="add-title"
    >
      <h2 id="add-title">Add a credential</h2>
      {error ? <Notice kind="error">{error}</Notice> : null}
      <div className="grid-2">
        <Field label="Name" hint="Used in model names: name/model." error={errors.name}>
          {(props) => (
            <input
              {...props}
              ref={first}
              name="credential-name"
              autoComplete="off"
              value={form.name}
              onChange={(event) => setForm({ ...form, name: event.target.value })}
            />
          )}
        </Field>
        <Field label="Provider" error={errors.provider}>
          {(props) => (
            <select
              {...props}
              name="provider"
              value={form.provider}
              onChange={(event) => setForm({ ...form, provider: event.target.value, settings: {} })}
            >
              <option value="">Choose…</option>
              {providers.map((option) => (
                <option key={option.id} value={option.id}>
                  {option.label}
                </option>
              ))}
            </select>
          )}
        </Field>
      </div>
      <Field
        label={provider?.secret === 'optional' ? 'API key (optional)' : 'API key'}
        hint={
          provider?.keyFormat
            ? `Looks like ${provider.keyFormat}. Write-only: it is never shown again.`
            : 'Write-only: it is never shown again.'
        }
        error={errors.secret}
      >
        {(props) => (
          <input
            {...props}
            name="secret"
            type="password"
            autoComplete="off"
            data-lpignore="true"
            spellCheck={false}
            value={form.secret}
            onChange={(event) => setForm({ ...form, secret: event.target.value })}
          />
        )}
      </Field>
      <SettingsFields
        provider={provider}
        values={form.settings}
        errors={errors}
        onChange={(settings) => setForm({ ...form, settings })}
      />
      {admin ? (
        <label className="check">
          <input
            type="checkbox"
            checked={form.shared}
            onChange={(event) => setForm({ ...form, shared: event.target.checked })}
          />
          Shared: admins own it together, and every user may use it until you narrow its grants
        </label>
      ) : null}
      <div className="row">
        <button type="submit" className="button primary" disabled={busy}>
          {testing ? 'Testing the key…' : busy ? 'Saving…' : 'Save and test'}
        </button>
        <button type="button" className="button ghost" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

function CredentialCard({
  credential,
  providerLabel,
  canEdit,
  admin,
  providers,
  onChanged,
}: {
  credential: Credential;
  providerLabel: string;
  canEdit: boolean;
  admin: boolean;
  providers: Provider[];
  onChanged: (message: string) => void;
}) {
  const [editing, setEditing] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [rotating, setRotating] = useState(false);
  const [secret, setSecret] = useState('');
  const [inUse, setInUse] = useState<{ name: string }[] | null>(null);

  const run = async (action: () => Promise<string>) => {
    setBusy(true);
    setError(null);
    try {
      onChanged(await action());
    } catch (caught) {
      setError(errorText(caught));
    } finally {
      setBusy(false);
    }
  };

  const test = () =>
    run(async () => {
      const result = await post<CredentialTestResult>(`/api/credentials/${credential.id}/test`);
      return result.status === 'valid'
        ? `"${credential.name}" works${result.models !== null ? ` (${result.models} models)` : ''}.`
        : `"${credential.name}" was refused: ${result.message ?? 'invalid'}.`;
    });

  const rotate = (event: FormEvent) => {
    event.preventDefault();
    if (!secret) return;
    const value = secret;
    setSecret('');
    void run(async () => {
      await post(`/api/credentials/${credential.id}/rotate`, { secret: value });
      setRotating(false);
      return `The key of "${credential.name}" was replaced; everything using it switched at once.`;
    });
  };

  const remove = async (detach: boolean) => {
    if (!detach && !window.confirm(`Delete the credential "${credential.name}"?`)) return;
    setBusy(true);
    setError(null);
    try {
      await del(`/api/credentials/${credential.id}${detach ? '?detach=true' : ''}`);
      onChanged(`Deleted "${credential.name}".`);
    } catch (caught) {
      if (caught instanceof ApiError && caught.code === 'credential_in_use') {
        const bots = (caught.details?.bots as { name: string }[] | undefined) ?? [];
        setInUse(bots);
      } else setError(errorText(caught));
    } finally {
      setBusy(false);
    }
  };

  return (
    <li className="card credential">
      <div className="card-head">
        <h2>{credential.name}</h2>
        <span className={`badge badge-${credential.status}`}>{credential.status}</span>
        {credential.shared ? <span className="badge badge-shared">shared</span> : null}
        {!credential.manageable && !credential.shared ? (
          <span className="badge badge-shared">granted to you</span>
        ) : null}
      </div>
      <dl className="facts">
        <div>
          <dt>Provider</dt>
          <dd>{providerLabel}</dd>
        </div>
        <div>
          <dt>Key</dt>
          <dd>
            <code>{credential.hint}</code>
          </dd>
        </div>
        {typeof credential.settings.baseUrl === 'string' ? (
          <div>
            <dt>Base URL</dt>
            <dd className="break">{credential.settings.baseUrl}</dd>
          </div>
        ) : null}
        <div>
          <dt>Last used</dt>
          <dd>{formatDate(credential.lastUsedAt)}</dd>
        </div>
        <div>
          <dt>Checked</dt>
          <dd>{formatDate(credential.lastCheckedAt)}</dd>
        </div>
        <div>
          <dt>Used by</dt>
          <dd>{credential.usedBy.bots === 1 ? '1 bot' : `${credential.usedBy.bots} bots`}</dd>
        </div>
      </dl>
      {credential.statusMessage && credential.status === 'invalid' ? (
        <p className="error-text">{credential.statusMessage}</p>
      ) : null}
      {credential.duplicates.length > 0 ? (
        <Notice kind="warning">
          The same key is also stored as {credential.duplicates.map((d) => `"${d.name}"`).join(', ')}. That is
          allowed; rotate them together.
        </Notice>
      ) : null}
      {error ? <Notice kind="error">{error}</Notice> : null}
      {inUse ? (
        <Notice kind="warning">
          <p>
            "{credential.name}" is used by {inUse.length === 1 ? 'a bot' : `${inUse.length} bots`}:{' '}
            {inUse.map((bot) => bot.name).join(', ') || 'unnamed'}. Point them at another credential first, or
            detach them (they stop answering until they get a new credential).
          </p>
          <div className="row">
            <button
              type="button"
              className="button danger small"
              onClick={() => void remove(true)}
              disabled={busy}
            >
              Detach and delete
            </button>
            <button type="button" className="button ghost small" onClick={() => setInUse(null)}>
              Keep it
            </button>
          </div>
        </Notice>
      ) : null}
      {editing ? (
        <EditCredential
          credential={credential}
          provider={providers.find((provider) => provider.id === credential.provider)}
          onCancel={() => setEditing(false)}
          onSaved={(text) => {
            setEditing(false);
            onChanged(text);
          }}
        />
      ) : null}
      {rotating ? (
        <form className="row rotate" onSubmit={rotate}>
          <label className="visually-hidden" htmlFor={`rotate-${credential.id}`}>
            New key for {credential.name}
          </label>
          <input
            id={`rotate-${credential.id}`}
            type="password"
            autoComplete="off"
            placeholder="New key"
            autoFocus
            value={secret}
            onChange={(event) => setSecret(event.target.value)}
          />
          <button type="submit" className="button small primary" disabled={busy || !secret}>
            Replace key
          </button>
          <button
            type="button"
            className="button small ghost"
            onClick={() => {
              setSecret('');
              setRotating(false);
            }}
          >
            Cancel
          </button>
        </form>
      ) : null}
      <div className="row actions">
        <button type="button" className="button small" onClick={() => void test()} disabled={busy}>
          Test
        </button>
        {canEdit ? (
          <>
            <button
              type="button"
              className="button small"
              onClick={() => setEditing(true)}
              disabled={busy || editing}
            >
              Edit
            </button>
            <button
              type="button"
              className="button small"
              onClick={() => setRotating(true)}
              disabled={busy || rotating}
            >
              Rotate
            </button>
            <button
              type="button"
              className="button small danger"
              onClick={() => void remove(false)}
              disabled={busy}
            >
              Delete
            </button>
          </>
        ) : null}
      </div>
      {canEdit ? <SharingPanel credential={credential} admin={admin} /> : null}
    </li>
  );
}

/** What testing a key right after saving it found. */
type TestOutcome =
  | { kind: 'valid'; models: number | null }
  | { kind: 'invalid'; message: string }
  | { kind: 'unreachable'; message: string };

interface SaveOutcome {
  created: CreatedCredential;
  test: TestOutcome;
}

/** Tests a stored key with the provider (`POST /api/credentials/:id/test`); never throws. */
async function testCredential(id: string): Promise<TestOutcome> {
  try {
    const result = await post<CredentialTestResult>(`/api/credentials/${encodeURIComponent(id)}/test`);
    return result.status === 'valid'
      ? { kind: 'valid', models: result.models }
      : { kind: 'invalid', message: result.message ?? 'The provider refused the key.' };
  } catch (caught) {
    return { kind: 'unreachable', message: errorText(caught) };
  }
}

const modelsText = (models: number | null) => (models !== null ? ` (${models} models)` : '');

/** One line for a test made after an edit. */
function testSentence(name: string, outcome: TestOutcome): string {
  if (outcome.kind === 'valid')
    return `Saved "${name}" and tested it: the key works${modelsText(outcome.models)}.`;
  if (outcome.kind === 'invalid') return `Saved "${name}", but the test failed: ${outcome.message}`;
  return `Saved "${name}", but it could not be tested: ${outcome.message}`;
}

/**
 * The result of saving a key, tested at once. A key the provider refuses stays saved (and marked
 * invalid): the person fixes a setting or rotates the key without typing everything again, and a
 * provider that is down or not started yet does not lose what they typed.
 */
function SavedAndTested({ outcome, onDismiss }: { outcome: SaveOutcome; onDismiss: () => void }) {
  const { created, test } = outcome;
  const extra = [
    created.duplicates.length > 0
      ? `The same key is also stored as ${created.duplicates.map((d) => `"${d.name}"`).join(', ')}.`
      : '',
    ...(created.warnings ?? []),
  ]
    .filter(Boolean)
    .join(' ');
  const kind = test.kind === 'valid' ? 'success' : test.kind === 'invalid' ? 'error' : 'warning';
  return (
    <Notice kind={kind}>
      <div className="test-result" data-test-result={test.kind}>
        <p>
          {test.kind === 'valid' ? (
            <>
              Saved "{created.name}" and tested it: the key works{modelsText(test.models)}.
            </>
          ) : test.kind === 'invalid' ? (
            <>
              <strong>Saved "{created.name}", but the test failed:</strong> {test.message} It is kept and
              marked invalid: use Edit to fix its settings or Rotate to paste the right key.
            </>
          ) : (
            <>
              <strong>Saved "{created.name}", but it could not be tested:</strong> {test.message} Test it
              again once the provider is reachable.
            </>
          )}
          {extra ? ` ${extra}` : ''}
        </p>
        <button type="button" className="button ghost small" onClick={onDismiss}>
          Dismiss
        </button>
      </div>
    </Notice>
  );
}

/** A provider's settings as form fields (text, or Default/Yes/No for booleans). */
function SettingsFields({
  provider,
  values,
  errors,
  onChange,
}: {
  provider: Provider | undefined;
  values: Record<string, string>;
  errors: FieldErrors;
  onChange: (values: Record<string, string>) => void;
}) {
  const properties = Object.entries(provider?.settings.properties ?? {});
  return (
    <>
      {properties.map(([key, schema]) => (
        <Field
          key={key}
          label={settingLabel(key)}
          hint={
            schema.description ??
            (key === 'baseUrl' && provider?.defaultBaseUrl
              ? `Default: ${provider.defaultBaseUrl}`
              : undefined)
          }
          error={errors[`settings.${key}`]}
        >
          {(props) =>
            schema.type === 'boolean' ? (
              <select
                {...props}
                value={values[key] ?? ''}
                onChange={(event) => onChange({ ...values, [key]: event.target.value })}
              >
                <option value="">Default</option>
                <option value="true">Yes</option>
                <option value="false">No</option>
              </select>
            ) : (
              <input
                {...props}
                name={`settings-${key}`}
                autoComplete="off"
                placeholder={
                  key === 'baseUrl' ? (provider?.defaultBaseUrl ?? 'http://127.0.0.1:11434/v1') : ''
                }
                value={values[key] ?? ''}
                onChange={(event) => onChange({ ...values, [key]: event.target.value })}
              />
            )
          }
        </Field>
      ))}
    </>
  );
}

/** Rename a credential or change its settings (`PATCH /api/credentials/:id`); new settings are tested. */
function EditCredential({
  credential,
  provider,
  onSaved,
  onCancel,
}: {
  credential: Credential;
  provider: Provider | undefined;
  onSaved: (message: string) => void;
  onCancel: () => void;
}) {
  const [name, setName] = useState(credential.name);
  const [settings, setSettings] = useState<Record<string, string>>(() =>
    Object.fromEntries(
      Object.entries(credential.settings)
        .filter(([, value]) => ['string', 'number', 'boolean'].includes(typeof value))
        .map(([key, value]) => [key, String(value)]),
    ),
  );
  const [errors, setErrors] = useState<FieldErrors>({});
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    // The key is not part of an edit (Rotate changes it): only the name and settings are checked.
    const { errors: found, body } = credentialBody(
      { name, provider: credential.provider, secret: '', settings, shared: false },
      provider ? { ...provider, secret: 'optional' } : undefined,
    );
    setErrors(found);
    if (!body) return;
    const newSettings = (body.settings as Record<string, unknown> | undefined) ?? {};
    const settingsChanged = JSON.stringify(newSettings) !== JSON.stringify(credential.settings);
    setBusy(true);
    setError(null);
    try {
      await patch<Credential>(`/api/credentials/${encodeURIComponent(credential.id)}`, {
        ...(name !== credential.name ? { name } : {}),
        ...(settingsChanged ? { settings: newSettings } : {}),
      });
      // New settings (another endpoint) make the last check meaningless: test again at once.
      onSaved(settingsChanged ? testSentence(name, await testCredential(credential.id)) : `Saved "${name}".`);
    } catch (caught) {
      setError(errorText(caught));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form
      className="card form-card edit-credential"
      onSubmit={(event) => void submit(event)}
      noValidate
      aria-label={`Edit ${credential.name}`}
    >
      <h3>Edit "{credential.name}"</h3>
      {error ? <Notice kind="error">{error}</Notice> : null}
      <Field label="Name" hint="Used in model names: name/model." error={errors.name}>
        {(props) => (
          <input
            {...props}
            name="edit-name"
            autoComplete="off"
            value={name}
            onChange={(e) => setName(e.target.value)}
          />
        )}
      </Field>
      <SettingsFields provider={provider} values={settings} errors={errors} onChange={setSettings} />
      <p className="muted small-text">The key itself is changed with Rotate.</p>
      <div className="row">
        <button type="submit" className="button primary small" disabled={busy}>
          {busy ? 'Saving…' : 'Save changes'}
        </button>
        <button type="button" className="button ghost small" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
