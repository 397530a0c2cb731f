import { useCallback, useEffect, useReducer, useRef, useState } from 'react';
import { ApiError, del, failure, get, patch, post, put, requestInit } from '../api/client.ts';
import type { Citation, ConversationSummary, GroundedMessage, StoredFile } from '../api/types.ts';
import { EmptyConversation } from '../components/chat/assistant-start.tsx';
import { ChatHeader } from '../components/chat/chat-header.tsx';
import { Composer } from '../components/chat/composer.tsx';
import { ConversationSidebar, type SidebarView } from '../components/chat/conversation-sidebar.tsx';
import { MessageItem } from '../components/chat/message-item.tsx';
import { SettingsPanel } from '../components/chat/settings-panel.tsx';
import { ReplyNotice } from '../components/chat/reply-notice.tsx';
import { ShareDialog } from '../components/chat/share-dialog.tsx';
import { PassageDialog } from '../components/citations.tsx';
import { Notice } from '../components/field.tsx';
import { Link } from '../components/link.tsx';
import { MarkdownView } from '../components/markdown-view.tsx';
import {
  conversationPath,
  noSettings,
  type Assistant,
  type BranchedConversation,
  type ChatSettingsValues,
  type Preset,
} from '../lib/chat-contract.ts';
import {
  chatReducer,
  emptyChat,
  keepBefore,
  keepForRegenerate,
  parseChatEvent,
  type ChatStreamEvent,
} from '../lib/chat-stream.ts';
import { limitRefusal, type LimitRefusal } from '../lib/limits.ts';
import { navigate, useTitle } from '../lib/router.ts';
import { readSse } from '../lib/sse.ts';
import { useFileDrop, usePendingFiles } from '../lib/use-attachments.ts';
import { useChatChoices, useConversationList } from '../lib/use-chat-data.ts';

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
  /** A new version of this user message, beside it (nothing is deleted). */
  editOf?: string;
  regenerate?: boolean;
  /** Files attached to this message (already uploaded). */
  files?: StoredFile[];
  /** How many messages on screen stay before the new ones. */
  keep: number;
}

