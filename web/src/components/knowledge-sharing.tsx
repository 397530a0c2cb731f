import { useState } from 'react';
import { get, put } from '../api/client.ts';
import type { Team } from '../api/sharing-types.ts';
import type { KnowledgeBase } from '../api/types.ts';
import { Notice } from './field.tsx';
import { Link } from './link.tsx';

const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));
const names = (teams: { name: string }[]) => teams.map((team) => team.name).join(', ');

/** Who a knowledge base is shared with, in a line; a team reader is told whose it is. */
export function sharingSummary(base: Pick<KnowledgeBase, 'access' | 'owner' | 'teams'>): string {
  if (base.access === 'team')
    return `Shared with you by ${base.owner.username} through ${names(base.teams)}: read only.`;
  return base.teams.length === 0 ? 'Only you can use it.' : `Shared with ${names(base.teams)}.`;
}

/**
 * The owner shares a knowledge base with teams they are in (`PUT /api/knowledge/:id/teams`): their
 * members then read and search it; only the owner changes it.
 */
export function KnowledgeSharing({
  base,
  onChanged,
}: {
  base: KnowledgeBase;
  onChanged: (base: KnowledgeBase) => void;
}) {
  const [teams, setTeams] = useState<Team[] | null>(null);
  const [chosen, setChosen] = useState<string[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [open, setOpen] = useState(false);

  const start = async () => {
    setError(null);
    setChosen(base.teams.map((team) => team.id));
    setOpen(true);
    try {
      setTeams((await get<{ teams: Team[] }>('/api/teams')).teams);
    } catch (caught) {
      setError(errorText(caught));
    }
  };

  const save = async () => {
    try {
      onChanged(
        await put<KnowledgeBase>(`/api/knowledge/${encodeURIComponent(base.id)}/teams`, { teamIds: chosen }),
      );
      setOpen(false);
    } catch (caught) {
      setError(errorText(caught));
    }
  };

  return (
    <div className="kb-sharing">
      <p className="muted">
        {sharingSummary(base)}{' '}
        {!open ? (
          <button type="button" className="button small" onClick={() => void start()}>
            Share with teams
          </button>
        ) : null}
      </p>
      {open ? (
        <fieldset className="card">
          <legend>Teams that may read and search it</legend>
          {error ? <Notice kind="error">{error}</Notice> : null}
          {teams === null && !error ? <p className="muted">Loading teams…</p> : null}
          {teams && teams.length === 0 ? (
            <p className="muted">
              You are in no team yet. <Link to="/teams">Teams</Link>
            </p>
          ) : null}
          {(teams ?? []).map((team) => (
            <label key={team.id} className="check">
              <input
                type="checkbox"
                checked={chosen.includes(team.id)}
                onChange={(event) =>
                  setChosen((list) =>
                    event.target.checked ? [...list, team.id] : list.filter((id) => id !== team.id),
                  )
                }
              />
              {team.name}
            </label>
          ))}
          <div className="row">
            <button type="button" className="button small primary" onClick={() => void save()}>
              Save sharing
            </button>
            <button type="button" className="button small ghost" onClick={() => setOpen(false)}>
              Cancel
            </button>
          </div>
        </fieldset>
      ) : null}
    </div>
  );
}
