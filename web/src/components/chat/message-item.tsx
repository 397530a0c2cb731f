import { useMemo, useState } from 'react';
import type { Citation, GroundedMessage } from '../../api/types.ts';
import { siblingsOf } from '../../lib/chat-contract.ts';
import { SentAttachments } from '../attachments.tsx';
import { CitationMarker, SourcesList } from '../citations.tsx';
import { CopyButton } from '../copy-button.tsx';
import { MarkdownView } from '../markdown-view.tsx';

/** What the reader can do to a message; each is absent while it cannot be done (a reply streams). */
export interface MessageActions {
  /** Sends the edited text as a new sibling of this user message. */
  onEdit?: (id: string, text: string) => void;
  /** A new answer beside this (the last) one. */
  onRegenerate?: () => void;
  /** Shows the branch through this sibling. */
  onSwitch?: (siblingId: string) => void;
  /** Deletes this message and every reply under it. */
  onDelete?: (message: GroundedMessage) => void;
}

/** One message: who wrote it, its text, `‹ 2/3 ›` between its siblings, and its actions. */
export function MessageItem({
  message,
  isLast,
  busy,
  actions,
  onOpenCitation,
}: {
  message: GroundedMessage;
  isLast: boolean;
  /** A reply is streaming: nothing that starts another can be pressed. */
  busy: boolean;
  actions: MessageActions;
  onOpenCitation: (citation: Citation) => void;
}) {
  const [editing, setEditing] = useState<string | null>(null);
  const who = message.role === 'user' ? 'You' : 'Assistant';
  const stored = !message.id.startsWith('local-');
  const finishEdit = () => {
    const text = editing?.trim();
    if (!text) return;
    setEditing(null);
    actions.onEdit?.(message.id, text);
  };
  return (
    <article className={`message ${message.role}`} aria-label={who}>
      <div className="message-meta">
        <span className="who">{who}</span>
        {message.role === 'assistant' && message.model ? (
          <span className="muted">{message.model}</span>
        ) : null}
        {message.status !== 'complete' ? (
          <span className={`badge badge-${message.status}`}>{message.status}</span>
        ) : null}
        <BranchSwitcher message={message} disabled={busy} onSwitch={actions.onSwitch} />
      </div>
      {editing !== null ? (
        <form
          className="edit-form"
          onSubmit={(event) => {
            event.preventDefault();
            finishEdit();
          }}
        >
          <label className="visually-hidden" htmlFor={`edit-${message.id}`}>
            Edit message
          </label>
          <textarea
            id={`edit-${message.id}`}
            autoFocus
            value={editing}
            onChange={(event) => setEditing(event.target.value)}
            onKeyDown={(event) => {
              if (event.key === 'Enter' && !event.shiftKey) {
                event.preventDefault();
                finishEdit();
              } else if (event.key === 'Escape') {
                event.stopPropagation();
                setEditing(null);
              }
            }}
          />
          <p className="hint">Sent as a new version beside this one: the conversation so far is kept.</p>
          <div className="row">
            <button type="submit" className="button small primary">
              Send edit
            </button>
            <button type="button" className="button small ghost" onClick={() => setEditing(null)}>
              Cancel
            </button>
          </div>
        </form>
      ) : message.role === 'user' ? (
        <>
          <div className="user-text">{message.content}</div>
          <SentAttachments attachments={message.attachments} />
        </>
      ) : (
        <Answer message={message} onOpen={onOpenCitation} />
      )}
      {message.status === 'failed' && message.error ? (
        <p className="error-text">{message.error.message}</p>
      ) : null}
      <div className="message-actions">
        <CopyButton text={message.content} />
        {message.role === 'user' && !busy && editing === null && actions.onEdit ? (
          <button type="button" className="button small ghost" onClick={() => setEditing(message.content)}>
            Edit
          </button>
        ) : null}
        {message.role === 'assistant' && isLast && !busy && actions.onRegenerate ? (
          <button type="button" className="button small ghost" onClick={actions.onRegenerate}>
            Regenerate
          </button>
        ) : null}
        {stored && !busy && actions.onDelete ? (
          <button
            type="button"
            className="button small ghost"
            aria-label={
              message.role === 'user' ? 'Delete this message and its replies' : 'Delete this answer'
            }
            onClick={() => actions.onDelete?.(message)}
          >
            Delete
          </button>
        ) : null}
      </div>
    </article>
  );
}

/** `‹ 2/3 ›`: the versions of a message (edits of a question, regenerated answers). */
function BranchSwitcher({
  message,
  disabled,
  onSwitch,
}: {
  message: GroundedMessage;
  disabled: boolean;
  onSwitch: ((siblingId: string) => void) | undefined;
}) {
  const siblings = siblingsOf(message);
  if (!siblings || !onSwitch) return null;
  const { ids, index } = siblings;
  const kind = message.role === 'user' ? 'version' : 'answer';
  return (
    <span className="branch-switcher" role="group" aria-label={`${kind} ${index + 1} of ${ids.length}`}>
      <button
        type="button"
        className="icon-button"
        aria-label={`Previous ${kind}`}
        disabled={disabled || index === 0}
        onClick={() => onSwitch(ids[index - 1]!)}
      >
        ‹
      </button>
      <span className="branch-position" aria-hidden="true">
        {index + 1}/{ids.length}
      </span>
      <button
        type="button"
        className="icon-button"
        aria-label={`Next ${kind}`}
        disabled={disabled || index === ids.length - 1}
        onClick={() => onSwitch(ids[index + 1]!)}
      >
        ›
      </button>
    </span>
  );
}

/** An assistant's answer: Markdown whose `[n]` markers open their sources, and the sources under it. */
function Answer({ message, onOpen }: { message: GroundedMessage; onOpen: (citation: Citation) => void }) {
  const citations = message.citations ?? [];
  const markers = useMemo(() => {
    if (citations.length === 0) return null;
    const byNumber = new Map(citations.map((citation) => [citation.n, citation]));
    return {
      known: new Set(byNumber.keys()),
      render: (n: number) => <CitationMarker citation={byNumber.get(n)!} onOpen={onOpen} />,
    };
  }, [citations, onOpen]);
  return (
    <>
      <MarkdownView source={message.content} markers={markers} />
      <SourcesList citations={citations} onOpen={onOpen} />
    </>
  );
}
