import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Principal } from '../auth/principal.ts';
import { KeywayError } from '../errors.ts';
import { isUuid } from '../ids.ts';
import { attachmentsOf, type AttachmentInput, type ChatAttachments } from './chat-attachments.ts';
import type { ChatModels, ModelOption } from './chat-models.ts';
import { ChatReplies, usableAssistant, type ChatRepliesDeps, type ReplyInput } from './chat-replies.ts';
import type { AssistantDirectory, ChatSettings } from './chat-settings.ts';
import {
  DEFAULT_TITLE,
  toConversationView,
  toMessageView,
  type ChatEvent,
  type ConversationView,
  type ConversationWithMessages,
} from './chat-views.ts';
import type {
  ArchivedFilter,
  ConversationChanges,
  ConversationRecord,
  ConversationsRepository,
} from './conversations.repository.ts';
import { branchTo, newestLeafUnder, siblingsOf, subtreeOf } from './message-tree.ts';

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

/**
 * The web UI's chat history, and replies produced through the gateway (so usage is recorded and
 * credentials resolve as on `/v1`). An answer is stored once it ends — complete, stopped by the
 * client (the partial text kept) or failed — whether or not the client is still there to see it.
 */
export class ConversationsService {
  readonly #repository: ConversationsRepository;
  readonly #models: ChatModels;
  readonly #attachments: ChatAttachments;
  readonly #assistants: AssistantDirectory;
  readonly #replies: ChatReplies;

  constructor(deps: ChatRepliesDeps) {
    this.#repository = deps.repository;
    this.#models = deps.models;
    this.#attachments = deps.attachments;
    this.#assistants = deps.assistants;
    this.#replies = new ChatReplies(deps);
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
    if (typeof input.assistantId === 'string')
      await usableAssistant(this.#assistants, actor, input.assistantId);
    return {
      ...(input.folderId !== undefined ? { folderId: input.folderId } : {}),
      ...(input.pinned !== undefined ? { pinned: input.pinned } : {}),
      ...(input.archived !== undefined ? { archived: input.archived } : {}),
      ...(input.assistantId !== undefined ? { assistantId: input.assistantId } : {}),
      ...(input.settings !== undefined ? { settings: input.settings } : {}),
    };
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
   * Sends a message (or regenerates an answer) and returns the reply as a stream of events; what can
   * be refused is refused before anything is stored ({@link ChatReplies.reply}).
   */
  reply(
    actor: Principal,
    id: string,
    input: ReplyInput,
    options: { signal?: AbortSignal; log?: Logger } = {},
  ): Promise<ReadableStream<ChatEvent>> {
    return this.#replies.reply(actor, id, input, options);
  }

  /** Waits for the replies still being answered or stored, and titles being named (graceful shutdown). */
  close(): Promise<void> {
    return this.#replies.close();
  }

  async #find(actor: Principal, id: string): Promise<ConversationRecord> {
    const conversation = isUuid(id) ? await this.#repository.find(actor.userId, id) : undefined;
    if (!conversation) throw notFound();
    return conversation;
  }
}

const notFound = () => new KeywayError('not_found', 'No such conversation.');

const messageNotFound = (field: string) =>
  new KeywayError('not_found', 'No such message in this conversation.', { details: { field } });
