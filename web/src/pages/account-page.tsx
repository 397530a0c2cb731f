import { useState, type FormEvent } from 'react';
import { ApiError, post } from '../api/client.ts';
import { Field, Notice } from '../components/field.tsx';
import { Link } from '../components/link.tsx';
import { useTitle } from '../lib/router.ts';
import { useSession } from '../session.tsx';

const MIN_PASSWORD = 10;

/** The signed-in user's own account: who they are, and a new password. */
export default function AccountPage() {
  useTitle('Account');
  const { me } = useSession();
  return (
    <section className="page narrow" aria-labelledby="account-title">
      <h1 id="account-title" tabIndex={-1}>
        Account
      </h1>
      <dl className="facts">
        <div>
          <dt>Username</dt>
          <dd>{me.user.username}</dd>
        </div>
        <div>
          <dt>Role</dt>
          <dd>{me.user.role}</dd>
        </div>
      </dl>
      <p className="muted">
        Your API tokens are on <Link to="/tokens">API tokens</Link>; your limits on{' '}
        <Link to="/limits">My limits</Link>.
      </p>
      <ChangePassword />
    </section>
  );
}

function ChangePassword() {
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [confirm, setConfirm] = useState('');
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState(false);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const found: Record<string, string> = {};
    if (current === '') found.current = 'Type your current password.';
    if (next.length < MIN_PASSWORD) found.next = `At least ${MIN_PASSWORD} characters.`;
    else if (next === current) found.next = 'Choose a password you do not use now.';
    if (confirm !== next) found.confirm = 'The two new passwords differ.';
    setErrors(found);
    setDone(false);
    if (Object.keys(found).length > 0) return;
    setBusy(true);
    setError(null);
    try {
      await post('/api/me/password', { currentPassword: current, newPassword: next });
      setDone(true);
    } catch (caught) {
      if (caught instanceof ApiError && caught.details?.field === 'currentPassword')
        setErrors({ current: 'That is not your current password.' });
      else if (caught instanceof ApiError && caught.code === 'too_many_attempts') {
        const seconds = Number(caught.details?.retryAfterSeconds ?? 0);
        setError(
          `Too many wrong passwords. Try again in ${seconds > 90 ? `${Math.ceil(seconds / 60)} minutes` : `${seconds} seconds`}.`,
        );
      } else setError(caught instanceof Error ? caught.message : String(caught));
    } finally {
      // Passwords do not stay in the page's state longer than needed.
      setCurrent('');
      setNext('');
      setConfirm('');
      setBusy(false);
    }
  };

  return (
    <form
      className="card form-card"
      onSubmit={(event) => void submit(event)}
      noValidate
      aria-labelledby="password-title"
    >
      <h2 id="password-title">Change your password</h2>
      {error ? <Notice kind="error">{error}</Notice> : null}
      {done ? (
        <Notice kind="success">
          Password changed. You stay signed in here; every other browser was signed out.
        </Notice>
      ) : null}
      <Field label="Current password" error={errors.current}>
        {(props) => (
          <input
            {...props}
            name="current-password"
            type="password"
            autoComplete="current-password"
            value={current}
            onChange={(e) => setCurrent(e.target.value)}
          />
        )}
      </Field>
      <Field label="New password" hint={`At least ${MIN_PASSWORD} characters.`} error={errors.next}>
        {(props) => (
          <input
            {...props}
            name="new-password"
            type="password"
            autoComplete="new-password"
            value={next}
            onChange={(e) => setNext(e.target.value)}
          />
        )}
      </Field>
      <Field label="Repeat the new password" error={errors.confirm}>
        {(props) => (
          <input
            {...props}
            name="confirm-password"
            type="password"
            autoComplete="new-password"
            value={confirm}
            onChange={(e) => setConfirm(e.target.value)}
          />
        )}
      </Field>
      <div className="row">
        <button type="submit" className="button primary" disabled={busy}>
          {busy ? 'Changing…' : 'Change password'}
        </button>
      </div>
    </form>
  );
}
