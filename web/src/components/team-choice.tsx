import type { Team } from '../api/sharing-types.ts';
import { Notice } from './field.tsx';
import { Link } from './link.tsx';

/**
 * The teams an owner shares something with: a checkbox per team they are in, then Save or Cancel.
 * Knowledge bases and the library's presets and assistants use it (each with its own legend).
 */
export function TeamChoice({
  legend,
  teams,
  error,
  chosen,
  onChoose,
  onSave,
  onCancel,
}: {
  legend: string;
  /** null while loading. */
  teams: Team[] | null;
  error: string | null;
  chosen: string[];
  onChoose: (chosen: string[]) => void;
  onSave: () => void;
  onCancel: () => void;
}) {
  return (
    <fieldset className="card">
      <legend>{legend}</legend>
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
              onChoose(event.target.checked ? [...chosen, team.id] : chosen.filter((id) => id !== team.id))
            }
          />
          {team.name}
        </label>
      ))}
      <div className="row">
        <button type="button" className="button small primary" onClick={onSave}>
          Save sharing
        </button>
        <button type="button" className="button small ghost" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </fieldset>
  );
}
