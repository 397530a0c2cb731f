import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { del, get, patch, post } from '../api/client.ts';
import { Field, Notice } from '../components/field.tsx';
import { useTitle } from '../lib/router.ts';
import {
  errorText,
  LibraryFrame,
  ModelList,
  numberOrNull,
  OwnerBadge,
  settingsErrors,
  TeamSharing,
  textOf,
  useModels,
  type Preset,
} from './library-shared.tsx';

/** Presets: a saved model and chat settings, applied to a conversation from its settings panel. */
export default function PresetsPage() {
  useTitle('Presets');
  const [presets, setPresets] = useState<Preset[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const [editing, setEditing] = useState<Preset | 'new' | null>(null);
  const models = useModels();

  const load = useCallback(async () => {
    try {
      setPresets(await get<Preset[]>('/api/presets'));
    } catch (caught) {
      setError(errorText(caught));
    }
  }, []);
  useEffect(() => void load(), [load]);

  const remove = async (preset: Preset) => {
    if (!window.confirm(`Delete the preset "${preset.name}"?`)) return;
    try {
      await del(`/api/presets/${encodeURIComponent(preset.id)}`);
      setMessage(`Deleted "${preset.name}".`);
      await load();
    } catch (caught) {
      setError(errorText(caught));
    }
  };

  return (
    <LibraryFrame
      current="presets"
      title="Presets"
      intro="A preset saves a model and chat settings (system prompt, temperature, length, context) to apply to any conversation from its settings."
      action={
        editing === null ? (
          <button type="button" className="button primary" onClick={() => setEditing('new')}>
            New preset
          </button>
        ) : null
      }
    >
      <ModelList id="preset-models" models={models} />
      {error ? <Notice kind="error">{error}</Notice> : null}
      {message ? <Notice kind="success">{message}</Notice> : null}
      {editing ? (
        <PresetForm
          preset={editing === 'new' ? null : editing}
          onCancel={() => setEditing(null)}
          onSaved={(saved) => {
            setEditing(null);
            setMessage(`Saved "${saved.name}".`);
            void load();
          }}
        />
      ) : null}
      {presets === null ? (
        <p className="muted">Loading…</p>
      ) : presets.length === 0 ? (
        <Notice kind="info">No presets yet.</Notice>
      ) : (
        <ul className="card-list" aria-label="Presets">
          {presets.map((preset) => (
            <li key={preset.id} className="card library-item">
              <div className="card-head">
                <h2>{preset.name}</h2>
                <OwnerBadge mine={preset.mine} owner={preset.owner} />
              </div>
              <dl className="facts">
                <div>
                  <dt>Model</dt>
                  <dd className="break">{preset.model ?? 'the conversation’s'}</dd>
                </div>
                <div>
                  <dt>Temperature</dt>
                  <dd>{preset.settings.temperature ?? 'default'}</dd>
                </div>
                <div>
                  <dt>Max tokens</dt>
                  <dd>{preset.settings.maxTokens ?? 'default'}</dd>
                </div>
                <div>
                  <dt>Context</dt>
                  <dd>{contextText(preset.settings.contextMessages, preset.settings.contextTokens)}</dd>
                </div>
              </dl>
              {preset.settings.systemPrompt ? (
                <pre className="prompt-text" aria-label="System prompt">
                  {preset.settings.systemPrompt}
                </pre>
              ) : null}
              {preset.mine ? (
                <>
                  <div className="row actions">
                    <button type="button" className="button small" onClick={() => setEditing(preset)}>
                      Edit
                    </button>
                    <button type="button" className="button small danger" onClick={() => void remove(preset)}>
                      Delete
                    </button>
                  </div>
                  <TeamSharing
                    path={`/api/presets/${encodeURIComponent(preset.id)}`}
                    item={preset}
                    onChanged={() => void load()}
                  />
                </>
              ) : null}
            </li>
          ))}
        </ul>
      )}
    </LibraryFrame>
  );
}

export function contextText(messages: number | null | undefined, tokens: number | null | undefined): string {
  const parts = [
    messages ? `last ${messages} messages` : null,
    tokens ? `about ${tokens.toLocaleString()} tokens` : null,
  ].filter(Boolean);
  return parts.length === 0 ? 'whole branch' : parts.join(', ');
}

function PresetForm({
  preset,
  onSaved,
  onCancel,
}: {
  preset: Preset | null;
  onSaved: (preset: Preset) => void;
  onCancel: () => void;
}) {
  const [name, setName] = useState(preset?.name ?? '');
  const [model, setModel] = useState(preset?.model ?? '');
  const [systemPrompt, setSystemPrompt] = useState(preset?.settings.systemPrompt ?? '');
  const [temperature, setTemperature] = useState(textOf(preset?.settings.temperature));
  const [maxTokens, setMaxTokens] = useState(textOf(preset?.settings.maxTokens));
  const [contextMessages, setContextMessages] = useState(textOf(preset?.settings.contextMessages));
  const [contextTokens, setContextTokens] = useState(textOf(preset?.settings.contextTokens));
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  // A field's complaint goes once the person changes what it was about.
  useEffect(
    () => setErrors({}),
    [name, model, systemPrompt, temperature, maxTokens, contextMessages, contextTokens],
  );

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const found = settingsErrors({ temperature, maxTokens, contextMessages, contextTokens });
    if (name.trim() === '') found.name = 'Give the preset a name.';
    setErrors(found);
    if (Object.keys(found).length > 0) return;
    setBusy(true);
    setError(null);
    const body = {
      name: name.trim(),
      model: model.trim() === '' ? null : model.trim(),
      settings: {
        systemPrompt: systemPrompt.trim() === '' ? null : systemPrompt,
        temperature: numberOrNull(temperature),
        maxTokens: numberOrNull(maxTokens),
        contextMessages: numberOrNull(contextMessages),
        contextTokens: numberOrNull(contextTokens),
      },
    };
    try {
      onSaved(
        preset
          ? await patch<Preset>(`/api/presets/${encodeURIComponent(preset.id)}`, body)
          : await post<Preset>('/api/presets', body),
      );
    } catch (caught) {
      setError(errorText(caught));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="card form-card" onSubmit={(event) => void submit(event)} noValidate aria-label="Preset">
      <h2>{preset ? `Edit "${preset.name}"` : 'New preset'}</h2>
      {error ? <Notice kind="error">{error}</Notice> : null}
      <div className="grid-2">
        <Field label="Name" error={errors.name}>
          {(props) => (
            <input
              {...props}
              name="preset-name"
              autoFocus
              value={name}
              onChange={(e) => setName(e.target.value)}
            />
          )}
        </Field>
        <Field label="Model" hint="Empty: keep the conversation's model.">
          {(props) => (
            <input
              {...props}
              name="preset-model"
              list="preset-models"
              autoComplete="off"
              value={model}
              onChange={(e) => setModel(e.target.value)}
            />
          )}
        </Field>
      </div>
      <Field label="System prompt">
        {(props) => (
          <textarea
            {...props}
            name="preset-system-prompt"
            rows={4}
            value={systemPrompt}
            onChange={(e) => setSystemPrompt(e.target.value)}
          />
        )}
      </Field>
      <div className="grid-4">
        <Field label="Temperature" hint="0–2; empty: default." error={errors.temperature}>
          {(props) => (
            <input
              {...props}
              name="preset-temperature"
              inputMode="decimal"
              value={temperature}
              onChange={(e) => setTemperature(e.target.value)}
            />
          )}
        </Field>
        <Field label="Max tokens" hint="Longest answer." error={errors.maxTokens}>
          {(props) => (
            <input
              {...props}
              name="preset-max-tokens"
              inputMode="numeric"
              value={maxTokens}
              onChange={(e) => setMaxTokens(e.target.value)}
            />
          )}
        </Field>
        <Field label="Context messages" hint="Send the last N." error={errors.contextMessages}>
          {(props) => (
            <input
              {...props}
              name="preset-context-messages"
              inputMode="numeric"
              value={contextMessages}
              onChange={(e) => setContextMessages(e.target.value)}
            />
          )}
        </Field>
        <Field label="Context tokens" hint="History at most." error={errors.contextTokens}>
          {(props) => (
            <input
              {...props}
              name="preset-context-tokens"
              inputMode="numeric"
              value={contextTokens}
              onChange={(e) => setContextTokens(e.target.value)}
            />
          )}
        </Field>
      </div>
      <div className="row">
        <button type="submit" className="button primary" disabled={busy}>
          {busy ? 'Saving…' : 'Save preset'}
        </button>
        <button type="button" className="button ghost" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
