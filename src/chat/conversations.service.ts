import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Principal } from '../auth/principal.ts';
import { KeywayError } from '../errors.ts';
import { ProviderFailure } from '../gateway/provider-failure.ts';
import type { Completion } from '../gateway/gateway.service.ts';
import type { ChatRequest } from '../gateway/openai-types.ts';
import { withoutNul } from '../db/storable-text.ts';
import { isUuid } from '../ids.ts';
import type { Citation, Grounder, Grounding } from '../knowledge/grounding.ts';
import {
  asRecords,
  attachmentsOf,
  documentsOf,
  imagesOf,
  knowledgeBasesOf,
  type AttachmentInput,
  type AttachmentsView,
  type ChatAttachments,
} from './chat-attachments.ts';
import { describeFailure, type Failure } from './chat-failures.ts';
import type { ChatModels, ModelOption } from './chat-models.ts';
import { promptMessages, type PromptMessage } from './chat-prompt.ts';
import type { AssistantDirectory, AssistantProfile, ChatSettings } from './chat-settings.ts';
import type { ConversationTitles } from './conversation-titles.ts';
import type {
  ArchivedFilter,
  ConversationChanges,
  ConversationRecord,
  ConversationsRepository,
  MessageRecord,
} from './conversations.repository.ts';
import { effectiveSettings } from './effective-settings.ts';
import { branchTo, newestLeafUnder, siblingsOf, subtreeOf, type Siblings } from './message-tree.ts';
import { replyBranch } from './reply-branch.ts';

export const DEFAULT_TITLE = 'New chat';
const TITLE_LENGTH = 60;

/** The part of `GatewayService` a chat reply goes through: the same pipeline as `/v1`. */
export interface ChatGateway {
  complete(
    principal: Principal,
    request: ChatRequest,
    options: { startedAt: number; signal: AbortSignal; fallbackModels: string[]; log: Logger },
  ): Promise<Completion>;
  /** Throws `model_without_vision` when the request has images its model cannot read. */
  refuseImagesWithoutVision(principal: Principal, request: ChatRequest): Promise<void>;
}

/** A message as the API shows it. */
export interface MessageView {
  id: string;
  /** The message it follows on its branch (null: a first message). */
  parentId: string | null;
  /** It and its siblings (other edits or answers at the same place), in creation order. */
  siblings: Siblings;
  role: 'user' | 'assistant';
  content: string;
  model: string;
  status: 'complete' | 'stopped' | 'failed';
  /** Why a failed answer failed, in plain words; null otherwise. */
  error: { code: string; message: string } | null;
  attachments: AttachmentsView;
  /** An answer's numbered sources (`[1]` in its text is `n: 1`); [] when none. */
  citations: Citation[];
  createdAt: Date;
}

/** A conversation as the API shows it: where its branch on show ends is in its messages. */
export type ConversationView = Omit<ConversationRecord, 'currentLeafId'>;

/** A conversation with the messages of the branch on show, root first. */
export type ConversationWithMessages = ConversationView & { messages: MessageView[] };

/** What a reply streams, one event per SSE `data:` line. */
export type ChatEvent =
  | { type: 'user'; message: MessageView }
  | { type: 'delta'; text: string }
  | { type: 'done'; message: MessageView }
  | { type: 'error'; code: string; message: string; details?: Record<string, unknown>; messageId?: string };

export interface ReplyInput {
  content?: string | undefined;
  model?: string | undefined;
  /** A new user message as a sibling of this one (nothing is deleted). */
  editOf?: string | undefined;
  /** The former name of `editOf`. */
  replaceFrom?: string | undefined;
  /** Answer after this message instead of the end of the branch on show. */
  parentId?: string | undefined;
  regenerate?: boolean | undefined;
  /** Attached to this message only. */
  attachments?: AttachmentInput | undefined;
}

/** A conversation's new fields; attachment lists replace the conversation's own whole. */
export interface ConversationInput extends AttachmentInput {
  title?: string | undefined;
  model?: string | undefined;
  /** null: out of any folder. */
  folderId?: string | null | undefined;
  pinned?: boolean | undefined;
  archived?: boolean | undefined;
  /** null: no assistant. */
  assistantId?: string | null | undefined;
  /** The fields given replace the stored ones; null clears one. */
  settings?: Partial<ChatSettings> | undefined;
}

const NO_ATTACHMENTS: AttachmentsView = Object.freeze({ files: [], knowledgeBases: [] });

