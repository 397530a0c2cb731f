import { useState } from 'react';
import { get, put } from '../api/client.ts';
import type { Team } from '../api/sharing-types.ts';
import type { KnowledgeBase } from '../api/types.ts';
import { TeamChoice } from './team-choice.tsx';

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
        <TeamChoice
          legend="Teams that may read and search it"
          teams={teams}
          error={error}
          chosen={chosen}
          onChoose={setChosen}
          onSave={() => void save()}
          onCancel={() => setOpen(false)}
        />
      ) : null}
    </div>
  );
}
