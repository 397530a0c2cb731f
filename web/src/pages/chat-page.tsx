import {
  useCallback,
  useEffect,
  useMemo,
  useReducer,
  useRef,
  useState,
  type ClipboardEvent,
  type DragEvent,
  type FormEvent,
  type KeyboardEvent,
} from 'react';
import {
  ApiError,
  del,
  failure,
  get,
  isMissingRoute,
  patch,
  post,
  requestInit,
  uploadFile,
} from '../api/client.ts';
import type {
  Citation,
  ConversationSummary,
  Credential,
  GroundedConversation,
  GroundedMessage,
  KnowledgeBase,
  ModelOption,
  StoredFile,
} from '../api/types.ts';
import {
  AttachmentChips,
  KnowledgePicker,
  SentAttachments,
  type PendingFile,
} from '../components/attachments.tsx';
import { CitationMarker, PassageDialog, SourcesList } from '../components/citations.tsx';
import { CopyButton } from '../components/copy-button.tsx';
import { Notice } from '../components/field.tsx';
import { Link } from '../components/link.tsx';
import { MarkdownView } from '../components/markdown-view.tsx';
import {
  chatReducer,
  emptyChat,
  keepBefore,
  keepForRegenerate,
  parseChatEvent,
  type ChatStreamEvent,
} from '../lib/chat-stream.ts';
import { dragHasFiles, filesOf, uploadErrorText } from '../lib/knowledge.ts';
import { limitRefusal, refusalSummary, type LimitRefusal } from '../lib/limits.ts';
import { navigate, useTitle } from '../lib/router.ts';
import { readSse } from '../lib/sse.ts';

const MODEL_KEY = 'keyway.model';
const rememberedModel = () => {
  try {
    return localStorage.getItem(MODEL_KEY) ?? '';
  } catch {
    return '';
  }
};
const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));

interface SendRequest {
  content?: string;
  replaceFrom?: string;
  regenerate?: boolean;
  /** Files attached to this message (already uploaded). */
  files?: StoredFile[];
  /** How many messages on screen stay before the new ones. */
  keep: number;
}

let pendingKeys = 0;

