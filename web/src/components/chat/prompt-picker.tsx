import { useEffect, useId, useState } from 'react';
import type { SavedPrompt } from '../../lib/chat-contract.ts';
import { fillPrompt } from '../../lib/prompt-variables.ts';

/**
 * The prompt library under the composer, opened by `/`: the saved prompts whose name matches what
 * follows the slash. Arrow keys move, Enter chooses (the composer forwards its keys here).
 */
export function PromptList({
  prompts,
  query,
  active,
  onChoose,
}: {
  prompts: SavedPrompt[];
  query: string;
  active: number;
  onChoose: (prompt: SavedPrompt) => void;
}) {
  const id = useId();
  const matches = matchingPrompts(prompts, query);
  return (
    <div className="prompt-list" id={`${id}-list`}>
      <p className="prompt-list-title">
        Prompt library{query ? ` — “${query}”` : ''}{' '}
        {matches.length > 0 ? <span className="muted keyboard-hint">↑↓ Enter, Esc closes</span> : null}
      </p>
      {matches.length === 0 ? (
        <p className="muted pad">
          {prompts.length === 0 ? 'No saved prompts yet (add some under Library).' : 'No prompt matches.'}
        </p>
      ) : (
        <ul role="listbox" aria-label="Saved prompts">
          {matches.map((prompt, index) => (
            <li
              key={prompt.id}
              role="option"
              aria-selected={index === active}
              className={index === active ? 'active' : ''}
              onMouseDown={(event) => {
                // Chosen before the composer loses focus (and the list with it).
                event.preventDefault();
                onChoose(prompt);
              }}
            >
              <strong>{prompt.name}</strong>
              <span className="muted prompt-preview">{prompt.content}</span>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

/** The saved prompts a slash query names (by name, then by text), at most eight. */
export function matchingPrompts(prompts: SavedPrompt[], query: string): SavedPrompt[] {
  const q = query.toLowerCase();
  const byName = prompts.filter((prompt) => prompt.name.toLowerCase().includes(q));
  const byText = prompts.filter(
    (prompt) => !byName.includes(prompt) && prompt.content.toLowerCase().includes(q),
  );
  return [...byName, ...byText].slice(0, 8);
}

/** Asks for a chosen prompt's `{{variables}}`, then hands back the filled-in text. */
export function PromptVariablesDialog({
  prompt,
  onInsert,
  onCancel,
}: {
  prompt: SavedPrompt;
  onInsert: (text: string) => void;
  onCancel: () => void;
}) {
  const names = prompt.variables;
  const [values, setValues] = useState<Record<string, string>>(() =>
    Object.fromEntries(names.map((name) => [name, ''])),
  );
  const id = useId();
  useEffect(() => {
    document.getElementById(`${id}-0`)?.focus();
  }, [id]);
  return (
    <form
      className="prompt-variables"
      aria-label={`Fill in ${prompt.name}`}
      onSubmit={(event) => {
        event.preventDefault();
        onInsert(fillPrompt(prompt.content, values));
      }}
      onKeyDown={(event) => {
        if (event.key === 'Escape') {
          event.stopPropagation();
          onCancel();
        }
      }}
    >
      <p className="prompt-list-title">
        <strong>{prompt.name}</strong>: fill in its variables
      </p>
      {names.map((name, index) => (
        <div className="field" key={name}>
          <label htmlFor={`${id}-${index}`}>{name}</label>
          <input
            id={`${id}-${index}`}
            value={values[name] ?? ''}
            onChange={(event) => setValues((before) => ({ ...before, [name]: event.target.value }))}
          />
        </div>
      ))}
      <div className="row">
        <button type="submit" className="button small primary">
          Insert prompt
        </button>
        <button type="button" className="button small ghost" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
