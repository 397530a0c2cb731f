import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { del, get, patch, post } from '../api/client.ts';
import { Field, Notice } from '../components/field.tsx';
import { useTitle } from '../lib/router.ts';
import { errorText, LibraryFrame, type SavedPrompt } from './library-shared.tsx';
import { promptVariables } from '../lib/prompt-variables.ts';

/** The prompt library: saved prompts with `{{variables}}`, inserted with `/` in the composer. */
export default function PromptsPage() {
  useTitle('Prompts');
  const [prompts, setPrompts] = useState<SavedPrompt[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const [editing, setEditing] = useState<SavedPrompt | 'new' | null>(null);

  const load = useCallback(async () => {
    try {
      setPrompts(await get<SavedPrompt[]>('/api/prompts'));
    } catch (caught) {
      setError(errorText(caught));
    }
  }, []);
  useEffect(() => void load(), [load]);

  const remove = async (prompt: SavedPrompt) => {
    if (!window.confirm(`Delete the prompt "${prompt.name}"?`)) return;
    try {
      await del(`/api/prompts/${encodeURIComponent(prompt.id)}`);
      setMessage(`Deleted "${prompt.name}".`);
      await load();
    } catch (caught) {
      setError(errorText(caught));
    }
  };

  return (
    <LibraryFrame
      current="prompts"
      title="Prompts"
      intro={
        <>
          Saved prompts. Type <code>/</code> in the chat's message box to insert one; a form asks for its{' '}
          <code>{'{{variables}}'}</code>.
        </>
      }
      action={
        editing === null ? (
          <button type="button" className="button primary" onClick={() => setEditing('new')}>
            New prompt
          </button>
        ) : null
      }
    >
      {error ? <Notice kind="error">{error}</Notice> : null}
      {message ? <Notice kind="success">{message}</Notice> : null}
      {editing ? (
        <PromptForm
          prompt={editing === 'new' ? null : editing}
          onCancel={() => setEditing(null)}
          onSaved={(saved) => {
            setEditing(null);
            setMessage(`Saved "${saved.name}".`);
            void load();
          }}
        />
      ) : null}
      {prompts === null ? (
        <p className="muted">Loading…</p>
      ) : prompts.length === 0 ? (
        <Notice kind="info">No prompts yet. Save one you type often, with {'{{blanks}}'} to fill in.</Notice>
      ) : (
        <ul className="card-list" aria-label="Your prompts">
          {prompts.map((prompt) => (
            <li key={prompt.id} className="card library-item">
              <div className="card-head">
                <h2>{prompt.name}</h2>
              </div>
              <pre className="prompt-text">{prompt.content}</pre>
              <Variables names={prompt.variables} />
              <div className="row actions">
                <button type="button" className="button small" onClick={() => setEditing(prompt)}>
                  Edit
                </button>
                <button type="button" className="button small danger" onClick={() => void remove(prompt)}>
                  Delete
                </button>
              </div>
            </li>
          ))}
        </ul>
      )}
    </LibraryFrame>
  );
}

function Variables({ names }: { names: string[] }) {
  return names.length === 0 ? (
    <p className="muted small-text">No variables: inserted as it is.</p>
  ) : (
    <p className="variables small-text">
      Asks for:{' '}
      {names.map((name) => (
        <code key={name} className="variable">
          {name}
        </code>
      ))}
    </p>
  );
}

function PromptForm({
  prompt,
  onSaved,
  onCancel,
}: {
  prompt: SavedPrompt | null;
  onSaved: (prompt: SavedPrompt) => void;
  onCancel: () => void;
}) {
  const [name, setName] = useState(prompt?.name ?? '');
  const [content, setContent] = useState(prompt?.content ?? '');
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  // A field's complaint goes once the person changes what it was about.
  useEffect(() => setErrors({}), [name, content]);
  const variables = promptVariables(content);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const found: Record<string, string> = {};
    if (name.trim() === '') found.name = 'Give the prompt a name.';
    if (content.trim() === '') found.content = 'Write the prompt.';
    setErrors(found);
    if (Object.keys(found).length > 0) return;
    setBusy(true);
    setError(null);
    try {
      const body = { name: name.trim(), content };
      onSaved(
        prompt
          ? await patch<SavedPrompt>(`/api/prompts/${encodeURIComponent(prompt.id)}`, body)
          : await post<SavedPrompt>('/api/prompts', body),
      );
    } catch (caught) {
      setError(errorText(caught));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="card form-card" onSubmit={(event) => void submit(event)} noValidate aria-label="Prompt">
      <h2>{prompt ? `Edit "${prompt.name}"` : 'New prompt'}</h2>
      {error ? <Notice kind="error">{error}</Notice> : null}
      <Field label="Name" error={errors.name}>
        {(props) => (
          <input
            {...props}
            name="prompt-name"
            autoFocus
            value={name}
            onChange={(e) => setName(e.target.value)}
          />
        )}
      </Field>
      <Field
        label="Prompt"
        hint={
          <>
            Write <code>{'{{name}}'}</code> where a blank goes; the chat asks for each one before inserting.
          </>
        }
        error={errors.content}
      >
        {(props) => (
          <textarea
            {...props}
            name="prompt-content"
            rows={6}
            value={content}
            onChange={(event) => setContent(event.target.value)}
          />
        )}
      </Field>
      <div aria-live="polite" className="variables-preview">
        <Variables names={variables} />
      </div>
      <div className="row">
        <button type="submit" className="button primary" disabled={busy}>
          {busy ? 'Saving…' : 'Save prompt'}
        </button>
        <button type="button" className="button ghost" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
