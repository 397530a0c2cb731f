import { useEffect, useRef, useState, type FormEvent } from 'react';
import { ApiError, post } from '../api/client.ts';
import type { Me } from '../api/types.ts';
import { Field, Notice } from '../components/field.tsx';
import { validateAccount, type FieldErrors } from '../lib/forms.ts';
import { useTitle } from '../lib/router.ts';

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

/**
 * Sign-in with username and password; the session lives in an HttpOnly cookie. Shown only once an
 * admin exists (before that the app shows setup), so it offers no setup link.
 */
export function LoginPage({ notice, onSignedIn }: { notice: string | null; onSignedIn: (me: Me) => void }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const first = useRef<HTMLInputElement>(null);
  useEffect(() => first.current?.focus(), []);
  useTitle('Sign in');

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onSignedIn(await post<Me>('/api/auth/login', { username, password }, { allowUnauthenticated: true }));
    } catch (caught) {
      setError(message(caught));
      setPassword('');
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="card auth-card" onSubmit={(event) => void submit(event)} aria-labelledby="login-title">
      <h1 id="login-title">Sign in to Keyway</h1>
      {notice ? <Notice kind="info">{notice}</Notice> : null}
      {error ? <Notice kind="error">{error}</Notice> : null}
      <Field label="Username">
        {(props) => (
          <input
            {...props}
            ref={first}
            name="username"
            autoComplete="username"
            required
            value={username}
            onChange={(event) => setUsername(event.target.value)}
          />
        )}
      </Field>
      <Field label="Password">
        {(props) => (
          <input
            {...props}
            name="password"
            type="password"
            autoComplete="current-password"
            required
            value={password}
            onChange={(event) => setPassword(event.target.value)}
          />
        )}
      </Field>
      <button className="button primary" type="submit" disabled={busy}>
        {busy ? 'Signing in…' : 'Sign in'}
      </button>
      <p className="muted small-text">Forgot your password? Ask an admin to set a new one.</p>
    </form>
  );
}

/**
 * First run: the one-time setup token from the server log, then the first admin's name and password.
 * `onClosed`: setup turned out to be done already (in another browser); the app then shows sign-in.
 */
export function SetupPage({ onSignedIn, onClosed }: { onSignedIn: (me: Me) => void; onClosed: () => void }) {
  const [token, setToken] = useState('');
  const [username, setUsername] = useState('admin');
  const [password, setPassword] = useState('');
  const [confirm, setConfirm] = useState('');
  const [errors, setErrors] = useState<FieldErrors>({});
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const first = useRef<HTMLInputElement>(null);
  useEffect(() => first.current?.focus(), []);
  useTitle('Set up');

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const found = validateAccount({ username, password, confirm });
    if (token.trim() === '') found.token = 'Paste the setup token from the server log.';
    setErrors(found);
    if (Object.keys(found).length > 0) return;
    setBusy(true);
    setError(null);
    try {
      await post('/api/setup', { token: token.trim(), username, password }, { allowUnauthenticated: true });
      onSignedIn(await post<Me>('/api/auth/login', { username, password }, { allowUnauthenticated: true }));
    } catch (caught) {
      if (caught instanceof ApiError && caught.code === 'setup_closed') onClosed();
      else setError(message(caught));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form
      className="card auth-card"
      onSubmit={(event) => void submit(event)}
      aria-labelledby="setup-title"
      noValidate
    >
      <h1 id="setup-title">Set up Keyway</h1>
      <p className="muted">
        Create the first admin. The one-time setup token is printed on the server's standard error when it
        starts with no users.
      </p>
      {error ? <Notice kind="error">{error}</Notice> : null}
      <Field label="Setup token" error={errors.token}>
        {(props) => (
          <input
            {...props}
            ref={first}
            name="token"
            autoComplete="off"
            spellCheck={false}
            value={token}
            onChange={(event) => setToken(event.target.value)}
          />
        )}
      </Field>
      <Field label="Admin username" error={errors.username}>
        {(props) => (
          <input
            {...props}
            name="username"
            autoComplete="username"
            value={username}
            onChange={(event) => setUsername(event.target.value)}
          />
        )}
      </Field>
      <Field label="Password" hint="At least 10 characters." error={errors.password}>
        {(props) => (
          <input
            {...props}
            name="password"
            type="password"
            autoComplete="new-password"
            value={password}
            onChange={(event) => setPassword(event.target.value)}
          />
        )}
      </Field>
      <Field label="Repeat the password" error={errors.confirm}>
        {(props) => (
          <input
            {...props}
            name="confirm"
            type="password"
            autoComplete="new-password"
            value={confirm}
            onChange={(event) => setConfirm(event.target.value)}
          />
        )}
      </Field>
      <button className="button primary" type="submit" disabled={busy}>
        {busy ? 'Creating…' : 'Create admin and sign in'}
      </button>
    </form>
  );
}
