import type { KnowledgeBase, MessageAttachments, StoredFile } from '../api/types.ts';
import { Link } from './link.tsx';

/** A file being attached to the next message: uploading, uploaded, or refused with the reason. */
export interface PendingFile {
  key: string;
  name: string;
  file: StoredFile | null;
  error: string | null;
}

/**
 * What goes with the next message, as removable chips: its files (with their upload state) and the
 * conversation's knowledge bases.
 */
export function AttachmentChips({
  files,
  knowledgeBases,
  onRemoveFile,
  onRemoveKnowledgeBase,
  disabled,
}: {
  files: PendingFile[];
  knowledgeBases: Pick<KnowledgeBase, 'id' | 'name'>[];
  onRemoveFile: (key: string) => void;
  onRemoveKnowledgeBase: (id: string) => void;
  disabled: boolean;
}) {
  if (files.length === 0 && knowledgeBases.length === 0) return null;
  return (
    <ul className="chips" aria-label="Attached to the next message">
      {knowledgeBases.map((base) => (
        <li key={base.id} className="chip chip-kb" title="Knowledge base of this conversation">
          <span className="chip-kind">Knowledge</span>
          <span className="chip-name">{base.name}</span>
          <button
            type="button"
            className="chip-remove"
            aria-label={`Detach the knowledge base ${base.name}`}
            disabled={disabled}
            onClick={() => onRemoveKnowledgeBase(base.id)}
          >
            ×
          </button>
        </li>
      ))}
      {files.map((pending) => (
        <li
          key={pending.key}
          className={`chip ${pending.error ? 'chip-failed' : ''}`}
          title={pending.error ?? pending.name}
        >
          <span className="chip-name">{pending.name}</span>
          {pending.error ? (
            <span className="chip-state">refused</span>
          ) : pending.file === null ? (
            <span className="chip-state" aria-busy="true">
              uploading…
            </span>
          ) : null}
          <button
            type="button"
            className="chip-remove"
            aria-label={`Remove ${pending.name}`}
            disabled={disabled}
            onClick={() => onRemoveFile(pending.key)}
          >
            ×
          </button>
        </li>
      ))}
    </ul>
  );
}

/** What a sent message went with: file and knowledge-base names (never the files' content). */
export function SentAttachments({ attachments }: { attachments: Partial<MessageAttachments> | undefined }) {
  const files = attachments?.files ?? [];
  const bases = attachments?.knowledgeBases ?? [];
  if (files.length === 0 && bases.length === 0) return null;
  return (
    <ul className="chips sent" aria-label="Attachments">
      {files.map((file) => (
        <li key={file.id} className="chip">
          <span className="chip-name">{file.name}</span>
        </li>
      ))}
      {bases.map((base) => (
        <li key={base.id} className="chip chip-kb">
          <span className="chip-kind">Knowledge</span>
          <span className="chip-name">{base.name}</span>
        </li>
      ))}
    </ul>
  );
}

/** Which knowledge bases the conversation answers from: a checkbox list in a disclosure. */
export function KnowledgePicker({
  bases,
  selected,
  onChange,
  disabled,
}: {
  bases: KnowledgeBase[];
  selected: string[];
  onChange: (ids: string[]) => void;
  disabled: boolean;
}) {
  return (
    <details className="kb-picker">
      <summary>Knowledge{selected.length > 0 ? ` (${selected.length})` : ''}</summary>
      <div className="kb-picker-menu">
        {bases.length === 0 ? (
          <p className="muted small-text">
            No knowledge bases yet. <Link to="/knowledge">Make one</Link> from your documents.
          </p>
        ) : (
          <fieldset disabled={disabled}>
            <legend className="small-text muted">Answer from</legend>
            {bases.map((base) => (
              <label key={base.id} className="check">
                <input
                  type="checkbox"
                  checked={selected.includes(base.id)}
                  onChange={(event) =>
                    onChange(
                      event.target.checked ? [...selected, base.id] : selected.filter((id) => id !== base.id),
                    )
                  }
                />
                {base.name}
                <span className="muted small-text">
                  {base.readyCount} of {base.fileCount} files ready
                  {base.access === 'team' ? ` · shared by ${base.owner.username}` : ''}
                </span>
              </label>
            ))}
          </fieldset>
        )}
      </div>
    </details>
  );
}
