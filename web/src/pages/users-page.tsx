import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { api, get, patch, post } from '../api/client.ts';
import type { Limits } from '../api/sharing-types.ts';
import type { Role, User } from '../api/types.ts';
import { Field, formatDate, Notice } from '../components/field.tsx';
import { LimitsEditor, LimitsSummary } from '../components/limits-fields.tsx';
import { validateAccount, type FieldErrors } from '../lib/forms.ts';
import { useTitle } from '../lib/router.ts';
import { useSession } from '../session.tsx';

const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** Admin: create users, disable and enable them, reset passwords, set their limits. */
export default function UsersPage() {
  useTitle('Users');
  const { me } = useSession();
  const [users, setUsers] = useState<User[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const [form, setForm] = useState({ username: '', password: '', role: 'member' as Role });
  const [errors, setErrors] = useState<FieldErrors>({});
  const [resetting, setResetting] = useState<{ id: string; password: string } | null>(null);
  const [limiting, setLimiting] = useState<string | null>(null);
  const limited = users?.find((user) => user.id === limiting);

  const load = useCallback(async () => {
    try {
      setUsers(await get<User[]>('/api/users'));
    } catch (caught) {
      setError(errorText(caught));
    }
  }, []);
  useEffect(() => void load(), [load]);

  const create = async (event: FormEvent) => {
    event.preventDefault();
    const found = validateAccount(form);
    setErrors(found);
    if (Object.keys(found).length > 0) return;
    setError(null);
    try {
      const user = await post<User>('/api/users', form);
      setMessage(`Created ${user.username}.`);
      setForm({ username: '', password: '', role: 'member' });
      await load();
    } catch (caught) {
      setForm((current) => ({ ...current, password: '' }));
      setError(errorText(caught));
    }
  };

  const update = async (
    user: User,
    changes: Partial<{ disabled: boolean; role: Role; password: string }>,
    done: string,
  ) => {
    setError(null);
    try {
      await patch(`/api/users/${encodeURIComponent(user.id)}`, changes);
      setMessage(done);
      await load();
    } catch (caught) {
      setError(errorText(caught));
    }
  };

  const reset = (event: FormEvent, user: User) => {
    event.preventDefault();
    if (!resetting) return;
    const { password } = resetting;
    setResetting(null);
    if (password.length < 10) {
      setError('A password needs at least 10 characters.');
      return;
    }
    void update(user, { password }, `New password set for ${user.username}.`);
  };

  return (
    <section className="page" aria-labelledby="users-title">
      <h1 id="users-title" tabIndex={-1}>
        Users
      </h1>
      {error ? <Notice kind="error">{error}</Notice> : null}
      {message ? <Notice kind="success">{message}</Notice> : null}
      <form
        className="card form-card"
        onSubmit={(event) => void create(event)}
        noValidate
        aria-labelledby="new-user"
      >
        <h2 id="new-user">Create a user</h2>
        <div className="grid-3">
          <Field label="Username" error={errors.username}>
            {(props) => (
              <input
                {...props}
                autoComplete="off"
                value={form.username}
                onChange={(event) => setForm({ ...form, username: event.target.value })}
              />
            )}
          </Field>
          <Field label="Password" error={errors.password} hint="At least 10 characters.">
            {(props) => (
              <input
                {...props}
                type="password"
                autoComplete="new-password"
                value={form.password}
                onChange={(event) => setForm({ ...form, password: event.target.value })}
              />
            )}
          </Field>
          <Field label="Role">
            {(props) => (
              <select
                {...props}
                value={form.role}
                onChange={(event) => setForm({ ...form, role: event.target.value as Role })}
              >
                <option value="member">Member</option>
                <option value="admin">Admin</option>
              </select>
            )}
          </Field>
        </div>
        <button type="submit" className="button primary">
          Create user
        </button>
      </form>
      {limited ? (
        <div className="card" key={limited.id}>
          <LimitsEditor
            title={`Limits of ${limited.username}`}
            limits={limited.limits}
            save={(limits: Limits) =>
              api('PUT', `/api/users/${encodeURIComponent(limited.id)}/limits`, { body: limits })
            }
            onCancel={() => setLimiting(null)}
            onSaved={() => {
              setLimiting(null);
              setMessage(`Saved the limits of ${limited.username}.`);
              void load();
            }}
          />
        </div>
      ) : null}
      {users ? (
        <div className="table-scroll">
          <table className="data-table">
            <thead>
              <tr>
                <th scope="col">User</th>
                <th scope="col">Role</th>
                <th scope="col">Status</th>
                <th scope="col">Created</th>
                <th scope="col">Limits</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {users.map((user) => (
                <tr key={user.id}>
                  <th scope="row">{user.username}</th>
                  <td>{user.role}</td>
                  <td>
                    <span className={`badge ${user.disabled ? 'badge-invalid' : 'badge-valid'}`}>
                      {user.disabled ? 'disabled' : 'active'}
                    </span>
                  </td>
                  <td>{formatDate(user.createdAt)}</td>
                  <td>
                    {user.limits === undefined ? (
                      <span className="muted">—</span>
                    ) : (
                      <LimitsSummary limits={user.limits} />
                    )}
                  </td>
                  <td>
                    {resetting?.id === user.id ? (
                      <form className="row" onSubmit={(event) => reset(event, user)}>
                        <label className="visually-hidden" htmlFor={`reset-${user.id}`}>
                          New password for {user.username}
                        </label>
                        <input
                          id={`reset-${user.id}`}
                          type="password"
                          autoComplete="new-password"
                          autoFocus
                          value={resetting.password}
                          onChange={(event) => setResetting({ id: user.id, password: event.target.value })}
                        />
                        <button type="submit" className="button small primary">
                          Set
                        </button>
                        <button
                          type="button"
                          className="button small ghost"
                          onClick={() => setResetting(null)}
                        >
                          Cancel
                        </button>
                      </form>
                    ) : (
                      <div className="row">
                        <button
                          type="button"
                          className="button small"
                          onClick={() => setResetting({ id: user.id, password: '' })}
                          aria-label={`Reset the password of ${user.username}`}
                        >
                          Reset password
                        </button>
                        <button
                          type="button"
                          className="button small"
                          aria-expanded={limiting === user.id}
                          onClick={() => setLimiting(limiting === user.id ? null : user.id)}
                          aria-label={`Limits of ${user.username}`}
                        >
                          Limits
                        </button>
                        {user.id !== me.user.id ? (
                          <button
                            type="button"
                            className={`button small ${user.disabled ? '' : 'danger'}`}
                            onClick={() =>
                              void update(
                                user,
                                { disabled: !user.disabled },
                                `${user.username} is ${user.disabled ? 'enabled' : 'disabled'}.`,
                              )
                            }
                          >
                            {user.disabled ? 'Enable' : 'Disable'}
                          </button>
                        ) : null}
                      </div>
                    )}
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