/** The chat: conversations on the side, one conversation (the branch on show) in the middle. */
export function ChatPage({ conversationId }: { conversationId: string | null }) {
  const [search, setSearch] = useState('');
  const [view, setView] = useState<SidebarView>('active');
  const [model, setModel] = useState(rememberedModel);
  const { models, hasCredentials, setHasCredentials, bases, assistants } = useChatChoices((found) =>
    // The remembered model if it is still there, else the first.
    setModel((current) =>
      current && found.some((option) => option.id === current) ? current : (found[0]?.id ?? current),
    ),
  );
  const [chat, dispatch] = useReducer(chatReducer, emptyChat);
  const [title, setTitle] = useState('New chat');
  const [draft, setDraft] = useState('');
  const [loadError, setLoadError] = useState<string | null>(null);
  const { conversations, refresh } = useConversationList(search, view === 'archived', setLoadError);
  const [announce, setAnnounce] = useState('');
  const [sidebarOpen, setSidebarOpen] = useState(false);
  /** A 429 from a budget or rate limit: shown with the limit and when it resets. */
  const [refusal, setRefusal] = useState<LimitRefusal | null>(null);
  const pendingFiles = usePendingFiles(setAnnounce);
  /** The knowledge bases this conversation (or the new one) answers from. */
  const [baseIds, setBaseIds] = useState<string[]>([]);
  /** This conversation's settings (for a new chat: the ones it will be made with). */
  const [settings, setSettings] = useState<Partial<ChatSettingsValues>>(noSettings);
  const [assistantId, setAssistantId] = useState<string | null>(null);
  const [settingsOpen, setSettingsOpen] = useState(false);
  const [sharing, setSharing] = useState<{ id: string; title: string } | null>(null);
  /** The conversation the server has shown or made (not one that failed to load): it can be shared. */
  const [knownId, setKnownId] = useState<string | null>(null);
  const [opened, setOpened] = useState<Citation | null>(null);
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
  const assistant = assistants.find((candidate) => candidate.id === assistantId) ?? null;

  /** Shows a conversation as the server has it (after a load, a switch of branch, a delete). */
  const show = useCallback((found: BranchedConversation) => {
    setKnownId(found.id);
    dispatch({ type: 'load', messages: found.messages });
    setTitle(found.title);
    if (found.model) setModel(found.model);
    setBaseIds(found.knowledgeBaseIds ?? []);
    setSettings(found.settings ?? noSettings);
    setAssistantId(found.assistantId ?? null);
  }, []);

  // Load the conversation when the address changes (not the one this page is streaming into).
  useEffect(() => {
    if (conversationId === null) {
      // Back at a new chat because the first message was refused: the refusal stays on screen.
      const refused = refusedFirst.current;
      refusedFirst.current = false;
      if (!abort.current && !refused) {
        dispatch({ type: 'load', messages: [] });
        setTitle('New chat');
        setBaseIds([]);
        setSettings(noSettings);
        setAssistantId(null);
      }
      return;
    }
    if (created.current === conversationId) return;
    created.current = null;
    abort.current?.abort();
    let cancelled = false;
    setLoadError(null);
    get<BranchedConversation>(conversationPath(conversationId))
      .then((found) => !cancelled && show(found))
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
  }, [conversationId, show]);

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

  const newChat = useCallback((withAssistant: Assistant | null = null) => {
    abort.current?.abort();
    created.current = null;
    dispatch({ type: 'load', messages: [] });
    setTitle(withAssistant ? `New chat with ${withAssistant.name}` : 'New chat');
    setDraft('');
    pendingFiles.clear();
    setBaseIds([]);
    setSettings(noSettings);
    setAssistantId(withAssistant?.id ?? null);
    if (withAssistant) setModel(withAssistant.model);
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

  /** Makes the conversation for a first message, with what was chosen before it. */
  const createConversation = async (): Promise<string> => {
    // Knowledge chosen before the first message goes with the new conversation (sent only when
    // there is some, so a server without knowledge in chat still takes the rest).
    const conversation = await post<ConversationSummary>('/api/conversations', {
      model,
      ...(baseIds.length > 0 ? { knowledgeBaseIds: baseIds } : {}),
    });
    const chosen = Object.values(settings).some((value) => value !== null && value !== undefined);
    if (assistantId || chosen)
      await patch(conversationPath(conversation.id), {
        ...(assistantId ? { assistantId } : {}),
        ...(chosen ? { settings } : {}),
      });
    created.current = conversation.id;
    setKnownId(conversation.id);
    setTitle(conversation.title);
    navigate(`/chat/${encodeURIComponent(conversation.id)}`);
    return conversation.id;
  };

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
      if (files.length > 0) pendingFiles.restore(files);
    };
    dispatch({ type: 'start', keep: request.keep, pending });
    setRefusal(null);
    setAnnounce('Sending…');
    let stoppedByUser = false;
    let createdNow = false;
    let finished = false;
    try {
      if (!id) {
        createdNow = true;
        id = await createConversation();
      }
      const response = await fetch(
        `${conversationPath(id)}/messages`,
        requestInit('POST', {
          signal: controller.signal,
          body: {
            model,
            ...(request.content !== undefined ? { content: request.content } : {}),
            ...(request.editOf ? { editOf: request.editOf } : {}),
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
        if (event.type === 'done') {
          finished = true;
          setAnnounce('Reply complete.');
        }
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
          await del(conversationPath(id)).catch(() => {});
          created.current = null;
          id = null;
          refusedFirst.current = true;
          setTitle('New chat');
          navigate('/', { replace: true });
        }
        // The server's copy is the truth after a failure (what it stored).
        dispatch({ type: 'load', messages: id ? await reloadMessages(id) : [] });
        dispatch({ type: 'event', event });
        if (event.code === 'no_credentials') setHasCredentials(false);
        setAnnounce(`The reply failed: ${event.message}`);
      }
    } finally {
      // A stop, or a stream that ended without done or error (the server went away): what came is kept.
      dispatch({ type: 'stopped', at: new Date().toISOString(), model });
      if (stoppedByUser) setAnnounce('Stopped. The partial reply is kept.');
      abort.current = null;
      refresh();
      if (id) {
        const sent = id;
        get<BranchedConversation>(conversationPath(id))
          .then((found) => {
            if (shown.current !== sent || abort.current) return;
            setTitle(found.title);
            // A finished reply learns its place among its siblings (‹ 2/2 ›) from the server's copy.
            if (finished) dispatch({ type: 'placed', messages: found.messages });
          })
          .catch(() => {});
      }
    }
  };

  const reloadMessages = async (id: string): Promise<GroundedMessage[]> => {
    try {
      return (await get<BranchedConversation>(conversationPath(id))).messages;
    } catch {
      return chat.messages;
    }
  };

  const sendNew = (content: string) => {
    const files = pendingFiles.uploaded;
    setDraft('');
    pendingFiles.clear();
    void send({ content, keep: chat.messages.length, files });
  };

  const drop = useFileDrop((dropped) => {
    pendingFiles.attach(dropped);
    composer.current?.focus();
  });

  const changeBases = (ids: string[]) => {
    const before = baseIds;
    setBaseIds(ids);
    if (!conversationId) return;
    patch(conversationPath(conversationId), { knowledgeBaseIds: ids }).catch((error: unknown) => {
      setBaseIds(before);
      setLoadError(
        error instanceof ApiError && error.code === 'validation_failed'
          ? 'This server cannot attach knowledge bases to a conversation yet.'
          : `The knowledge bases were not changed: ${errorText(error)}`,
      );
    });
  };

  const changeModel = (next: string) => {
    setModel(next);
    if (conversationId) void patch(conversationPath(conversationId), { model: next }).catch(() => {});
  };

  const saveSettings = async (next: ChatSettingsValues) => {
    if (conversationId) await patch(conversationPath(conversationId), { settings: next });
    setSettings(next);
  };

  const applyPreset = async (preset: Preset) => {
    const next = { ...noSettings, ...preset.settings };
    if (conversationId)
      await patch(conversationPath(conversationId), {
        settings: next,
        ...(preset.model ? { model: preset.model } : {}),
      });
    setSettings(next);
    if (preset.model) setModel(preset.model);
  };

  const switchBranch = async (messageId: string) => {
    if (!conversationId) return;
    try {
      show(await put<BranchedConversation>(`${conversationPath(conversationId)}/branch`, { messageId }));
      setAnnounce('Showing another version.');
    } catch (error) {
      setLoadError(`Could not switch versions: ${errorText(error)}`);
    }
  };

  const deleteMessage = async (message: GroundedMessage) => {
    if (!conversationId) return;
    const what =
      message.role === 'user' ? 'this message and every reply under it' : 'this answer and what follows it';
    if (!window.confirm(`Delete ${what}?`)) return;
    try {
      await del(`${conversationPath(conversationId)}/messages/${encodeURIComponent(message.id)}`);
      // What was above it stays on show (not whichever branch the server falls back to).
      const above = chat.messages[chat.messages.findIndex((shown) => shown.id === message.id) - 1];
      show(
        above
          ? await put<BranchedConversation>(`${conversationPath(conversationId)}/branch`, {
              messageId: above.id,
            })
          : await get<BranchedConversation>(conversationPath(conversationId)),
      );
    } catch (error) {
      setLoadError(`The message was not deleted: ${errorText(error)}`);
    }
  };

  const lastIndex = chat.messages.length - 1;
  const regenerate = () => void send({ regenerate: true, keep: keepForRegenerate(chat.messages) });
  const noCredentials = hasCredentials === false || chat.error?.code === 'no_credentials';

  return (
    <div className={`chat ${sidebarOpen ? 'sidebar-open' : ''}`}>
      <ConversationSidebar
        conversations={conversations}
        activeId={conversationId}
        view={view}
        onView={setView}
        search={search}
        onSearch={setSearch}
        onNewChat={() => newChat()}
        onChanged={(changedId, change) => {
          if (changedId === conversationId && change?.kind === 'renamed') setTitle(change.title);
          if (changedId === conversationId && change?.kind === 'deleted') newChat();
          refresh();
        }}
        onOpen={() => setSidebarOpen(false)}
        onShare={(conversation) => setSharing({ id: conversation.id, title: conversation.title })}
      />
      <section
        className={`chat-main ${drop.dragging ? 'dragging' : ''}`}
        aria-labelledby="chat-title"
        {...drop.handlers}
      >
        {drop.dragging ? (
          <div className="drop-overlay" aria-hidden="true">
            Drop files to attach them to your message
          </div>
        ) : null}
        <ChatHeader
          title={title}
          assistant={assistant}
          models={models}
          model={model}
          onModel={changeModel}
          bases={bases}
          baseIds={baseIds}
          onBases={changeBases}
          streaming={streaming}
          sidebarOpen={sidebarOpen}
          onToggleSidebar={() => setSidebarOpen((open) => !open)}
          settingsOpen={settingsOpen}
          onToggleSettings={() => setSettingsOpen((open) => !open)}
          onShare={
            conversationId && knownId === conversationId
              ? () => setSharing({ id: conversationId, title })
              : null
          }
        />
        {settingsOpen ? (
          <SettingsPanel
            settings={settings}
            models={models ?? []}
            onSave={saveSettings}
            onApplyPreset={applyPreset}
            onClose={() => setSettingsOpen(false)}
          />
        ) : null}

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
            <EmptyConversation
              assistants={conversationId ? [] : assistants}
              assistant={assistant}
              onChooseAssistant={(chosen) => (conversationId ? undefined : newChat(chosen))}
              onStarter={sendNew}
              disabled={!model}
            />
          ) : null}
          {chat.messages.map((message, index) => (
            <MessageItem
              key={message.id}
              message={message}
              isLast={index === lastIndex}
              busy={streaming}
              onOpenCitation={setOpened}
              actions={{
                onEdit: (id, text) =>
                  void send({
                    content: text,
                    keep: keepBefore(chat.messages, id),
                    ...(id.startsWith('local-') ? {} : { editOf: id }),
                  }),
                onRegenerate: regenerate,
                onSwitch: (siblingId) => void switchBranch(siblingId),
                onDelete: (target) => void deleteMessage(target),
              }}
            />
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
          <ReplyNotice
            error={chat.error}
            refusal={refusal}
            draftKept={draft !== ''}
            onTryAgain={lastIndex >= 0 && !streaming ? regenerate : null}
          />
        </div>
        <div className="visually-hidden" role="status" aria-live="polite">
          {announce}
        </div>

        <Composer
          draft={draft}
          onDraft={setDraft}
          model={model}
          streaming={streaming}
          pendingFiles={pendingFiles}
          knowledgeBases={(bases ?? []).filter((base) => baseIds.includes(base.id))}
          onRemoveKnowledgeBase={(id) => changeBases(baseIds.filter((other) => other !== id))}
          onSend={sendNew}
          onStop={stop}
          textarea={composer}
        />
        {opened ? <PassageDialog citation={opened} onClose={() => setOpened(null)} /> : null}
        {sharing ? (
          <ShareDialog conversationId={sharing.id} title={sharing.title} onClose={() => setSharing(null)} />
        ) : null}
      </section>
    </div>
  );
}
