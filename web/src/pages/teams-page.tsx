import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { ApiError, api, del, get, isMissingRoute, patch, post } from '../api/client.ts';
import type { Grant, Limits, Team, TeamMember, TeamRole } from '../api/sharing-types.ts';
import type { Credential, User } from '../api/types.ts';
import { Field, Notice } from '../components/field.tsx';
import { LimitsEditor, LimitsSummary } from '../components/limits-fields.tsx';
import { Link } from '../components/link.tsx';
import { GrantSummary } from '../components/sharing-panel.tsx';
import { subjectLabel } from '../lib/grants.ts';
import { navigate, useTitle } from '../lib/router.ts';
import { useSession } from '../session.tsx';

const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));
const put = <T,>(path: string, body: unknown) => api<T>('PUT', path, { body });
const teamPath = (id: string) => `/api/teams/${encodeURIComponent(id)}`;
const UNAVAILABLE = 'Teams are not available on this server yet.';

/** Teams: the list (admins create and delete), or one team's members, limits and grants. */
export default function TeamsPage({ teamId }: { teamId: string | null }) {
  return teamId ? <TeamDetail teamId={teamId} /> : <TeamList />;
}

function TeamList() {
  useTitle('Teams');
  const { me } = useSession();
  const admin = me.user.role === 'admin';
  const [teams, setTeams] = useState<Team[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [name, setName] = useState('');
  const [nameError, setNameError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);

  const load = useCallback(async () => {
    try {
      setTeams((await get<{ teams: Team[] }>('/api/teams')).teams);
    } catch (caught) {
      setError(isMissingRoute(caught) ? UNAVAILABLE : errorText(caught));
      setTeams([]);
    }
  }, []);
  useEffect(() => void load(), [load]);

  const create = async (event: FormEvent) => {
    event.preventDefault();
    if (!name.trim()) {
      setNameError('Give the team a name.');
      return;
    }
    setNameError(undefined);
    setBusy(true);
    setError(null);
    try {
      const team = await post<Team>('/api/teams', { name: name.trim() });
      setName('');
      navigate(`/teams/${encodeURIComponent(team.id)}`);
    } catch (caught) {
      setError(errorText(caught));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="page" aria-labelledby="teams-title">
      <h1 id="teams-title" tabIndex={-1}>
        Teams
      </h1>
      <p className="muted">
        A team shares credentials granted to it, within the team's limits and each grant's.
        {admin ? '' : ' Admins create teams and add members.'}
      </p>
      {error ? <Notice kind="error">{error}</Notice> : null}
      {admin ? (
        <form className="card row-form" onSubmit={(event) => void create(event)} noValidate>
          <Field label="Team name" error={nameError}>
            {(props) => (
              <input
                {...props}
                autoComplete="off"
                value={name}
                onChange={(event) => setName(event.target.value)}
              />
            )}
          </Field>
          <button type="submit" className="button primary" disabled={busy}>
            Create team
          </button>
        </form>
      ) : null}
      {teams === null ? (
        <p className="muted">Loading…</p>
      ) : teams.length === 0 ? (
        error ? null : (
          <Notice kind="info">{admin ? 'No teams yet.' : 'You are not in any team yet.'}</Notice>
        )
      ) : (
        <div className="table-scroll">
          <table className="data-table">
            <caption className="visually-hidden">Teams</caption>
            <thead>
              <tr>
                <th scope="col">Team</th>
                <th scope="col">Members</th>
                <th scope="col">Your role</th>
                <th scope="col">Limits</th>
              </tr>
            </thead>
            <tbody>
              {teams.map((team) => (
                <tr key={team.id}>
                  <th scope="row">
                    <Link to={`/teams/${encodeURIComponent(team.id)}`}>{team.name}</Link>
                  </th>
                  <td>{team.memberCount}</td>
                  <td>{team.myRole ?? <span className="muted">—</span>}</td>
                  <td>
                    <LimitsSummary limits={team.limits} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function TeamDetail({ teamId }: { teamId: string }) {
  const { me } = useSession();
  const admin = me.user.role === 'admin';
  const [team, setTeam] = useState<Team | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [missing, setMissing] = useState<string | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const [renaming, setRenaming] = useState<string | null>(null);
  const [editingLimits, setEditingLimits] = useState(false);
  const [credentialNames, setCredentialNames] = useState<Map<string, string>>(new Map());
  useTitle(team ? `Team ${team.name}` : 'Team');

  const load = useCallback(async () => {
    try {
      setTeam(await get<Team>(teamPath(teamId)));
    } catch (caught) {
      if (isMissingRoute(caught)) setMissing(UNAVAILABLE);
      else if (caught instanceof ApiError && caught.status === 404)
        setMissing('This team does not exist, or you are not in it.');
      else setError(errorText(caught));
    }
  }, [teamId]);
  useEffect(() => void load(), [load]);
  // Grants name their credential by id; the names come from the credentials this user can see.
  useEffect(() => {
    get<Credential[]>('/api/credentials')
      .then((found) =>
        setCredentialNames(new Map(found.map((credential) => [credential.id, credential.name]))),
      )
      .catch(() => {});
  }, []);

  const manage = admin || team?.myRole === 'admin';

  const run = async (action: () => Promise<unknown>, done: string) => {
    setError(null);
    try {
      await action();
      setMessage(done);
      await load();
    } catch (caught) {
      setError(errorText(caught));
    }
  };

  const rename = (event: FormEvent) => {
    event.preventDefault();
    if (renaming === null || !renaming.trim()) return;
    const next = renaming.trim();
    setRenaming(null);
    void run(() => patch(teamPath(teamId), { name: next }), `Renamed to ${next}.`);
  };

  const remove = async () => {
    if (!team || !window.confirm(`Delete the team "${team.name}"? Its grants go with it.`)) return;
    try {
      await del(teamPath(teamId));
      navigate('/teams');
    } catch (caught) {
      setError(errorText(caught));
    }
  };

  const revoke = (grant: Grant) => {
    if (
      !window.confirm(
        `Revoke this team's grant of ${credentialNames.get(grant.credentialId) ?? 'the credential'}?`,
      )
    )
      return;
    void run(
      () =>
        del(
          `/api/credentials/${encodeURIComponent(grant.credentialId)}/grants/${encodeURIComponent(grant.id)}`,
        ),
      'Revoked the grant.',
    );
  };

  const back = (
    <p>
      <Link to="/teams">← All teams</Link>
    </p>
  );
  if (missing)
    return (
      <section className="page">
        {back}
        <h1 tabIndex={-1}>Team</h1>
        <Notice kind="info">{missing}</Notice>
      </section>
    );
  if (!team)
    return (
      <section className="page">
        {back}
        {error ? <Notice kind="error">{error}</Notice> : <p className="muted">Loading…</p>}
      </section>
    );

  return (
    <section className="page" aria-labelledby="team-title">
      {back}
      <div className="page-head">
        <h1 id="team-title" tabIndex={-1}>
          Team {team.name}
        </h1>
        {manage && renaming === null ? (
          <button type="button" className="button small" onClick={() => setRenaming(team.name)}>
            Rename
          </button>
        ) : null}
      </div>
      {renaming !== null ? (
        <form className="row" onSubmit={rename}>
          <label className="visually-hidden" htmlFor="team-rename">
            New team name
          </label>
          <input
            id="team-rename"
            autoFocus
            value={renaming}
            onChange={(event) => setRenaming(event.target.value)}
          />
          <button type="submit" className="button small primary">
            Save name
          </button>
          <button type="button" className="button small ghost" onClick={() => setRenaming(null)}>
            Cancel
          </button>
        </form>
      ) : null}
      <p className="muted">
        {team.memberCount === 1 ? '1 member' : `${team.memberCount} members`}
        {team.myRole ? ` · you are a team ${team.myRole}` : ''}
      </p>
      {error ? <Notice kind="error">{error}</Notice> : null}
      {message ? <Notice kind="success">{message}</Notice> : null}

      <h2 className="team-section">Members</h2>
      <Members team={team} manage={manage} admin={admin} meId={me.user.id} run={run} />

      <h2 className="team-section">Limits</h2>
      <p>
        <LimitsSummary limits={team.limits} />
      </p>
      {admin ? (
        editingLimits ? (
          <div className="card">
            <LimitsEditor
              title={`Limits of team ${team.name}`}
              limits={team.limits}
              save={(limits: Limits) => put(`${teamPath(teamId)}/limits`, limits)}
              onCancel={() => setEditingLimits(false)}
              onSaved={() => {
                setEditingLimits(false);
                setMessage(`Saved the limits of ${team.name}.`);
                void load();
              }}
            />
          </div>
        ) : (
          <button type="button" className="button small" onClick={() => setEditingLimits(true)}>
            Set team limits
          </button>
        )
      ) : null}

      <h2 className="team-section">Credentials granted to the team</h2>
      {(team.grants ?? []).length === 0 ? (
        <p className="muted">
          No credential is granted to this team yet. A credential's owner grants it on the Credentials page.
        </p>
      ) : (
        <ul className="grant-list" aria-label="Grants to the team">
          {(team.grants ?? []).map((grant) => (
            <li key={grant.id} className="grant">
              <GrantSummary
                grant={grant}
                title={`Credential ${credentialNames.get(grant.credentialId) ?? grant.credentialId}`}
              >
                {manage ? (
                  <button
                    type="button"
                    className="button small danger"
                    onClick={() => revoke(grant)}
                    aria-label={`Revoke the grant of ${credentialNames.get(grant.credentialId) ?? 'the credential'} to ${subjectLabel(grant.subject)}`}
                  >
                    Revoke
                  </button>
                ) : null}
              </GrantSummary>
            </li>
          ))}
        </ul>
      )}

      {admin ? (
        <div className="danger-zone">
          <button type="button" className="button danger" onClick={() => void remove()}>
            Delete team
          </button>
        </div>
      ) : null}
    </section>
  );
}

function Members({
  team,
  manage,
  admin,
  meId,
  run,
}: {
  team: Team;
  manage: boolean;
  admin: boolean;
  meId: string;
  run: (action: () => Promise<unknown>, done: string) => Promise<void>;
}) {
  const [users, setUsers] = useState<User[] | null>(null);
  const [userId, setUserId] = useState('');
  const [role, setRole] = useState<TeamRole>('member');
  const members = team.members ?? [];
  const memberPath = (id: string) => `${teamPath(team.id)}/members/${encodeURIComponent(id)}`;

  // Only admins can list users, so only they get the picker.
  useEffect(() => {
    if (!admin) return;
    get<User[]>('/api/users')
      .then(setUsers)
      .catch(() => setUsers([]));
  }, [admin]);

  const add = (event: FormEvent) => {
    event.preventDefault();
    const user = users?.find((candidate) => candidate.id === userId);
    if (!user) return;
    setUserId('');
    void run(
      () => put<TeamMember>(memberPath(user.id), { role }),
      `Added ${user.username} as a team ${role}.`,
    );
  };

  const candidates = (users ?? []).filter((user) => !members.some((member) => member.userId === user.id));
  return (
    <>
      {members.length === 0 ? (
        <p className="muted">No members yet.</p>
      ) : (
        <div className="table-scroll">
          <table className="data-table">
            <caption className="visually-hidden">Members of {team.name}</caption>
            <thead>
              <tr>
                <th scope="col">Member</th>
                <th scope="col">Role</th>
                {manage ? (
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                ) : null}
              </tr>
            </thead>
            <tbody>
              {members.map((member) => (
                <tr key={member.userId}>
                  <th scope="row">
                    {member.username}
                    {member.userId === meId ? <span className="muted"> (you)</span> : null}
                  </th>
                  <td>
                    {manage ? (
                      <select
                        aria-label={`Role of ${member.username}`}
                        value={member.role}
                        onChange={(event) =>
                          void run(
                            () => put(memberPath(member.userId), { role: event.target.value }),
                            `${member.username} is now a team ${event.target.value}.`,
                          )
                        }
                      >
                        <option value="member">member</option>
                        <option value="admin">admin</option>
                      </select>
                    ) : (
                      member.role
                    )}
                  </td>
                  {manage ? (
                    <td>
                      <button
                        type="button"
                        className="button small danger"
                        aria-label={`Remove ${member.username} from the team`}
                        onClick={() => {
                          if (!window.confirm(`Remove ${member.username} from ${team.name}?`)) return;
                          void run(() => del(memberPath(member.userId)), `Removed ${member.username}.`);
                        }}
                      >
                        Remove
                      </button>
                    </td>
                  ) : null}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {admin ? (
        <form className="row-form add-member" onSubmit={add}>
          <Field label="Add a member">
            {(props) => (
              <select {...props} value={userId} onChange={(event) => setUserId(event.target.value)}>
                <option value="">{users === null ? 'Loading users…' : 'Choose a user…'}</option>
                {candidates.map((user) => (
                  <option key={user.id} value={user.id}>
                    {user.username}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <Field label="Team role">
            {(props) => (
              <select {...props} value={role} onChange={(event) => setRole(event.target.value as TeamRole)}>
                <option value="member">member</option>
                <option value="admin">admin</option>
              </select>
            )}
          </Field>
          <button type="submit" className="button primary" disabled={!userId}>
            Add member
          </button>
        </form>
      ) : null}
    </>
  );
}
