import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Principal } from '../auth/principal.ts';
import { KeywayError } from '../errors.ts';
import { ProviderFailure } from '../gateway/provider-failure.ts';
import type { Completion } from '../gateway/gateway.service.ts';
import type { ChatRequest } from '../gateway/openai-types.ts';
import { withoutNul } from '../db/storable-text.ts';
import { isUuid } from '../ids.ts';
import type { Grounder, Grounding } from '../knowledge/grounding.ts';
import {
  asRecords,
  attachmentsOf,
  documentsOf,
  imagesOf,
  knowledgeBasesOf,
  type AttachmentInput,
  type ChatAttachments,
} from './chat-attachments.ts';
import { describeFailure, type Failure } from './chat-failures.ts';
import type { ChatModels } from './chat-models.ts';
import { promptMessages, type PromptMessage } from './chat-prompt.ts';
import type { AssistantDirectory, AssistantProfile } from './chat-settings.ts';
import { DEFAULT_TITLE, titleFrom, toMessageView, type ChatEvent, type MessageView } from './chat-views.ts';
import type { ConversationTitles } from './conversation-titles.ts';
import type { ConversationRecord, ConversationsRepository } from './conversations.repository.ts';
import { effectiveSettings } from './effective-settings.ts';
import { siblingsOf } from './message-tree.ts';
import { replyBranch } from './reply-branch.ts';

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

/** What a `ChatReplies` is built from (the conversations service passes its own). */
export interface ChatRepliesDeps {
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
}

/**
 * Answers in a conversation: the message sent, the branch it continues, retrieval, the model's reply
 * streamed as events and stored once it ends — complete, stopped by the client (the partial text
 * kept) or failed — whether or not the client is still there to see it; then, after the first
 * exchange, a generated title.
 */
export class ChatReplies {
  readonly #repository: ConversationsRepository;
  readonly #gateway: ChatGateway;
  readonly #models: ChatModels;
  readonly #attachments: ChatAttachments;
  readonly #grounder: Grounder;
  readonly #assistants: AssistantDirectory;
  readonly #titles: Pick<ConversationTitles, 'generate'>;
  readonly #tokenBudget: number;
  readonly #logger: Logger;
  /** Replies still streaming or being stored, and titles being named: `close()` waits for them. */
  readonly #inFlight = new Set<Promise<void>>();

  constructor(deps: ChatRepliesDeps) {
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
      if (!stored) throw new KeywayError('not_found', 'No such conversation.');
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
    if (!conversation) throw new KeywayError('not_found', 'No such conversation.');
    return conversation;
  }

  #assistant(actor: Principal, assistantId: string): Promise<AssistantProfile> {
    return usableAssistant(this.#assistants, actor, assistantId);
  }
}

/** An assistant the caller may use; `not_found` (naming the field) otherwise. */
export async function usableAssistant(
  assistants: AssistantDirectory,
  actor: Principal,
  assistantId: string,
): Promise<AssistantProfile> {
  if (isUuid(assistantId)) {
    try {
      return await assistants.byId(actor, assistantId);
    } catch (error) {
      if (!(error instanceof KeywayError) || error.code !== 'not_found') throw error;
    }
  }
  throw new KeywayError('not_found', 'No such assistant.', { details: { field: 'assistantId' } });
}

/** What retrieval gave an answer, or why it failed. */
interface Grounded {
  grounding: Grounding;
  failure: Failure | null;
}

const NOTHING_RETRIEVED: Grounding = Object.freeze({ context: null, citations: [] });

/** Both lists' ids, once each, in order. */
const union = (first: string[], second: string[]) => [...new Set([...first, ...second])];
