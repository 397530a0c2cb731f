import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { del, get, patch, post } from '../api/client.ts';
import type { KnowledgeBase } from '../api/types.ts';
import { Field, Notice } from '../components/field.tsx';
import { Link } from '../components/link.tsx';
import { useTitle } from '../lib/router.ts';
import { contextText } from './library-presets.tsx';
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
  type Assistant,
} from './library-shared.tsx';

const DEFAULT_COLOUR = '#4f46e5';

/** Assistants: a named model with instructions, starter prompts, a colour and knowledge bases. */
export default function AssistantsPage() {
  useTitle('Assistants');
  const [assistants, setAssistants] = useState<Assistant[] | null>(null);
  const [bases, setBases] = useState<KnowledgeBase[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const [editing, setEditing] = useState<Assistant | 'new' | null>(null);
  const models = useModels();

  const load = useCallback(async () => {
    try {
      setAssistants(await get<Assistant[]>('/api/assistants'));
    } catch (caught) {
      setError(errorText(caught));
    }
  }, []);
  useEffect(() => {
    void load();
    get<KnowledgeBase[]>('/api/knowledge')
      .then(setBases)
      .catch(() => setBases([]));
  }, [load]);

  const remove = async (assistant: Assistant) => {
    if (!window.confirm(`Delete the assistant "${assistant.name}"?`)) return;
    try {
      await del(`/api/assistants/${encodeURIComponent(assistant.id)}`);
      setMessage(`Deleted "${assistant.name}".`);
      await load();
    } catch (caught) {
      setError(errorText(caught));
    }
  };
  const baseName = (id: string) => bases.find((base) => base.id === id)?.name ?? 'a knowledge base';

  return (
    <LibraryFrame
      current="assistants"
      title="Assistants"
      intro={
        <>
          An assistant is a model with instructions, starter prompts and knowledge. Start a chat with one from
          an empty conversation, or call it as <code>assistant:&lt;name&gt;</code> on <code>/v1</code>.
        </>
      }
      action={
        editing === null ? (
          <button type="button" className="button primary" onClick={() => setEditing('new')}>
            New assistant
          </button>
        ) : null
      }
    >
      <ModelList id="assistant-models" models={models} />
      {error ? <Notice kind="error">{error}</Notice> : null}
      {message ? <Notice kind="success">{message}</Notice> : null}
      {editing ? (
        <AssistantForm
          assistant={editing === 'new' ? null : editing}
          bases={bases}
          onCancel={() => setEditing(null)}
          onSaved={(saved) => {
            setEditing(null);
            setMessage(`Saved "${saved.name}".`);
            void load();
          }}
        />
      ) : null}
      {assistants === null ? (
        <p className="muted">Loading…</p>
      ) : assistants.length === 0 ? (
        <Notice kind="info">No assistants yet.</Notice>
      ) : (
        <ul className="card-list" aria-label="Assistants">
          {assistants.map((assistant) => (
            <li key={assistant.id} className="card library-item">
              <div className="card-head">
                <span
                  className="avatar"
                  aria-hidden="true"
                  style={{ background: assistant.avatarColor ?? 'var(--muted)' }}
                >
                  {assistant.name.slice(0, 1).toUpperCase()}
                </span>
                <h2>{assistant.name}</h2>
                <OwnerBadge mine={assistant.mine} owner={assistant.owner} />
              </div>
              {assistant.description ? <p>{assistant.description}</p> : null}
              <dl className="facts">
                <div>
                  <dt>Model</dt>
                  <dd className="break">{assistant.model}</dd>
                </div>
                <div>
                  <dt>Temperature</dt>
                  <dd>{assistant.settings.temperature ?? 'default'}</dd>
                </div>
                <div>
                  <dt>Max tokens</dt>
                  <dd>{assistant.settings.maxTokens ?? 'default'}</dd>
                </div>
                <div>
                  <dt>Context</dt>
                  <dd>{contextText(assistant.settings.contextMessages, assistant.settings.contextTokens)}</dd>
                </div>
                <div>
                  <dt>Knowledge</dt>
                  <dd>
                    {assistant.knowledgeBaseIds.length === 0
                      ? 'none'
                      : assistant.knowledgeBaseIds.map(baseName).join(', ')}
                  </dd>
                </div>
              </dl>
              {assistant.instructions ? (
                <pre className="prompt-text" aria-label="Instructions">
                  {assistant.instructions}
                </pre>
              ) : null}
              {assistant.starterPrompts.length > 0 ? (
                <ul className="starters" aria-label="Starter prompts">
                  {assistant.starterPrompts.map((starter) => (
                    <li key={starter}>{starter}</li>
                  ))}
                </ul>
              ) : null}
              {assistant.mine ? (
                <>
                  <div className="row actions">
                    <button type="button" className="button small" onClick={() => setEditing(assistant)}>
                      Edit
                    </button>
                    <button
                      type="button"
                      className="button small danger"
                      onClick={() => void remove(assistant)}
                    >
                      Delete
                    </button>
                  </div>
                  <TeamSharing
                    path={`/api/assistants/${encodeURIComponent(assistant.id)}`}
                    item={assistant}
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

function AssistantForm({
  assistant,
  bases,
  onSaved,
  onCancel,
}: {
  assistant: Assistant | null;
  bases: KnowledgeBase[];
  onSaved: (assistant: Assistant) => void;
  onCancel: () => void;
}) {
  const [name, setName] = useState(assistant?.name ?? '');
  const [description, setDescription] = useState(assistant?.description ?? '');
  const [model, setModel] = useState(assistant?.model ?? '');
  const [instructions, setInstructions] = useState(assistant?.instructions ?? '');
  const [temperature, setTemperature] = useState(textOf(assistant?.settings.temperature));
  const [maxTokens, setMaxTokens] = useState(textOf(assistant?.settings.maxTokens));
  const [contextMessages, setContextMessages] = useState(textOf(assistant?.settings.contextMessages));
  const [starters, setStarters] = useState((assistant?.starterPrompts ?? []).join('\n'));
  const [colour, setColour] = useState<string | null>(assistant ? assistant.avatarColor : DEFAULT_COLOUR);
  const [knowledge, setKnowledge] = useState<string[]>(assistant?.knowledgeBaseIds ?? []);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  // A field's complaint goes once the person changes what it was about.
  useEffect(() => setErrors({}), [name, model, temperature, maxTokens, contextMessages, starters]);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const found = settingsErrors({ temperature, maxTokens, contextMessages });
    if (name.trim() === '') found.name = 'Give the assistant a name.';
    else if (/[/:]/.test(name)) found.name = 'A name has no "/" or ":" (it is used as assistant:<name>).';
    if (model.trim() === '') found.model = 'Choose the model it answers with.';
    const starterPrompts = starters
      .split('\n')
      .map((line) => line.trim())
      .filter(Boolean);
    if (starterPrompts.length > 10) found.starters = 'At most 10 starter prompts.';
    setErrors(found);
    if (Object.keys(found).length > 0) return;
    setBusy(true);
    setError(null);
    const body = {
      name: name.trim(),
      description: description.trim(),
      model: model.trim(),
      instructions,
      settings: {
        temperature: numberOrNull(temperature),
        maxTokens: numberOrNull(maxTokens),
        contextMessages: numberOrNull(contextMessages),
      },
      starterPrompts,
      avatarColor: colour,
      knowledgeBaseIds: knowledge,
    };
    try {
      onSaved(
        assistant
          ? await patch<Assistant>(`/api/assistants/${encodeURIComponent(assistant.id)}`, body)
          : await post<Assistant>('/api/assistants', body),
      );
    } catch (caught) {
      setError(errorText(caught));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form
      className="card form-card"
      onSubmit={(event) => void submit(event)}
      noValidate
      aria-label="Assistant"
    >
      <h2>{assistant ? `Edit "${assistant.name}"` : 'New assistant'}</h2>
      {error ? <Notice kind="error">{error}</Notice> : null}
      <div className="grid-2">
        <Field label="Name" hint="Also its model name: assistant:<name>." error={errors.name}>
          {(props) => (
            <input
              {...props}
              name="assistant-name"
              autoFocus
              value={name}
              onChange={(e) => setName(e.target.value)}
            />
          )}
        </Field>
        <Field label="Model" error={errors.model}>
          {(props) => (
            <input
              {...props}
              name="assistant-model"
              list="assistant-models"
              autoComplete="off"
              value={model}
              onChange={(e) => setModel(e.target.value)}
            />
          )}
        </Field>
      </div>
      <Field label="Description" hint="One line shown where you pick it.">
        {(props) => (
          <input
            {...props}
            name="assistant-description"
            value={description}
            onChange={(e) => setDescription(e.target.value)}
          />
        )}
      </Field>
      <Field label="Instructions" hint="Sent first, as the system prompt.">
        {(props) => (
          <textarea
            {...props}
            name="assistant-instructions"
            rows={5}
            value={instructions}
            onChange={(e) => setInstructions(e.target.value)}
          />
        )}
      </Field>
      <div className="grid-4">
        <Field label="Temperature" hint="0–2; empty: default." error={errors.temperature}>
          {(props) => (
            <input
              {...props}
              name="assistant-temperature"
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
              name="assistant-max-tokens"
              inputMode="numeric"
              value={maxTokens}
              onChange={(e) => setMaxTokens(e.target.value)}
            />
          )}
        </Field>
        <Field label="Context window" hint="Last N messages sent." error={errors.contextMessages}>
          {(props) => (
            <input
              {...props}
              name="assistant-context"
              inputMode="numeric"
              value={contextMessages}
              onChange={(e) => setContextMessages(e.target.value)}
            />
          )}
        </Field>
        <div className="field">
          <span className="label-text" id="colour-label">
            Avatar colour
          </span>
          <div className="row">
            <input
              type="color"
              aria-labelledby="colour-label"
              name="assistant-colour"
              value={colour ?? DEFAULT_COLOUR}
              onChange={(e) => setColour(e.target.value)}
            />
            <label className="check">
              <input
                type="checkbox"
                checked={colour === null}
                onChange={(e) => setColour(e.target.checked ? null : DEFAULT_COLOUR)}
              />
              None
            </label>
          </div>
        </div>
      </div>
      <Field
        label="Starter prompts"
        hint="One per line, at most 10; shown on a new chat with it."
        error={errors.starters}
      >
        {(props) => (
          <textarea
            {...props}
            name="assistant-starters"
            rows={3}
            value={starters}
            onChange={(e) => setStarters(e.target.value)}
          />
        )}
      </Field>
      <fieldset className="plain">
        <legend>Knowledge bases it searches</legend>
        {bases.length === 0 ? (
          <p className="muted small-text">
            None yet. <Link to="/knowledge">Knowledge</Link>
          </p>
        ) : (
          bases.map((base) => (
            <label key={base.id} className="check">
              <input
                type="checkbox"
                checked={knowledge.includes(base.id)}
                onChange={(e) =>
                  setKnowledge((list) =>
                    e.target.checked ? [...list, base.id] : list.filter((id) => id !== base.id),
                  )
                }
              />
              {base.name}
            </label>
          ))
        )}
      </fieldset>
      <div className="row">
        <button type="submit" className="button primary" disabled={busy}>
          {busy ? 'Saving…' : 'Save assistant'}
        </button>
        <button type="button" className="button ghost" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
