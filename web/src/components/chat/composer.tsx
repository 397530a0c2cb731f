import {
  useLayoutEffect,
  useRef,
  useState,
  type ClipboardEvent,
  type FormEvent,
  type KeyboardEvent,
  type RefObject,
} from 'react';
import { get, isMissingRoute } from '../../api/client.ts';
import type { KnowledgeBase } from '../../api/types.ts';
import type { SavedPrompt } from '../../lib/chat-contract.ts';
import { filesOf } from '../../lib/knowledge.ts';
import { replaceSlash, slashQuery } from '../../lib/prompt-variables.ts';
import type { usePendingFiles } from '../../lib/use-attachments.ts';
import { AttachmentChips } from '../attachments.tsx';
import { matchingPrompts, PromptList, PromptVariablesDialog } from './prompt-picker.tsx';

/** The tallest the message box grows to (then it scrolls). */
const MAX_COMPOSER_HEIGHT = 240;

/**
 * The message box: grows with its text, sends on Enter, takes files (button, paste, drop on the
 * page), and opens the prompt library on `/`.
 */
export function Composer({
  draft,
  onDraft,
  model,
  streaming,
  pendingFiles,
  knowledgeBases,
  onRemoveKnowledgeBase,
  onSend,
  onStop,
  textarea,
}: {
  draft: string;
  onDraft: (text: string) => void;
  model: string;
  streaming: boolean;
  pendingFiles: ReturnType<typeof usePendingFiles>;
  knowledgeBases: Pick<KnowledgeBase, 'id' | 'name'>[];
  onRemoveKnowledgeBase: (id: string) => void;
  onSend: (content: string) => void;
  onStop: () => void;
  textarea: RefObject<HTMLTextAreaElement | null>;
}) {
  const fileInput = useRef<HTMLInputElement>(null);
  const [prompts, setPrompts] = useState<SavedPrompt[] | null>(null);
  const [activePrompt, setActivePrompt] = useState(0);
  const [filling, setFilling] = useState<SavedPrompt | null>(null);
  /** Set when the slash list was closed with Esc, until the text changes. */
  const [dismissed, setDismissed] = useState<string | null>(null);
  const [why, setWhy] = useState<string | null>(null);
  const uploading = pendingFiles.uploading;
  const query = filling ? null : slashQuery(draft);
  const listOpen = query !== null && dismissed !== draft;
  const matches = listOpen && prompts ? matchingPrompts(prompts, query) : [];

  // The box grows with its text, up to a limit.
  useLayoutEffect(() => {
    const element = textarea.current;
    if (!element) return;
    element.style.height = 'auto';
    element.style.height = `${Math.min(element.scrollHeight + 2, MAX_COMPOSER_HEIGHT)}px`;
    element.style.overflowY = element.scrollHeight > MAX_COMPOSER_HEIGHT ? 'auto' : 'hidden';
  }, [draft, textarea]);

  const changeDraft = (text: string) => {
    onDraft(text);
    setWhy(null);
    if (slashQuery(text) !== null && prompts === null) {
      setPrompts([]);
      get<SavedPrompt[]>('/api/prompts')
        .then(setPrompts)
        .catch((error: unknown) => {
          if (!isMissingRoute(error))
            setWhy(
              `The prompt library did not load: ${error instanceof Error ? error.message : String(error)}`,
            );
          setPrompts([]);
        });
    }
    setActivePrompt(0);
  };

  const choose = (prompt: SavedPrompt) => {
    if (prompt.variables.length > 0 || /\{\{[^{}]+\}\}/.test(prompt.content)) setFilling(prompt);
    else insert(prompt.content);
  };

  const insert = (text: string) => {
    setFilling(null);
    onDraft(replaceSlash(draft, text));
    setTimeout(() => {
      const element = textarea.current;
      if (!element) return;
      element.focus();
      element.setSelectionRange(element.value.length, element.value.length);
    }, 0);
  };

  const submit = (event?: FormEvent) => {
    event?.preventDefault();
    const content = draft.trim();
    if (!content || streaming || uploading) return;
    if (!model) {
      // The text stays where it is; the reader is told what is missing.
      setWhy('Choose a model first (above): your message is kept here.');
      return;
    }
    onSend(content);
  };

  const onKey = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (listOpen && matches.length > 0) {
      if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
        event.preventDefault();
        const step = event.key === 'ArrowDown' ? 1 : -1;
        setActivePrompt((index) => (index + step + matches.length) % matches.length);
        return;
      }
      if ((event.key === 'Enter' && !event.shiftKey) || event.key === 'Tab') {
        event.preventDefault();
        choose(matches[Math.min(activePrompt, matches.length - 1)]!);
        return;
      }
    }
    if (listOpen && event.key === 'Escape') {
      event.preventDefault();
      event.stopPropagation();
      setDismissed(draft);
      return;
    }
    if (event.key === 'Enter' && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      submit();
    }
  };

  const onPaste = (event: ClipboardEvent<HTMLTextAreaElement>) => {
    const pasted = filesOf(event.clipboardData);
    // Text pastes as text, even when the source also offers a picture of it (a spreadsheet's cells).
    if (pasted.length === 0 || event.clipboardData.getData('text/plain')) return;
    event.preventDefault();
    pendingFiles.attach(pasted);
  };

  return (
    <div className="composer-area">
      {filling ? (
        <PromptVariablesDialog
          prompt={filling}
          onInsert={insert}
          onCancel={() => {
            setFilling(null);
            textarea.current?.focus();
          }}
        />
      ) : listOpen && prompts !== null ? (
        <PromptList prompts={prompts} query={query} active={activePrompt} onChoose={choose} />
      ) : null}
      <form className="composer" onSubmit={submit}>
        <AttachmentChips
          files={pendingFiles.pending}
          knowledgeBases={knowledgeBases}
          onRemoveFile={pendingFiles.remove}
          onRemoveKnowledgeBase={onRemoveKnowledgeBase}
          disabled={streaming}
        />
        {pendingFiles.pending.some((pending) => pending.error) || why ? (
          <div className="composer-errors" role="alert">
            {why ? <p>{why}</p> : null}
            {pendingFiles.pending.flatMap((pending) =>
              pending.error ? [<p key={pending.key}>{pending.error}</p>] : [],
            )}
          </div>
        ) : null}
        <input
          ref={fileInput}
          type="file"
          multiple
          hidden
          aria-label="Files to attach"
          onChange={(event) => {
            pendingFiles.attach(Array.from(event.target.files ?? []));
            event.target.value = '';
          }}
        />
        <button
          type="button"
          className="button attach-button"
          aria-label="Attach files"
          title="Attach files (or drop them here, or paste an image)"
          onClick={() => fileInput.current?.click()}
        >
          <svg
            aria-hidden="true"
            width="18"
            height="18"
            viewBox="0 0 24 24"
            fill="none"
            stroke="currentColor"
            strokeWidth="2"
            strokeLinecap="round"
            strokeLinejoin="round"
          >
            <path d="M21 11.5 12.5 20a5 5 0 0 1-7-7L14 4.5a3.3 3.3 0 0 1 4.7 4.7L10.2 17.7a1.7 1.7 0 0 1-2.4-2.4L15.5 7.6" />
          </svg>
        </button>
        <label className="visually-hidden" htmlFor="composer">
          Message
        </label>
        <textarea
          id="composer"
          ref={textarea}
          rows={2}
          placeholder={model ? `Message ${model}` : 'Choose a model first'}
          value={draft}
          onChange={(event) => changeDraft(event.target.value)}
          onKeyDown={onKey}
          onPaste={onPaste}
          aria-expanded={listOpen}
          aria-autocomplete="list"
          autoFocus
        />
        {streaming ? (
          <button type="button" className="button danger" onClick={onStop}>
            Stop <kbd aria-hidden="true">Esc</kbd>
          </button>
        ) : (
          <button
            type="submit"
            className="button primary"
            disabled={!draft.trim() || uploading}
            title={uploading ? 'Waiting for the files to upload' : model ? undefined : 'Choose a model first'}
          >
            Send
          </button>
        )}
      </form>
    </div>
  );
}