const toConversationView = ({ currentLeafId: _leaf, ...view }: ConversationRecord): ConversationView => view;

const toMessageView = (
  record: MessageRecord,
  siblings: Siblings,
  attachments: AttachmentsView = NO_ATTACHMENTS,
): MessageView => ({
  id: record.id,
  parentId: record.parentId,
  siblings,
  role: record.role,
  content: record.content,
  model: record.model,
  status: record.status,
  error: record.errorCode ? { code: record.errorCode, message: record.errorMessage ?? '' } : null,
  attachments,
  citations: record.citations,
  createdAt: record.createdAt,
});

/** A title from the first user message: its first words, whitespace collapsed, at most ~60 characters. */
export function titleFrom(content: string): string {
  const text = content.replace(/\s+/g, ' ').trim();
  if (text.length <= TITLE_LENGTH) return text || DEFAULT_TITLE;
  const cut = text.slice(0, TITLE_LENGTH);
  const space = cut.lastIndexOf(' ');
  return `${space > TITLE_LENGTH / 2 ? cut.slice(0, space) : cut}…`;
}

/**
 * The web UI's chat history, and replies produced through the gateway (so usage is recorded and
 * credentials resolve as on `/v1`). An answer is stored once it ends — complete, stopped by the
 * client (the partial text kept) or failed — whether or not the client is still there to see it.
 */
export class ConversationsService {
  readonly #repository: ConversationsRepository;
  readonly #gateway: ChatGateway;
  readonly #models: ChatModels;
  readonly #attachments: ChatAttachments;
  readonly #grounder: Grounder;
  readonly #assistants: AssistantDirectory;
  readonly #titles: Pick<ConversationTitles, 'generate'>;
  readonly #tokenBudget: number;
  readonly #logger: Logger;
  /** Replies still streaming or being stored: `close()` waits for them. */
  readonly #inFlight = new Set<Promise<void>>();

  constructor(deps: {
    repository: ConversationsRepository;
    gateway: ChatGateway;
    models: ChatModels;
    attachments: ChatAttachments;
    /** Retrieval from knowledge bases and attached documents, before each answer. */
    grounder: Grounder;
    /** The assistants a caller may give a conversation (the library's). */
    assistants: AssistantDirectory;
    /** Names a conversation after its first exchange (when the user has a title model). */
    titles: Pick<ConversationTitles, 'generate'>;
    /** The most tokens of retrieved context per answer (`KEYWAY_RETRIEVAL_TOKEN_BUDGET`). */
    tokenBudget: number;
    logger: Logger;
  }) {
    this.#repository = deps.repository;
    this.#gateway = deps.gateway;
    this.#models = deps.models;
    this.#attachments = deps.attachments;
    this.#grounder = deps.grounder;
    this.#assistants = deps.assistants;
    this.#titles = deps.titles;
    this.#tokenBudget = deps.tokenBudget;
    this.#logger = deps.logger;
  }