/** The chat: conversations on the side, one conversation with a streamed reply in the middle. */
export function ChatPage({ conversationId }: { conversationId: string | null }) {
  const [conversations, setConversations] = useState<ConversationSummary[]>([]);
  const [search, setSearch] = useState('');
  const [models, setModels] = useState<ModelOption[] | null>(null);
  const [model, setModel] = useState(rememberedModel);
  const [hasCredentials, setHasCredentials] = useState<boolean | null>(null);
  const [chat, dispatch] = useReducer(chatReducer, emptyChat);
  const [title, setTitle] = useState('New chat');
  const [draft, setDraft] = useState('');
  const [loadError, setLoadError] = useState<string | null>(null);
  const [announce, setAnnounce] = useState('');
  const [sidebarOpen, setSidebarOpen] = useState(false);
  const [editing, setEditing] = useState<{ id: string; text: string } | null>(null);
  /** A 429 from a budget or rate limit: shown with the limit and when it resets. */
  const [refusal, setRefusal] = useState<LimitRefusal | null>(null);
  /** Files for the next message, uploading or uploaded. */
  const [attached, setAttached] = useState<PendingFile[]>([]);
  /** The user's knowledge bases; null while loading or on a server without them. */
  const [bases, setBases] = useState<KnowledgeBase[] | null>(null);
  /** The knowledge bases this conversation (or the new one) answers from. */
  const [baseIds, setBaseIds] = useState<string[]>([]);
  const [dragging, setDragging] = useState(false);
  const [opened, setOpened] = useState<Citation | null>(null);
  const fileInput = useRef<HTMLInputElement>(null);
  const abort = useRef<AbortController | null>(null);
  /** The conversation this page just created and is streaming into: no reload from the server. */
  const created = useRef<string | null>(null);
  /** Set when a refused first message sends the page back to a new chat, which must not clear. */
  const refusedFirst = useRef(false);
  const composer = useRef<HTMLTextAreaElement>(null);
  const scroller = useRef<HTMLDivElement>(null);
  const streaming = chat.streaming !== null;
  useTitle(title);
  /** The conversation on screen now (a send that outlives a navigation must not retitle another). */
  const shown = useRef(conversationId);
  shown.current = conversationId;

  const refreshList = useCallback(async (query: string) => {
    try {
      setConversations(
        await get<ConversationSummary[]>(
          `/api/conversations${query ? `?q=${encodeURIComponent(query)}` : ''}`,
        ),
      );
    } catch (error) {
      if (!isMissingRoute(error)) setLoadError(errorText(error));
    }
  }, []);

  useEffect(() => {
    const timer = setTimeout(() => void refreshList(search.trim()), search ? 250 : 0);
    return () => clearTimeout(timer);
  }, [search, refreshList]);

  useEffect(() => {
    get<ModelOption[]>('/api/models')
      .then((found) => {
        setModels(found);
        setModel((current) =>
          current && found.some((option) => option.id === current) ? current : (found[0]?.id ?? current),
        );
      })
      .catch(() => setModels([]));
    get<Credential[]>('/api/credentials')
      .then((found) => setHasCredentials(found.length > 0))
      .catch(() => setHasCredentials(null));
    get<KnowledgeBase[]>('/api/knowledge')
      .then(setBases)
      .catch(() => setBases(null));
  }, []);

  // Load the conversation when the address changes (not the one this page is streaming into).
  useEffect(() => {
    setEditing(null);
    if (conversationId === null) {
      // Back at a new chat because the first message was refused: the refusal stays on screen.
      const refused = refusedFirst.current;
      refusedFirst.current = false;
      if (!abort.current && !refused) {
        dispatch({ type: 'load', messages: [] });
        setTitle('New chat');
        setBaseIds([]);
      }
      return;
    }
    if (created.current === conversationId) return;
    created.current = null;
    abort.current?.abort();
    let cancelled = false;
    setLoadError(null);
    get<GroundedConversation>(`/api/conversations/${encodeURIComponent(conversationId)}`)
      .then((found) => {
        if (cancelled) return;
        dispatch({ type: 'load', messages: found.messages });
        setTitle(found.title);
        if (found.model) setModel(found.model);
        setBaseIds(found.knowledgeBaseIds ?? []);
      })
      .catch((error: unknown) => {
        if (cancelled) return;
        setLoadError(
          error instanceof ApiError && error.status === 404
            ? 'This conversation does not exist (any more).'
            : errorText(error),
        );
      });
    return () => {
      cancelled = true;
    };
  }, [conversationId]);

  // Keep the newest text in view while it streams, unless the reader scrolled up.
  useEffect(() => {
    const element = scroller.current;
    if (!element) return;
    if (element.scrollHeight - element.scrollTop - element.clientHeight < 160)
      element.scrollTop = element.scrollHeight;
  }, [chat]);

  // When a reply ends, the Stop button (or the edit form) that had focus is gone: the composer takes it.
  useEffect(() => {
    const active = document.activeElement;
    const lost =
      !active || active === document.body || (active instanceof HTMLButtonElement && active.disabled);
    if (!streaming && (lost || active?.closest('.composer'))) composer.current?.focus();
  }, [streaming]);

  const stop = useCallback(() => abort.current?.abort(), []);

  const newChat = useCallback(() => {
    abort.current?.abort();
    created.current = null;
    dispatch({ type: 'load', messages: [] });
    setTitle('New chat');
    setDraft('');
    setAttached([]);
    setBaseIds([]);
    setSidebarOpen(false);
    navigate('/');
    setTimeout(() => composer.current?.focus(), 0);
  }, []);

  useEffect(() => {
    const onKey = (event: globalThis.KeyboardEvent) => {
      if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === 'k') {
        event.preventDefault();
        newChat();
      } else if (event.key === 'Escape' && abort.current) {
        event.preventDefault();
        stop();
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [newChat, stop]);

  const send = async (request: SendRequest) => {
    if (abort.current || !model) return;
    try {
      localStorage.setItem(MODEL_KEY, model);
    } catch {
      // Not remembered; fine.
    }
    let id = conversationId;
    const controller = new AbortController();
    abort.current = controller;
    const now = new Date().toISOString();
    const files = request.files ?? [];
    const pending: GroundedMessage | null =
      request.content !== undefined
        ? {
            id: `local-user-${now}`,
            role: 'user',
            content: request.content,
            model,
            status: 'complete',
            error: null,
            createdAt: now,
            attachments: {
              files: files.map(({ id, name, mediaType }) => ({ id, name, mediaType })),
              knowledgeBases: [],
            },
            citations: [],
          }
        : null;
    // A refused message comes back into the composer with its files.
    const giveBack = () => {
      if (request.content !== undefined) setDraft(request.content);
      if (files.length > 0)
        setAttached(files.map((file) => ({ key: `k${++pendingKeys}`, name: file.name, file, error: null })));
    };
    dispatch({ type: 'start', keep: request.keep, pending });
    setRefusal(null);
    setAnnounce('Sending…');
    let stoppedByUser = false;
    let createdNow = false;
    try {
      if (!id) {
        createdNow = true;
        // Knowledge chosen before the first message goes with the new conversation (sent only when
        // there is some, so a server without knowledge in chat still takes the rest).
        const conversation = await post<ConversationSummary>('/api/conversations', {
          model,
          ...(baseIds.length > 0 ? { knowledgeBaseIds: baseIds } : {}),
        });
        id = conversation.id;
        created.current = id;
        setTitle(conversation.title);
        navigate(`/chat/${encodeURIComponent(id)}`);
      }
      const response = await fetch(
        `/api/conversations/${encodeURIComponent(id)}/messages`,
        requestInit('POST', {
          signal: controller.signal,
          body: {
            model,
            ...(request.content !== undefined ? { content: request.content } : {}),
            ...(request.replaceFrom ? { replaceFrom: request.replaceFrom } : {}),
            ...(request.regenerate ? { regenerate: true } : {}),
            ...(files.length > 0 ? { attachments: { fileIds: files.map((file) => file.id) } } : {}),
          },
        }),
      );
      if (!response.ok || !response.body) throw await failure(response);
      setAnnounce('The assistant is replying…');
      for await (const data of readSse(response.body)) {
        const event = parseChatEvent(data);
        if (!event) continue;
        dispatch({ type: 'event', event });
        if (event.type === 'done') setAnnounce('Reply complete.');
        if (event.type === 'error') {
          setAnnounce(`The reply failed: ${event.message}`);
          if (event.code === 'no_credentials') setHasCredentials(false);
          // Refused by a limit: say which and when it resets, and give the question back.
          const refused = limitRefusal(event);
          if (refused) {
            setRefusal(refused);
            giveBack();
          }
        }
      }
    } catch (error) {
      if (controller.signal.aborted) {
        stoppedByUser = true;
      } else {
        const event: ChatStreamEvent =
          error instanceof ApiError
            ? { type: 'error', code: error.code, message: error.message }
            : { type: 'error', code: 'network', message: `The connection broke: ${errorText(error)}` };
        // Refused before anything streamed: the question goes back into the composer.
        if (error instanceof ApiError) giveBack();
        if (error instanceof ApiError) setRefusal(limitRefusal(error));
        // A conversation made for a first message the server refused would stay behind empty.
        if (error instanceof ApiError && createdNow && id) {
          await del(`/api/conversations/${encodeURIComponent(id)}`).catch(() => {});
          created.current = null;
          id = null;
          refusedFirst.current = true;
          setTitle('New chat');
          navigate('/', { replace: true });
        }
        // The server's copy is the truth after a failure (what it stored, what an edit removed).
        dispatch({ type: 'load', messages: id ? await reloadMessages(id) : [] });
        dispatch({ type: 'event', event });
        if (event.code === 'no_credentials') setHasCredentials(false);
        setAnnounce(`The reply failed: ${event.message}`);
      }
    } finally {
      if (stoppedByUser) {
        dispatch({ type: 'stopped', at: new Date().toISOString(), model });
        setAnnounce('Stopped. The partial reply is kept.');
      } else {
        // A stream that ended without done or error (the server went away) is kept like a stop.
        dispatch({ type: 'stopped', at: new Date().toISOString(), model });
      }
      abort.current = null;
      void refreshList(search.trim());
      if (id) {
        const sent = id;
        get<ConversationSummary>(`/api/conversations/${encodeURIComponent(id)}`)
          .then((found) => {
            if (shown.current === sent) setTitle(found.title);
          })
          .catch(() => {});
      }
    }
  };

  const reloadMessages = async (id: string): Promise<GroundedMessage[]> => {
    try {
      return (await get<GroundedConversation>(`/api/conversations/${encodeURIComponent(id)}`)).messages;
    } catch {
      return chat.messages;
    }
  };

  const uploading = attached.some((pending) => pending.file === null && pending.error === null);

  const submit = (event?: FormEvent) => {
    event?.preventDefault();
    const content = draft.trim();
    if (!content || streaming || uploading) return;
    const files = attached.flatMap((pending) => (pending.file ? [pending.file] : []));
    setDraft('');
    setAttached([]);
    void send({ content, keep: chat.messages.length, files });
  };

  /** Uploads files for the next message; each shows as a chip, refused ones with the reason. */
  const attach = (chosen: File[]) => {
    for (const file of chosen) {
      const key = `k${++pendingKeys}`;
      setAttached((list) => [...list, { key, name: file.name || 'pasted file', file: null, error: null }]);
      uploadFile<StoredFile>(file)
        .then((stored) =>
          setAttached((list) => list.map((item) => (item.key === key ? { ...item, file: stored } : item))),
        )
        .catch((error: unknown) => {
          const message = uploadErrorText(file.name || 'pasted file', error);
          setAnnounce(message);
          setAttached((list) => list.map((item) => (item.key === key ? { ...item, error: message } : item)));
        });
    }
  };

  const onPaste = (event: ClipboardEvent<HTMLTextAreaElement>) => {
    const pasted = filesOf(event.clipboardData);
    // Text pastes as text, even when the source also offers a picture of it (a spreadsheet's cells).
    if (pasted.length === 0 || event.clipboardData.getData('text/plain')) return;
    event.preventDefault();
    attach(pasted);
  };

  const onDragOver = (event: DragEvent) => {
    if (!dragHasFiles(event.dataTransfer)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = 'copy';
    setDragging(true);
  };

  const onDrop = (event: DragEvent) => {
    const dropped = filesOf(event.dataTransfer);
    setDragging(false);
    if (dropped.length === 0) return;
    event.preventDefault();
    attach(dropped);
    composer.current?.focus();
  };

  const changeBases = (ids: string[]) => {
    const before = baseIds;
    setBaseIds(ids);
    if (!conversationId) return;
    patch(`/api/conversations/${encodeURIComponent(conversationId)}`, { knowledgeBaseIds: ids }).catch(
      (error: unknown) => {
        setBaseIds(before);
        setLoadError(
          error instanceof ApiError && error.code === 'validation_failed'
            ? 'This server cannot attach knowledge bases to a conversation yet.'
            : `The knowledge bases were not changed: ${errorText(error)}`,
        );
      },
    );
  };

  const onComposerKey = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      submit();
    }
  };

  const regenerate = () => void send({ regenerate: true, keep: keepForRegenerate(chat.messages) });

  const resendEdit = () => {
    if (!editing || !editing.text.trim()) return;
    const keep = keepBefore(chat.messages, editing.id);
    const replaceFrom = editing.id.startsWith('local-') ? undefined : editing.id;
    setEditing(null);
    void send({ content: editing.text.trim(), keep, ...(replaceFrom ? { replaceFrom } : {}) });
  };

  const changeModel = (next: string) => {
    setModel(next);
    if (conversationId)
      void patch(`/api/conversations/${encodeURIComponent(conversationId)}`, { model: next }).catch(() => {});
  };

  const lastIndex = chat.messages.length - 1;
  const modelChoices = models ?? [];
  const noCredentials = hasCredentials === false || chat.error?.code === 'no_credentials';

  return (
    <div className={`chat ${sidebarOpen ? 'sidebar-open' : ''}`}>
      <aside className="chat-sidebar" aria-label="Conversations">
        <div className="sidebar-head">
          <button type="button" className="button primary wide" onClick={newChat}>
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
            onChange={(event) => setSearch(event.target.value)}
          />
        </div>
        <ConversationList
          conversations={conversations}
          activeId={conversationId}
          onChanged={(nextTitle, changedId) => {
            if (changedId === conversationId && nextTitle !== null) setTitle(nextTitle);
            if (changedId === conversationId && nextTitle === null) newChat();
            void refreshList(search.trim());
          }}
          onOpen={() => setSidebarOpen(false)}
          searching={search.trim() !== ''}
        />
      </aside>
      <section
        className={`chat-main ${dragging ? 'dragging' : ''}`}
        aria-labelledby="chat-title"
        onDragOver={onDragOver}
        onDragLeave={(event) => {
          if (!event.currentTarget.contains(event.relatedTarget as Node | null)) setDragging(false);
        }}
        onDrop={onDrop}
      >
        {dragging ? (
          <div className="drop-overlay" aria-hidden="true">
            Drop files to attach them to your message
          </div>
        ) : null}
        <div className="chat-head">
          <button
            type="button"
            className="button small ghost sidebar-toggle"
            aria-expanded={sidebarOpen}
            onClick={() => setSidebarOpen((open) => !open)}
          >
            Chats
          </button>
          <h1 id="chat-title" className="chat-title" tabIndex={-1}>
            {title}
          </h1>
          <div className="model-picker">
            <label htmlFor="model">Model</label>
            {models === null ? (
              <select id="model" disabled>
                <option>Loading models…</option>
              </select>
            ) : modelChoices.length > 0 ? (
              <select
                id="model"
                value={model}
                onChange={(event) => changeModel(event.target.value)}
                disabled={streaming}
              >
                {!modelChoices.some((option) => option.id === model) && model ? (
                  <option value={model}>{model}</option>
                ) : null}
                {(['model', 'bot'] as const).map((kind) => {
                  const options = modelChoices.filter((option) => option.kind === kind);
                  return options.length > 0 ? (
                    <optgroup key={kind} label={kind === 'model' ? 'Models' : 'Bots'}>
                      {options.map((option) => (
                        <option key={option.id} value={option.id}>
                          {option.label}
                        </option>
                      ))}
                    </optgroup>
                  ) : null;
                })}
              </select>
            ) : (
              <input
                id="model"
                value={model}
                placeholder="credential/model"
                onChange={(event) => setModel(event.target.value)}
                disabled={streaming}
              />
            )}
          </div>
          {bases !== null ? (
            <KnowledgePicker bases={bases} selected={baseIds} onChange={changeBases} disabled={streaming} />
          ) : null}
        </div>

        {noCredentials ? (
          <Notice kind="warning">
            No provider credential is set up yet, so there is nothing to chat with.{' '}
            <Link to="/credentials">Add a credential</Link> (an API key for OpenAI, Anthropic, a local
            server…) and come back.
          </Notice>
        ) : null}
        {loadError ? <Notice kind="error">{loadError}</Notice> : null}

        <div className="messages" ref={scroller} role="log" aria-live="polite" aria-label="Messages">
          {chat.messages.length === 0 && !streaming ? (
            <div className="empty-chat">
              <p>Ask anything. Enter sends, Shift+Enter starts a new line, Esc stops a reply.</p>
            </div>
          ) : null}
          {chat.messages.map((message: GroundedMessage, index) => (
            <article
              key={message.id}
              className={`message ${message.role}`}
              aria-label={message.role === 'user' ? 'You' : 'Assistant'}
            >
              <div className="message-meta">
                <span className="who">{message.role === 'user' ? 'You' : 'Assistant'}</span>
                {message.role === 'assistant' && message.model ? (
                  <span className="muted">{message.model}</span>
                ) : null}
                {message.status !== 'complete' ? (
                  <span className={`badge badge-${message.status}`}>{message.status}</span>
                ) : null}
              </div>
              {editing?.id === message.id ? (
                <form
                  className="edit-form"
                  onSubmit={(event) => {
                    event.preventDefault();
                    resendEdit();
                  }}
                >
                  <label className="visually-hidden" htmlFor={`edit-${message.id}`}>
                    Edit message
                  </label>
                  <textarea
                    id={`edit-${message.id}`}
                    autoFocus
                    value={editing.text}
                    onChange={(event) => setEditing({ id: message.id, text: event.target.value })}
                    onKeyDown={(event) => {
                      if (event.key === 'Enter' && !event.shiftKey) {
                        event.preventDefault();
                        resendEdit();
                      } else if (event.key === 'Escape') {
                        event.stopPropagation();
                        setEditing(null);
                      }
                    }}
                  />
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
                <Answer message={message} onOpen={setOpened} />
              )}
              {message.status === 'failed' && message.error ? (
                <p className="error-text">{message.error.message}</p>
              ) : null}
              <div className="message-actions">
                <CopyButton text={message.content} />
                {message.role === 'user' && !streaming && editing === null ? (
                  <button
                    type="button"
                    className="button small ghost"
                    onClick={() => setEditing({ id: message.id, text: message.content })}
                  >
                    Edit
                  </button>
                ) : null}
                {message.role === 'assistant' && index === lastIndex && !streaming ? (
                  <button type="button" className="button small ghost" onClick={regenerate}>
                    Regenerate
                  </button>
                ) : null}
              </div>
            </article>
          ))}
          {chat.streaming ? (
            <article
              className="message assistant streaming"
              aria-busy="true"
              aria-label="Assistant, replying"
            >
              <div className="message-meta">
                <span className="who">Assistant</span>
                <span className="typing" aria-hidden="true" />
              </div>
              <MarkdownView source={chat.streaming.content} />
            </article>
          ) : null}
          {chat.error && chat.error.code !== 'no_credentials' && refusal?.code === chat.error.code ? (
            <Notice kind="warning">
              <p>{refusal.message}</p>
              {refusal.details ? <p className="refusal">{refusalSummary(refusal.details)}</p> : null}
              <p className="refusal">
                {draft ? 'Your message is kept in the box below. ' : ''}
                <Link to="/limits">See my limits</Link>
              </p>
            </Notice>
          ) : chat.error && chat.error.code !== 'no_credentials' ? (
            <Notice kind="error">
              {chat.error.message}{' '}
              {lastIndex >= 0 && !streaming ? (
                <button type="button" className="button small" onClick={regenerate}>
                  Try again
                </button>
              ) : null}
            </Notice>
          ) : null}
        </div>
        <div className="visually-hidden" role="status" aria-live="polite">
          {announce}
        </div>

        <form className="composer" onSubmit={submit}>
          <AttachmentChips
            files={attached}
            knowledgeBases={(bases ?? []).filter((base) => baseIds.includes(base.id))}
            onRemoveFile={(key) => setAttached((list) => list.filter((item) => item.key !== key))}
            onRemoveKnowledgeBase={(id) => changeBases(baseIds.filter((other) => other !== id))}
            disabled={streaming}
          />
          {attached.some((pending) => pending.error) ? (
            <div className="composer-errors" role="alert">
              {attached.flatMap((pending) =>
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
              attach(Array.from(event.target.files ?? []));
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
            ref={composer}
            rows={2}
            placeholder={model ? `Message ${model}` : 'Choose a model first'}
            value={draft}
            onChange={(event) => setDraft(event.target.value)}
            onKeyDown={onComposerKey}
            onPaste={onPaste}
            autoFocus
          />
          {streaming ? (
            <button type="button" className="button danger" onClick={stop}>
              Stop <kbd aria-hidden="true">Esc</kbd>
            </button>
          ) : (
            <button
              type="submit"
              className="button primary"
              disabled={!draft.trim() || !model || uploading}
              title={uploading ? 'Waiting for the files to upload' : undefined}
            >
              Send
            </button>
          )}
        </form>
        {opened ? <PassageDialog citation={opened} onClose={() => setOpened(null)} /> : null}
      </section>
    </div>
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

function ConversationList({
  conversations,
  activeId,
  onChanged,
  onOpen,
  searching,
}: {
  conversations: ConversationSummary[];
  activeId: string | null;
  /** After a rename (the new title) or a delete (null). */
  onChanged: (title: string | null, id: string) => void;
  onOpen: () => void;
  searching: boolean;
}) {
  const [renaming, setRenaming] = useState<{ id: string; title: string } | null>(null);
  const [error, setError] = useState<string | null>(null);

  const rename = async () => {
    if (!renaming) return;
    const { id, title } = renaming;
    setRenaming(null);
    if (!title.trim()) return;
    try {
      await patch(`/api/conversations/${encodeURIComponent(id)}`, { title: title.trim() });
      onChanged(title.trim(), id);
    } catch (caught) {
      setError(errorText(caught));
    }
  };

  const remove = async (conversation: ConversationSummary) => {
    if (!window.confirm(`Delete "${conversation.title}" and all its messages?`)) return;
    try {
      await del(`/api/conversations/${encodeURIComponent(conversation.id)}`);
      onChanged(null, conversation.id);
    } catch (caught) {
      setError(errorText(caught));
    }
  };

  return (
    <>
      {error ? <Notice kind="error">{error}</Notice> : null}
      {conversations.length === 0 ? (
        <p className="muted pad">{searching ? 'No conversation matches.' : 'No conversations yet.'}</p>
      ) : null}
      <ul className="conversation-list">
        {conversations.map((conversation) => (
          <li key={conversation.id} className={conversation.id === activeId ? 'active' : ''}>
            {renaming?.id === conversation.id ? (
              <form
                onSubmit={(event) => {
                  event.preventDefault();
                  void rename();
                }}
              >
                <label className="visually-hidden" htmlFor={`rename-${conversation.id}`}>
                  New title
                </label>
                <input
                  id={`rename-${conversation.id}`}
                  autoFocus
                  value={renaming.title}
                  onChange={(event) => setRenaming({ id: conversation.id, title: event.target.value })}
                  onBlur={() => void rename()}
                  onKeyDown={(event) => {
                    if (event.key === 'Escape') {
                      event.stopPropagation();
                      setRenaming(null);
                    }
                  }}
                />
              </form>
            ) : (
              <>
                <Link
                  to={`/chat/${encodeURIComponent(conversation.id)}`}
                  aria-current={conversation.id === activeId ? 'page' : undefined}
                  onClick={onOpen}
                  className="conversation-link"
                >
                  {conversation.title}
                </Link>
                <span className="conversation-actions">
                  <button
                    type="button"
                    className="icon-button"
                    aria-label={`Rename ${conversation.title}`}
                    title="Rename"
                    onClick={() => setRenaming({ id: conversation.id, title: conversation.title })}
                  >
                    ✎
                  </button>
                  <button
                    type="button"
                    className="icon-button"
                    aria-label={`Delete ${conversation.title}`}
                    title="Delete"
                    onClick={() => void remove(conversation)}
                  >
                    ×
                  </button>
                </span>
              </>
            )}
          </li>
        ))}
      </ul>
    </>
  );
}
