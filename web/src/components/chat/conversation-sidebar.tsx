import { useCallback, useEffect, useRef, useState } from 'react';
import { del, get, isMissingRoute, patch, post } from '../../api/client.ts';
import type { Folder, ImportResult, KeptConversation } from '../../lib/chat-contract.ts';
import { allConversationsExportPath, download } from '../../lib/downloads.ts';
import { Notice } from '../field.tsx';
import { ConversationRow, type RowChange } from './conversation-row.tsx';

export type SidebarView = 'active' | 'archived';

const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));

/**
 * The conversations: a new chat, search, the chats or the archived ones; pinned first, then each
 * folder's, then the rest; and export of everything, import of a file.
 */
export function ConversationSidebar({
  conversations,
  activeId,
  view,
  onView,
  search,
  onSearch,
  onNewChat,
  onChanged,
  onOpen,
  onShare,
}: {
  conversations: KeptConversation[];
  activeId: string | null;
  view: SidebarView;
  onView: (view: SidebarView) => void;
  search: string;
  onSearch: (text: string) => void;
  onNewChat: () => void;
  /** A row changed (`id`), or null after an import: the list is read again. */
  onChanged: (id: string | null, change: RowChange | null) => void;
  onOpen: () => void;
  onShare: (conversation: KeptConversation) => void;
}) {
  const [folders, setFolders] = useState<Folder[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [naming, setNaming] = useState<{ id: string | null; name: string } | null>(null);
  const importInput = useRef<HTMLInputElement>(null);

  const loadFolders = useCallback(() => {
    get<Folder[]>('/api/folders')
      .then(setFolders)
      .catch((caught: unknown) => {
        setFolders(null);
        if (!isMissingRoute(caught)) setError(errorText(caught));
      });
  }, []);
  useEffect(loadFolders, [loadFolders]);

  const saveFolder = async () => {
    if (!naming) return;
    const name = naming.name.trim();
    const { id } = naming;
    setNaming(null);
    if (!name) return;
    try {
      if (id) await patch(`/api/folders/${encodeURIComponent(id)}`, { name });
      else await post('/api/folders', { name });
      loadFolders();
    } catch (caught) {
      setError(errorText(caught));
    }
  };

  const removeFolder = async (folder: Folder) => {
    if (!window.confirm(`Delete the folder "${folder.name}"? Its conversations are kept, out of any folder.`))
      return;
    try {
      await del(`/api/folders/${encodeURIComponent(folder.id)}`);
      loadFolders();
      onChanged(null, null);
    } catch (caught) {
      setError(errorText(caught));
    }
  };

  const importFile = async (file: File) => {
    setError(null);
    setNotice(null);
    try {
      let body: unknown;
      try {
        body = JSON.parse(await file.text());
      } catch {
        throw new Error(
          `"${file.name}" is not JSON: import takes a Keyway export or ChatGPT's conversations.json.`,
        );
      }
      const result = await post<ImportResult>('/api/import/conversations', body);
      setNotice(
        `Imported ${result.imported} conversation${result.imported === 1 ? '' : 's'} from "${file.name}".`,
      );
      onChanged(null, null);
    } catch (caught) {
      setError(errorText(caught));
    }
  };

  const row = (conversation: KeptConversation) => (
    <ConversationRow
      key={conversation.id}
      conversation={conversation}
      active={conversation.id === activeId}
      folders={folders ?? []}
      onChanged={(change) => onChanged(conversation.id, change)}
      onOpen={onOpen}
      onShare={onShare}
      onError={setError}
    />
  );
  const searching = search.trim() !== '';
  // Searching or looking at the archive: one flat list. Otherwise pinned, folders, then the rest.
  const grouped = !searching && view === 'active' && folders !== null;
  const known = new Set((folders ?? []).map((folder) => folder.id));
  const loose = grouped
    ? conversations.filter((conversation) => !conversation.folderId || !known.has(conversation.folderId))
    : conversations;

  return (
    <aside className="chat-sidebar" aria-label="Conversations">
      <div className="sidebar-head">
        <button type="button" className="button primary wide" onClick={onNewChat}>
          New chat <kbd aria-hidden="true">Ctrl K</kbd>
        </button>
        <label className="visually-hidden" htmlFor="conversation-search">
          Search conversations
        </label>
        <input
          id="conversation-search"
          type="search"
          placeholder="Search conversations"
          value={search}
          onChange={(event) => onSearch(event.target.value)}
        />
        <div className="sidebar-tools">
          <div className="segmented sidebar-views" role="group" aria-label="Which conversations">
            <button
              type="button"
              className={view === 'active' ? 'selected' : ''}
              aria-pressed={view === 'active'}
              onClick={() => onView('active')}
            >
              Recent
            </button>
            <button
              type="button"
              className={view === 'archived' ? 'selected' : ''}
              aria-pressed={view === 'archived'}
              onClick={() => onView('archived')}
            >
              Archived
            </button>
          </div>
          {view === 'active' && folders !== null ? (
            <button
              type="button"
              className="button small ghost"
              onClick={() => setNaming({ id: null, name: '' })}
            >
              New folder
            </button>
          ) : null}
        </div>
      </div>
      {error ? <Notice kind="error">{error}</Notice> : null}
      {notice ? <Notice kind="success">{notice}</Notice> : null}
      {grouped ? (
        <section className="folders" aria-label="Folders">
          {folders!.length > 0 ? <p className="sidebar-label folders-head">Folders</p> : null}
          {naming ? (
            <form
              className="folder-form"
              onSubmit={(event) => {
                event.preventDefault();
                void saveFolder();
              }}
            >
              <label className="visually-hidden" htmlFor="folder-name">
                Folder name
              </label>
              <input
                id="folder-name"
                autoFocus
                placeholder="Folder name"
                value={naming.name}
                onChange={(event) => setNaming({ ...naming, name: event.target.value })}
                onKeyDown={(event) => {
                  if (event.key === 'Escape') {
                    event.stopPropagation();
                    setNaming(null);
                  }
                }}
              />
              <button type="submit" className="button small">
                {naming.id ? 'Rename' : 'Create'}
              </button>
            </form>
          ) : null}
          {folders!.map((folder) => {
            const inside = conversations.filter((conversation) => conversation.folderId === folder.id);
            return (
              <details key={folder.id} className="folder" open>
                <summary>
                  <span className="folder-name">{folder.name}</span>
                  <span className="muted">{inside.length}</span>
                  <span className="folder-actions">
                    <button
                      type="button"
                      className="icon-button"
                      aria-label={`Rename the folder ${folder.name}`}
                      title="Rename folder"
                      onClick={(event) => {
                        event.preventDefault();
                        setNaming({ id: folder.id, name: folder.name });
                      }}
                    >
                      ✎
                    </button>
                    <button
                      type="button"
                      className="icon-button"
                      aria-label={`Delete the folder ${folder.name}`}
                      title="Delete folder (its conversations are kept)"
                      onClick={(event) => {
                        event.preventDefault();
                        void removeFolder(folder);
                      }}
                    >
                      ×
                    </button>
                  </span>
                </summary>
                {inside.length === 0 ? (
                  <p className="muted small-text folder-empty">Empty: move a chat here from its ⋯ menu.</p>
                ) : (
                  <ul className="conversation-list" aria-label={`In ${folder.name}`}>
                    {inside.map(row)}
                  </ul>
                )}
              </details>
            );
          })}
        </section>
      ) : null}
      {loose.length === 0 && (!grouped || conversations.length === 0) ? (
        <p className="muted pad">
          {searching
            ? 'No conversation matches.'
            : view === 'archived'
              ? 'No archived conversations.'
              : 'No conversations yet.'}
        </p>
      ) : null}
      {grouped && folders!.length > 0 && loose.length > 0 ? (
        <p className="sidebar-label folders-head">Chats</p>
      ) : null}
      <ul className="conversation-list">{loose.map(row)}</ul>
      <div className="sidebar-foot" role="group" aria-label="Export and import">
        <button
          type="button"
          className="button small ghost"
          onClick={() => download(allConversationsExportPath('json'))}
        >
          Export all (JSON)
        </button>
        <button
          type="button"
          className="button small ghost"
          onClick={() => download(allConversationsExportPath('markdown'))}
        >
          Export all (Markdown)
        </button>
        <button type="button" className="button small ghost" onClick={() => importInput.current?.click()}>
          Import…
        </button>
        <input
          ref={importInput}
          type="file"
          accept=".json,application/json"
          hidden
          aria-label="Conversations to import"
          onChange={(event) => {
            const file = event.target.files?.[0];
            event.target.value = '';
            if (file) void importFile(file);
          }}
        />
      </div>
    </aside>
  );
}
