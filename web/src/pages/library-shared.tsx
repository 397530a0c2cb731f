import { useEffect, useState, type ReactNode } from 'react';
import { get, put } from '../api/client.ts';
import type { Team } from '../api/sharing-types.ts';
import type { ModelOption, ResponseBody } from '../api/types.ts';
import { Link } from '../components/link.tsx';
import { TeamChoice } from '../components/team-choice.tsx';

/** The library's shapes, derived from the server's OpenAPI document like everything in api/types.ts. */
export type Preset = ResponseBody<'/api/presets/{id}', 'get'>;
export type Assistant = ResponseBody<'/api/assistants/{id}', 'get'>;
export type SavedPrompt = ResponseBody<'/api/prompts/{id}', 'get'>;
export type Owner = Preset['owner'];
/** A preset's settings, as the API shows them. */
export type ChatSettings = Preset['settings'];

export const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** A number field's text as the API wants it: '' is null (the default), anything else a number. */
export function numberOrNull(text: string): number | null {
  const trimmed = text.trim();
  return trimmed === '' ? null : Number(trimmed);
}

export const textOf = (value: number | null | undefined) =>
  value === null || value === undefined ? '' : String(value);

/** Checks the settings fields a person typed; returns field errors (empty when fine). */
export function settingsErrors(fields: {
  temperature: string;
  maxTokens: string;
  contextMessages: string;
  contextTokens?: string;
}): Record<string, string> {
  const errors: Record<string, string> = {};
  const temperature = numberOrNull(fields.temperature);
  if (temperature !== null && !(temperature >= 0 && temperature <= 2))
    errors.temperature = 'A temperature from 0 to 2, or empty for the default.';
  const whole = (key: 'maxTokens' | 'contextMessages' | 'contextTokens', max: number) => {
    const value = numberOrNull(fields[key] ?? '');
    if (value !== null && !(Number.isInteger(value) && value >= 1 && value <= max))
      errors[key] = `A whole number from 1 to ${max.toLocaleString()}, or empty.`;
  };
  whole('maxTokens', 1_000_000);
  whole('contextMessages', 100_000);
  whole('contextTokens', 10_000_000);
  return errors;
}

/** Whose it is: "yours", or the owner's name and that it is read-only. */
export function OwnerBadge({ mine, owner }: { mine: boolean; owner: Owner }) {
  return mine ? null : (
    <span className="badge badge-shared" title="Shared with you through a team: only its owner changes it">
      shared by {owner.name} · read only
    </span>
  );
}

/** The models the signed-in user may use (`GET /api/models`), for a datalist; empty while loading. */
export function useModels(): ModelOption[] {
  const [models, setModels] = useState<ModelOption[]>([]);
  useEffect(() => {
    get<ModelOption[] | { models: ModelOption[] }>('/api/models')
      .then((found) => setModels(Array.isArray(found) ? found : found.models))
      .catch(() => setModels([]));
  }, []);
  return models;
}

export function ModelList({ id, models }: { id: string; models: ModelOption[] }) {
  return (
    <datalist id={id}>
      {models
        .filter((model) => (model as { kind?: string }).kind !== 'assistant')
        .map((model) => (
          <option key={model.id} value={model.id}>
            {model.label}
          </option>
        ))}
    </datalist>
  );
}

/**
 * The owner shares an item with teams (`PUT <path>/teams {teamIds}`); members then use it read-only.
 */
export function TeamSharing<T extends { teamIds: string[] }>({
  path,
  item,
  onChanged,
}: {
  path: string;
  item: T;
  onChanged: (item: T) => void;
}) {
  const [teams, setTeams] = useState<Team[] | null>(null);
  const [chosen, setChosen] = useState<string[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [open, setOpen] = useState(false);

  useEffect(() => {
    get<{ teams: Team[] }>('/api/teams')
      .then((found) => setTeams(found.teams))
      .catch(() => setTeams([]));
  }, []);
  const names = item.teamIds.map((id) => teams?.find((team) => team.id === id)?.name ?? 'a team');

  const save = async () => {
    try {
      onChanged(await put<T>(`${path}/teams`, { teamIds: chosen }));
      setOpen(false);
    } catch (caught) {
      setError(errorText(caught));
    }
  };

  return (
    <div className="library-sharing">
      <p className="muted">
        {item.teamIds.length === 0 ? 'Only you can use it.' : `Shared with ${names.join(', ')}.`}{' '}
        {!open ? (
          <button
            type="button"
            className="button small"
            onClick={() => {
              setChosen(item.teamIds);
              setError(null);
              setOpen(true);
            }}
          >
            Share with teams
          </button>
        ) : null}
      </p>
      {open ? (
        <TeamChoice
          legend="Teams whose members may use it (read only)"
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

/** The library's three tabs, as links (each its own address). */
export function LibraryTabs({ current }: { current: 'assistants' | 'presets' | 'prompts' }) {
  const tabs: { id: typeof current; to: string; label: string }[] = [
    { id: 'assistants', to: '/library', label: 'Assistants' },
    { id: 'presets', to: '/library/presets', label: 'Presets' },
    { id: 'prompts', to: '/library/prompts', label: 'Prompts' },
  ];
  return (
    <nav className="tabs" aria-label="Library">
      {tabs.map((tab) => (
        <Link key={tab.id} to={tab.to} aria-current={tab.id === current ? 'page' : undefined}>
          {tab.label}
        </Link>
      ))}
    </nav>
  );
}

/** A page of the library: heading, tabs, intro, then the content. */
export function LibraryFrame({
  current,
  title,
  intro,
  action,
  children,
}: {
  current: 'assistants' | 'presets' | 'prompts';
  title: string;
  intro: ReactNode;
  action?: ReactNode;
  children: ReactNode;
}) {
  return (
    <section className="page" aria-labelledby="library-title">
      <div className="page-head">
        <h1 id="library-title" tabIndex={-1}>
          {title}
        </h1>
        {action}
      </div>
      <LibraryTabs current={current} />
      <p className="muted">{intro}</p>
      {children}
    </section>
  );
}