  /** Pinned first, then most recently active; archived ones only when asked for. */
  async list(
    actor: Principal,
    options: {
      search?: string | undefined;
      folderId?: string | undefined;
      archived?: ArchivedFilter | undefined;
      limit: number;
    },
  ): Promise<ConversationView[]> {
    const search = options.search?.trim();
    const records = await this.#repository.list(actor.userId, {
      limit: options.limit,
      ...(search ? { search } : {}),
      ...(options.folderId !== undefined ? { folderId: options.folderId } : {}),
      ...(options.archived !== undefined ? { archived: options.archived } : {}),
    });
    return records.map(toConversationView);
  }

  /**
   * Files and knowledge bases attached here are used for every message; another user's file,
   * knowledge base, folder or assistant is `not_found` (nothing is created).
   */
  async create(actor: Principal, input: ConversationInput & { model: string }): Promise<ConversationView> {
    const attached = await this.#attachments.check(actor, input);
    const placed = await this.#checkedChanges(actor, input);
    const title = input.title?.trim();
    const created = await this.#repository.insert(
      actor.userId,
      {
        id: randomUUID(),
        title: title || DEFAULT_TITLE,
        titleSource: title ? 'user' : 'auto',
        model: input.model,
      },
      { fileIds: attached.fileIds, knowledgeBaseIds: attached.knowledgeBaseIds },
    );
    if (Object.keys(placed).length === 0) return toConversationView(created);
    const updated = await this.#repository.update(actor.userId, created.id, placed);
    if (!updated) throw notFound();
    return toConversationView(updated);
  }

  async get(actor: Principal, id: string): Promise<ConversationWithMessages> {
    return this.#withMessages(actor, await this.#find(actor, id));
  }

  async update(actor: Principal, id: string, changes: ConversationInput): Promise<ConversationView> {
    if (!isUuid(id)) throw notFound();
    // The conversation first: another user's conversation is not found whatever is attached.
    const conversation = await this.#find(actor, id);
    const replacing = changes.fileIds !== undefined || changes.knowledgeBaseIds !== undefined;
    // Only the lists given are checked and replaced; the other stays as it is.
    const checked = replacing ? await this.#attachments.check(actor, changes) : null;
    const placed = await this.#checkedChanges(actor, changes);
    const updated = await this.#repository.update(actor.userId, id, {
      ...placed,
      ...(changes.title !== undefined
        ? // A title a person gives (even the default) is theirs: a generated one never replaces it.
          { title: { text: changes.title.trim() || DEFAULT_TITLE, source: 'user' } }
        : {}),
      ...(changes.model !== undefined ? { model: changes.model } : {}),
      ...(checked
        ? {
            attachments: {
              fileIds: changes.fileIds !== undefined ? checked.fileIds : conversation.fileIds,
              knowledgeBaseIds:
                changes.knowledgeBaseIds !== undefined
                  ? checked.knowledgeBaseIds
                  : conversation.knowledgeBaseIds,
            },
          }
        : {}),
    });
    if (!updated) throw notFound();
    return toConversationView(updated);
  }

  /**
   * Shows the branch through `messageId`, down to the newest message under it (the end of its
   * newest branch).
   */
  async showBranch(actor: Principal, id: string, messageId: string): Promise<ConversationWithMessages> {
    const conversation = await this.#find(actor, id);
    const messages = await this.#repository.messages(actor.userId, id);
    if (!isUuid(messageId) || !messages.some((message) => message.id === messageId))
      throw messageNotFound('messageId');
    const leaf = newestLeafUnder(messages, messageId);
    if (!(await this.#repository.showBranch(actor.userId, id, leaf))) throw notFound();
    return this.#withMessages(actor, { ...conversation, currentLeafId: leaf });
  }

  /**
   * Deletes a message and every reply under it. When the branch on show went through it, the
   * newest remaining branch is shown.
   */
  async deleteMessage(actor: Principal, id: string, messageId: string): Promise<void> {
    const conversation = await this.#find(actor, id);
    const messages = await this.#repository.messages(actor.userId, id);
    if (!isUuid(messageId) || !messages.some((message) => message.id === messageId))
      throw messageNotFound('messageId');
    const gone = new Set(subtreeOf(messages, messageId).map((message) => message.id));
    const shown = branchTo(messages, conversation.currentLeafId).at(-1)?.id ?? null;
    const leaf = shown !== null && !gone.has(shown) ? shown : null;
    if (!(await this.#repository.deleteMessage(actor.userId, id, messageId, leaf)))
      throw messageNotFound('messageId');
  }

  /** Folder, pin, archive, assistant and settings changes, the folder and assistant checked for the caller. */
  async #checkedChanges(actor: Principal, input: ConversationInput): Promise<ConversationChanges> {
    if (typeof input.folderId === 'string') {
      if (!isUuid(input.folderId) || !(await this.#repository.ownsFolder(actor.userId, input.folderId)))
        throw new KeywayError('not_found', 'No such folder.', { details: { field: 'folderId' } });
    }
    if (typeof input.assistantId === 'string') await this.#assistant(actor, input.assistantId);
    return {
      ...(input.folderId !== undefined ? { folderId: input.folderId } : {}),
      ...(input.pinned !== undefined ? { pinned: input.pinned } : {}),
      ...(input.archived !== undefined ? { archived: input.archived } : {}),
      ...(input.assistantId !== undefined ? { assistantId: input.assistantId } : {}),
      ...(input.settings !== undefined ? { settings: input.settings } : {}),
    };
  }

  /** An assistant the caller may use; `not_found` (naming the field) otherwise. */
  async #assistant(actor: Principal, assistantId: string): Promise<AssistantProfile> {
    if (isUuid(assistantId)) {
      try {
        return await this.#assistants.byId(actor, assistantId);
      } catch (error) {
        if (!(error instanceof KeywayError) || error.code !== 'not_found') throw error;
      }
    }
    throw new KeywayError('not_found', 'No such assistant.', { details: { field: 'assistantId' } });
  }

  /** The conversation with the messages of its branch on show, each with its siblings and attachments. */
  async #withMessages(actor: Principal, conversation: ConversationRecord): Promise<ConversationWithMessages> {
    const [messages, attached] = await Promise.all([
      this.#repository.messages(actor.userId, conversation.id),
      this.#repository.attachments(actor.userId, conversation.id),
    ]);
    const siblings = siblingsOf(messages);
    return {
      ...toConversationView(conversation),
      messages: branchTo(messages, conversation.currentLeafId).map((message) =>
        toMessageView(message, siblings.get(message.id)!, attachmentsOf(attached, message.id)),
      ),
    };
  }

  async delete(actor: Principal, id: string): Promise<void> {
    if (!isUuid(id) || !(await this.#repository.delete(actor.userId, id))) throw notFound();
  }

  models(actor: Principal): Promise<ModelOption[]> {
    return this.#models.list(actor);
  }

  /**
   * Sends a message (or regenerates the last answer) and returns the reply as a stream of events.
   * Everything that can be refused — bad input, an unknown conversation, message, file or knowledge
   * base, a model the caller cannot use or that cannot read the attached images — is refused here,
   * before anything is changed. Retrieval runs here too, so a knowledge base the caller may not read
   * is a plain 404; any other retrieval failure keeps the user's message and fails the answer. Once
   * the stream is returned, failures are events and the answer is stored with its status.
   */
  async reply(
    actor: Principal,
    id: string,
    input: ReplyInput,
    options: { signal?: AbortSignal; log?: Logger } = {},
  ): Promise<ReadableStream<ChatEvent>> {
    const content = input.content;
    const conversation = await this.#find(actor, id);
    let [all, attached] = await Promise.all([
      this.#repository.messages(actor.userId, id),
      this.#repository.attachments(actor.userId, id),
    ]);
    // The branch the new message continues: only this path goes to the model.
    const history = replyBranch(all, conversation.currentLeafId, input);
    const assistant =
      conversation.assistantId !== null ? await this.#assistant(actor, conversation.assistantId) : null;
    const settings = effectiveSettings(conversation.settings, assistant);
    const model = input.model ?? assistant?.model ?? conversation.model;
    // Before anything changes: a model the caller cannot use is a plain 4xx, nothing is stored.
    await this.#models.check(actor, model);
    const log = options.log ?? this.#logger;

    // The message being answered: the new one, or (regenerating) the branch's last, with its attachments.
    const newId = randomUUID();
    if (!input.regenerate) {
      const checked = await this.#attachments.check(actor, input.attachments);
      attached = [...attached, ...asRecords(checked, newId)];
    }
    const parentId = history.at(-1)?.id ?? null;
    const asked = input.regenerate
      ? history.at(-1)!
      : { id: newId, role: 'user' as const, content: content!, status: 'complete' as const };
    const said: PromptMessage[] = [...history, ...(input.regenerate ? [] : [asked])].map((message) => ({
      role: message.role,
      content: message.content,
      status: message.status,
      // The conversation's own images go with the message being answered.
      imageIds: [...imagesOf(attached, message.id), ...(message === asked ? imagesOf(attached, null) : [])],
    }));
    const window = { messages: settings.contextMessages, tokens: settings.contextTokens };
    const images = await this.#attachments.imageUrls(
      actor,
      said.flatMap((message) => message.imageIds),
    );
    const request: ChatRequest = {
      model,
      messages: promptMessages(said, { context: null, images, system: settings.system, window }),
      stream: true,
      stream_options: { include_usage: true },
      ...(settings.temperature !== null ? { temperature: settings.temperature } : {}),
      ...(settings.maxTokens !== null ? { max_tokens: settings.maxTokens } : {}),
    };
    if (images.size > 0) await this.#gateway.refuseImagesWithoutVision(actor, request);

    const grounded = await this.#ground(actor, {
      knowledgeBaseIds: await this.#attachments.readableKnowledgeBases(
        actor,
        union(
          union(knowledgeBasesOf(attached, null), knowledgeBasesOf(attached, asked.id)),
          assistant?.knowledgeBaseIds ?? [],
        ),
      ),
      fileIds: union(documentsOf(attached, null), documentsOf(attached, asked.id)),
      question: asked.content,
      ...(options.signal ? { signal: options.signal } : {}),
      log,
    });
    if (grounded.grounding.context)
      request.messages = promptMessages(said, {
        context: grounded.grounding.context,
        images,
        system: settings.system,
        window,
      });

    if (input.model !== undefined && input.model !== conversation.model)
      await this.#repository.update(actor.userId, id, { model: input.model });
    let userMessage: MessageView | undefined;
    const isFirst = all.length === 0;
    if (!input.regenerate) {
      const own = attachmentsOf(attached, newId);
      const stored = await this.#repository.append(
        actor.userId,
        id,
        { id: newId, parentId, role: 'user', content: content!, model },
        {
          ...(conversation.titleSource === 'auto' && conversation.title === DEFAULT_TITLE && isFirst
            ? { title: titleFrom(content!) }
            : {}),
          attachments: {
            fileIds: own.files.map((file) => file.id),
            knowledgeBaseIds: own.knowledgeBases.map((base) => base.id),
          },
        },
      );
      if (!stored) throw notFound();
      all = [...all, stored];
      userMessage = toMessageView(stored, siblingsOf(all).get(stored.id)!, own);
    }
    const answering = {
      parentId: asked.id,
      // The answer's siblings: the answers already given to the same message, then it.
      siblingIds: all.filter((message) => message.parentId === asked.id).map((message) => message.id),
      // Named after the first exchange (the first complete answer: a failed one is answered again),
      // when the user has a title model and did not name the conversation.
      titleFrom:
        conversation.titleSource === 'auto' &&
        !all.some((message) => message.role === 'assistant' && message.status === 'complete')
          ? asked.content
          : null,
    };

    const abort = new AbortController();
    const onAbort = () => abort.abort();
    if (options.signal?.aborted) abort.abort();
    else options.signal?.addEventListener('abort', onAbort, { once: true });

    let output: ReadableStreamDefaultController<ChatEvent> | undefined;
    let open = true;
    const emit = (event: ChatEvent) => {
      if (!open || !output) return;
      try {
        output.enqueue(event);
      } catch {
        open = false;
      }
    };
    const stream = new ReadableStream<ChatEvent>({
      start: (controller) => {
        output = controller;
        if (userMessage) controller.enqueue({ type: 'user', message: userMessage });
      },
      cancel: () => {
        // The client went away: the answer stops, and what arrived so far is still stored.
        open = false;
        abort.abort();
      },
    });
    const work = this.#answer({
      actor,
      conversationId: id,
      answering,
      model,
      request,
      grounded,
      abort,
      emit,
      log,
    })
      .catch((error: unknown) => {
        log.error({ err: error }, 'could not finish a chat reply');
        emit({
          type: 'error',
          code: 'internal_error',
          message: 'Something went wrong on our side while answering. Try again.',
        });
      })
      .finally(() => {
        options.signal?.removeEventListener('abort', onAbort);
        if (open) {
          open = false;
          output?.close();
        }
        this.#inFlight.delete(work);
      });
    this.#inFlight.add(work);
    return stream;
  }

  /**
   * Retrieval for one answer (nothing to do without knowledge bases or documents). `not_found` — a
   * knowledge base or file the caller may not read — is thrown (a 404, nothing stored); any other
   * failure is returned, to fail the answer while keeping the user's message.
   */
  async #ground(
    actor: Principal,
    request: {
      knowledgeBaseIds: string[];
      fileIds: string[];
      question: string;
      signal?: AbortSignal;
      log: Logger;
    },
  ): Promise<Grounded> {
    const { signal, log, ...sources } = request;
    if (sources.knowledgeBaseIds.length === 0 && sources.fileIds.length === 0)
      return { grounding: NOTHING_RETRIEVED, failure: null };
    try {
      const grounding = await this.#grounder.ground(
        actor,
        { ...sources, tokenBudget: this.#tokenBudget },
        { ...(signal ? { signal } : {}), log },
      );
      return { grounding, failure: null };
    } catch (error) {
      if (error instanceof KeywayError && error.code === 'not_found') throw error;
      if (signal?.aborted) throw new KeywayError('client_closed', 'The client closed the request.');
      // Keyway's own refusals (an unreadable file, a limit) say what happened; a provider's are reworded.
      const failure =
        error instanceof KeywayError &&
        !(error instanceof ProviderFailure) &&
        error.code !== 'secret_unreadable' &&
        error.code !== 'access_revoked'
          ? { code: error.code, message: error.message, ...(error.details ? { details: error.details } : {}) }
          : describeFailure(error);
      if (failure.code === 'internal_error') log.error({ err: error }, 'chat retrieval failed');
      return {
        grounding: NOTHING_RETRIEVED,
        failure: { ...failure, message: `Could not search the attached documents: ${failure.message}` },
      };
    }
  }

  /** Waits for the replies still being answered or stored (graceful shutdown). */
  async close(): Promise<void> {
    await Promise.allSettled([...this.#inFlight]);
  }

  async #answer(reply: {
    actor: Principal;
    conversationId: string;
    answering: { parentId: string; siblingIds: string[]; titleFrom: string | null };
    model: string;
    request: ChatRequest;
    grounded: Grounded;
    abort: AbortController;
    emit: (event: ChatEvent) => void;
    log: Logger;
  }): Promise<void> {
    const { abort, emit } = reply;
    const answered = reply.grounded.failure
      ? { text: '', failure: reply.grounded.failure }
      : await this.#stream(reply);
    const { text, failure } = answered;
    const status = failure ? 'failed' : abort.signal.aborted ? 'stopped' : 'complete';
    const stored = await this.#repository.append(reply.actor.userId, reply.conversationId, {
      id: randomUUID(),
      parentId: reply.answering.parentId,
      role: 'assistant',
      content: text,
      model: reply.model,
      status,
      errorCode: failure?.code ?? null,
      errorMessage: failure?.message ?? null,
      // What the answer was given to read (a stopped answer cites as far as it got).
      citations: failure ? [] : reply.grounded.grounding.citations,
    });
    if (failure) emit({ type: 'error', ...failure, ...(stored ? { messageId: stored.id } : {}) });
    else if (stored) {
      const ids = [...reply.answering.siblingIds, stored.id];
      emit({ type: 'done', message: toMessageView(stored, { ids, index: ids.length - 1 }) });
    } else
      emit({ type: 'error', code: 'not_found', message: 'The conversation was deleted while answering.' });
    // After the answer is out: the title is named in the background (close() waits for it too).
    if (stored && status === 'complete' && reply.answering.titleFrom !== null && text.trim() !== '')
      this.#track(
        this.#titles.generate(
          reply.actor,
          reply.conversationId,
          { question: reply.answering.titleFrom, answer: text },
          reply.log,
        ),
      );
  }

  /** Keeps background work in sight of `close()` until it settles. */
  #track(work: Promise<void>): void {
    const tracked = work.catch(() => {}).finally(() => this.#inFlight.delete(tracked));
    this.#inFlight.add(tracked);
  }

  /** Streams the model's answer as delta events; what arrived, and why it failed (null: it did not). */
  async #stream(reply: {
    actor: Principal;
    request: ChatRequest;
    abort: AbortController;
    emit: (event: ChatEvent) => void;
    log: Logger;
  }): Promise<{ text: string; failure: Failure | null }> {
    const { abort, emit } = reply;
    let text = '';
    try {
      const result = await this.#gateway.complete(reply.actor, reply.request, {
        startedAt: performance.now(),
        signal: abort.signal,
        fallbackModels: [],
        log: reply.log,
      });
      if (result.kind !== 'stream') throw new Error('the gateway answered a streaming request whole');
      // Typed chunks, the key already scrubbed (also across chunks); NUL is dropped here because
      // PostgreSQL text cannot hold it. Leaving the loop early (a stop) stops the provider.
      for await (const chunk of result.chunks()) {
        if (abort.signal.aborted) break;
        const piece = chunk.choices[0]?.delta.content;
        if (typeof piece !== 'string' || piece === '') continue;
        const clean = withoutNul(piece);
        if (!clean) continue;
        text += clean;
        emit({ type: 'delta', text: clean });
      }
    } catch (error) {
      if (!abort.signal.aborted) {
        const failure = describeFailure(error);
        if (failure.code === 'internal_error') reply.log.error({ err: error }, 'chat reply failed');
        return { text, failure };
      }
    }
    return { text, failure: null };
  }

  async #find(actor: Principal, id: string): Promise<ConversationRecord> {
    const conversation = isUuid(id) ? await this.#repository.find(actor.userId, id) : undefined;
    if (!conversation) throw notFound();
    return conversation;
  }
}

/** What retrieval gave an answer, or why it failed. */
interface Grounded {
  grounding: Grounding;
  failure: Failure | null;
}

const NOTHING_RETRIEVED: Grounding = Object.freeze({ context: null, citations: [] });

/** Both lists' ids, once each, in order. */
const union = (first: string[], second: string[]) => [...new Set([...first, ...second])];

const notFound = () => new KeywayError('not_found', 'No such conversation.');

const messageNotFound = (field: string) =>
  new KeywayError('not_found', 'No such message in this conversation.', { details: { field } });
