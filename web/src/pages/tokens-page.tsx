import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { del, get, post } from '../api/client.ts';
import type { ApiToken, CreatedApiToken } from '../api/types.ts';
import { CopyButton } from '../components/copy-button.tsx';
import { Field, formatDate, Notice } from '../components/field.tsx';
import { useTitle } from '../lib/router.ts';

const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** API tokens (`kw_…`) for apps, SDKs and the CLI: shown once, stored hashed. */
export default function TokensPage() {
  useTitle('API tokens');
  const [tokens, setTokens] = useState<ApiToken[] | null>(null);
  const [name, setName] = useState('');
  const [days, setDays] = useState('');
  const [created, setCreated] = useState<{ name: string; token: string } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const load = useCallback(async () => {
    try {
      setTokens(await get<ApiToken[]>('/api/tokens'));
    } catch (caught) {
      setError(errorText(caught));
    }
  }, []);
  useEffect(() => void load(), [load]);

  const create = async (event: FormEvent) => {
    event.preventDefault();
    if (!name.trim()) {
      setError('Give the token a name, e.g. the app that will use it.');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const result = await post<CreatedApiToken>('/api/tokens', {
        name: name.trim(),
        ...(days ? { expiresInDays: Number(days) } : {}),
      });
      setCreated({ name: result.name, token: result.token });
      setName('');
      await load();
    } catch (caught) {
      setError(errorText(caught));
    } finally {
      setBusy(false);
    }
  };

  const revoke = async (token: ApiToken) => {
    if (!window.confirm(`Revoke "${token.name}"? Apps using it stop working at once.`)) return;
    try {
      await del(`/api/tokens/${encodeURIComponent(token.id)}`);
      await load();
    } catch (caught) {
      setError(errorText(caught));
    }
  };

  return (
    <section className="page" aria-labelledby="tokens-title">
      <h1 id="tokens-title" tabIndex={-1}>
        API tokens
      </h1>
      <p className="muted">
        Apps call <code>{window.location.origin}/v1</code> with <code>Authorization: Bearer kw_…</code>; they
        never see your provider keys.
      </p>
      {error ? <Notice kind="error">{error}</Notice> : null}
      {created ? (
        <Notice kind="success">
          <p>
            <strong>Token "{created.name}" — copy it now, it is not shown again.</strong>
          </p>
          <div className="copy-row">
            <code className="secret-value" data-testid="new-token">
              {created.token}
            </code>
            <CopyButton text={created.token} label="Copy token" />
            <button type="button" className="button small ghost" onClick={() => setCreated(null)}>
              Done
            </button>
          </div>
        </Notice>
      ) : null}
      <form className="card form-card row-form" onSubmit={(event) => void create(event)}>
        <Field label="Token name">
          {(props) => (
            <input
              {...props}
              autoComplete="off"
              value={name}
              onChange={(event) => setName(event.target.value)}
            />
          )}
        </Field>
        <Field label="Expires">
          {(props) => (
            <select {...props} value={days} onChange={(event) => setDays(event.target.value)}>
              <option value="">Never</option>
              <option value="7">In 7 days</option>
              <option value="30">In 30 days</option>
              <option value="90">In 90 days</option>
              <option value="365">In a year</option>
            </select>
          )}
        </Field>
        <button type="submit" className="button primary" disabled={busy}>
          Create token
        </button>
      </form>
      {tokens && tokens.length === 0 ? <p className="muted">No API tokens yet.</p> : null}
      {tokens && tokens.length > 0 ? (
        <div className="table-scroll">
          <table className="data-table">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Starts with</th>
                <th scope="col">Last used</th>
                <th scope="col">Expires</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {tokens.map((token) => (
                <tr key={token.id}>
                  <th scope="row">{token.name}</th>
                  <td>
                    <code>{token.prefix}…</code>
                  </td>
                  <td>{formatDate(token.lastUsedAt)}</td>
                  <td>{token.expiresAt ? formatDate(token.expiresAt) : 'never'}</td>
                  <td>
                    <button
                      type="button"
                      className="button small danger"
                      aria-label={`Revoke ${token.name}`}
                      onClick={() => void revoke(token)}
                    >
                      Revoke
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}
