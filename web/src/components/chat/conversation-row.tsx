import { useState } from 'react';
import { del, patch } from '../../api/client.ts';
import { conversationPath, type Folder, type KeptConversation } from '../../lib/chat-contract.ts';
import { conversationExportPath, download } from '../../lib/downloads.ts';
import { Link } from '../link.tsx';

/** What a row reports back. */
export type RowChange =
  | { kind: 'renamed'; title: string }
  | { kind: 'deleted' }
  /** Pinned, moved to a folder, archived or back: the list is read again, the chat stays open. */
  | { kind: 'moved' };

/** One conversation in the sidebar: its link, rename ✎, delete ×, and a menu of the rest. */
export function ConversationRow({
  conversation,
  active,
  folders,
  onChanged,
  onOpen,
  onShare,
  onError,
}: {
  conversation: KeptConversation;
  active: boolean;
  folders: Folder[];
  onChanged: (change: RowChange) => void;
  onOpen: () => void;
  onShare: (conversation: KeptConversation) => void;
  onError: (message: string) => void;
}) {
  const [renaming, setRenaming] = useState<string | null>(null);
  const [menuOpen, setMenuOpen] = useState(false);
  const { id, title } = conversation;
  const archived = Boolean(conversation.archivedAt);

  const change = async (body: Record<string, unknown>, after: RowChange) => {
    setMenuOpen(false);
    try {
      await patch(conversationPath(id), body);
      onChanged(after);
    } catch (caught) {
      onError(caught instanceof Error ? caught.message : String(caught));
    }
  };

  const rename = async () => {
    if (renaming === null) return;
    const next = renaming.trim();
    setRenaming(null);
    if (!next || next === title) return;
    await change({ title: next }, { kind: 'renamed', title: next });
  };

  const remove = async () => {
    if (!window.confirm(`Delete "${title}" and all its messages?`)) return;
    try {
      await del(conversationPath(id));
      onChanged({ kind: 'deleted' });
    } catch (caught) {
      onError(caught instanceof Error ? caught.message : String(caught));
    }
  };

  if (renaming !== null)
    return (
      <li className={active ? 'active' : ''}>
        <form
          onSubmit={(event) => {
            event.preventDefault();
            void rename();
          }}
        >
          <label className="visually-hidden" htmlFor={`rename-${id}`}>
            New title
          </label>
          <input
            id={`rename-${id}`}
            autoFocus
            value={renaming}
            onChange={(event) => setRenaming(event.target.value)}
            onBlur={() => void rename()}
            onKeyDown={(event) => {
              if (event.key === 'Escape') {
                event.stopPropagation();
                setRenaming(null);
              }
            }}
          />
        </form>
      </li>
    );

  return (
    <li className={`${active ? 'active' : ''} ${menuOpen ? 'menu-open' : ''}`}>
      <Link
        to={`/chat/${encodeURIComponent(id)}`}
        aria-current={active ? 'page' : undefined}
        onClick={onOpen}
        className="conversation-link"
      >
        {conversation.pinned ? (
          <svg
            className="pin-mark"
            role="img"
            aria-label="Pinned"
            width="12"
            height="12"
            viewBox="0 0 24 24"
            fill="currentColor"
          >
            <path d="M16 3l5 5-3 1-4 4 1 5-2 2-4-4-5 5-1-1 5-5-4-4 2-2 5 1 4-4z" />
          </svg>
        ) : null}
        {title}
      </Link>
      <span className="conversation-actions">
        <button
          type="button"
          className="icon-button"
          aria-label={`Rename ${title}`}
          title="Rename"
          onClick={() => setRenaming(title)}
        >
          ✎
        </button>
        <button
          type="button"
          className="icon-button"
          aria-label={`Delete ${title}`}
          title="Delete"
          onClick={() => void remove()}
        >
          ×
        </button>
        <button
          type="button"
          className="icon-button"
          aria-label={`More for ${title}`}
          aria-expanded={menuOpen}
          title="Pin, move, archive, share, export"
          onClick={() => setMenuOpen((open) => !open)}
        >
          ⋯
        </button>
      </span>
      {menuOpen ? (
        <div
          className="row-menu"
          role="group"
          aria-label={`Actions for ${title}`}
          onKeyDown={(event) => {
            if (event.key === 'Escape') {
              event.stopPropagation();
              setMenuOpen(false);
            }
          }}
        >
          <button
            type="button"
            className="button small ghost"
            onClick={() => void change({ pinned: !conversation.pinned }, { kind: 'moved' })}
          >
            {conversation.pinned ? 'Unpin' : 'Pin'}
          </button>
          <button
            type="button"
            className="button small ghost"
            onClick={() => void change({ archived: !archived }, { kind: 'moved' })}
          >
            {archived ? 'Unarchive' : 'Archive'}
          </button>
          <button
            type="button"
            className="button small ghost"
            onClick={() => {
              setMenuOpen(false);
              onShare(conversation);
            }}
          >
            Share…
          </button>
          <button
            type="button"
            className="button small ghost"
            onClick={() => download(conversationExportPath(id, 'json'))}
          >
            Export JSON
          </button>
          <button
            type="button"
            className="button small ghost"
            onClick={() => download(conversationExportPath(id, 'markdown'))}
          >
            Export Markdown
          </button>
          <label className="row-menu-folder">
            <span>Folder</span>
            <select
              value={conversation.folderId ?? ''}
              onChange={(event) => void change({ folderId: event.target.value || null }, { kind: 'moved' })}
            >
              <option value="">No folder</option>
              {folders.map((folder) => (
                <option key={folder.id} value={folder.id}>
                  {folder.name}
                </option>
              ))}
            </select>
          </label>
        </div>
      ) : null}
    </li>
  );
}
