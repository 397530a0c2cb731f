import { sql, type Kysely, type Transaction } from 'kysely';
import type { ChatMessageStatus, ChatRole, DB, FileKind } from '../db/tables.ts';
import type { Citation } from '../knowledge/grounding.ts';
import type { ChatSettings } from './chat-settings.ts';
import { conversationMatches } from './conversation-search.ts';

/** Files and knowledge bases attached to a conversation or a message, by id. */
export interface AttachmentIds {
  fileIds: string[];
  knowledgeBaseIds: string[];
}

export type TitleSource = 'auto' | 'generated' | 'user';

export interface ConversationRecord extends AttachmentIds {
  id: string;
  title: string;
  model: string;
  folderId: string | null;
  pinned: boolean;
  archivedAt: Date | null;
  assistantId: string | null;
  titleSource: TitleSource;
  settings: ChatSettings;
  /** The end of the branch on show (null, or deleted since: the newest message's branch). */
  currentLeafId: string | null;
  createdAt: Date;
  updatedAt: Date;
}

/** What a PATCH may change; `settings` fields given replace the stored ones (null clears). */
export interface ConversationChanges {
  title?: { text: string; source: TitleSource };
  model?: string;
  attachments?: AttachmentIds;
  folderId?: string | null;
  pinned?: boolean;
  archived?: boolean;
  assistantId?: string | null;
  settings?: Partial<ChatSettings>;
}

/** Which conversations a list shows by archive state. */
export type ArchivedFilter = 'false' | 'true' | 'all';

/** One attachment that still exists (a deleted file or knowledge base leaves none: its rows cascade). */
export type AttachmentRecord = { messageId: string | null } & (
  | { type: 'file'; id: string; name: string; mediaType: string; kind: FileKind }
  | { type: 'knowledge_base'; id: string; name: string }
);

export interface MessageRecord {
  id: string;
  parentId: string | null;
  role: ChatRole;
  content: string;
  model: string;
  status: ChatMessageStatus;
  errorCode: string | null;
  errorMessage: string | null;
  citations: Citation[];
  createdAt: Date;
}

export interface NewMessage {
  id: string;
  /** The message it answers or follows (null: a first message). */
  parentId: string | null;
  role: ChatRole;
  content: string;
  model: string;
  status?: ChatMessageStatus;
  errorCode?: string | null;
  errorMessage?: string | null;
  citations?: Citation[];
}

/** The conversation's own attachments of one kind, in the order they were attached. */
const attachedIds = (column: 'file_id' | 'knowledge_base_id', as: keyof AttachmentIds) =>
  sql<string[]>`coalesce((
    SELECT array_agg(a.${sql.ref(column)}::text ORDER BY a.id) FROM chat_attachments a
    WHERE a.conversation_id = c.id AND a.message_id IS NULL AND a.${sql.ref(column)} IS NOT NULL
  ), '{}'::text[])`.as(as);

const CONVERSATION_COLUMNS = [
  'c.id',
  'c.title',
  'c.model',
  'c.folder_id as folderId',
  'c.pinned',
  'c.archived_at as archivedAt',
  'c.assistant_id as assistantId',
  'c.title_source as titleSource',
  'c.system_prompt as systemPrompt',
  'c.temperature',
  'c.max_tokens as maxTokens',
  'c.context_messages as contextMessages',
  'c.context_tokens as contextTokens',
  'c.current_leaf_id as currentLeafId',
  attachedIds('file_id', 'fileIds'),
  attachedIds('knowledge_base_id', 'knowledgeBaseIds'),
  'c.created_at as createdAt',
  'c.updated_at as updatedAt',
] as const;

/** A row of CONVERSATION_COLUMNS as a record: the settings grouped. */
const toConversation = ({
  systemPrompt,
  temperature,
  maxTokens,
  contextMessages,
  contextTokens,
  titleSource,
  ...row
}: {
  systemPrompt: string | null;
  temperature: number | null;
  maxTokens: number | null;
  contextMessages: number | null;
  contextTokens: number | null;
  titleSource: string;
} & Omit<ConversationRecord, 'settings' | 'titleSource'>): ConversationRecord => ({
  ...row,
  // The column's CHECK allows only these.
  titleSource: titleSource as TitleSource,
  settings: { systemPrompt, temperature, maxTokens, contextMessages, contextTokens },
});

/** Settings as columns: only the fields given. */
const settingsColumns = (settings: Partial<ChatSettings>) => ({
  ...(settings.systemPrompt !== undefined ? { system_prompt: settings.systemPrompt } : {}),
  ...(settings.temperature !== undefined ? { temperature: settings.temperature } : {}),
  ...(settings.maxTokens !== undefined ? { max_tokens: settings.maxTokens } : {}),
  ...(settings.contextMessages !== undefined ? { context_messages: settings.contextMessages } : {}),
  ...(settings.contextTokens !== undefined ? { context_tokens: settings.contextTokens } : {}),
});

const MESSAGE_COLUMNS = [
  'm.id',
  'm.parent_id as parentId',
  'm.role',
  'm.content',
  'm.model',
  'm.status',
  'm.error_code as errorCode',
  'm.error_message as errorMessage',
  'm.citations',
  'm.created_at as createdAt',
] as const;

/** The same columns, unqualified, for RETURNING. */
const RETURNED_MESSAGE = [
  'id',
  'parent_id as parentId',
  'role',
  'content',
  'model',
  'status',
  'error_code as errorCode',
  'error_message as errorMessage',
  'citations',
  'created_at as createdAt',
] as const;

/**
 * Chat conversations and their messages. Every method takes the owner's id and every query is
 * scoped by it: another user's conversation is simply not found.
 */
export class ConversationsRepository {
  readonly #db: Kysely<DB>;

  constructor(db: Kysely<DB>) {
    this.#db = db;
  }

  /** Inserts a conversation with its attachments, in one transaction. */
  async insert(
    ownerId: string,
    conversation: { id: string; title: string; titleSource: TitleSource; model: string },
    attachments: AttachmentIds,
  ): Promise<ConversationRecord> {
    return this.#db.transaction().execute(async (trx) => {
      await trx
        .insertInto('chat_conversations')
        .values({
          id: conversation.id,
          title: conversation.title,
          title_source: conversation.titleSource,
          model: conversation.model,
          owner_id: ownerId,
        })
        .execute();
      await attach(trx, conversation.id, null, attachments);
      return (await findConversation(trx, ownerId, conversation.id))!;
    });
  }

  /**
   * The owner's conversations, pinned first, then most recently active; `search` matches titles and
   * message text, `folderId` keeps one folder's, `archived` (default 'false') hides or shows archived ones.
   */
  async list(
    ownerId: string,
    options: { search?: string; folderId?: string; archived?: ArchivedFilter; limit: number },
  ): Promise<ConversationRecord[]> {
    let query = this.#db
      .selectFrom('chat_conversations as c')
      .select(CONVERSATION_COLUMNS)
      .where('c.owner_id', '=', ownerId);
    if (options.search) {
      const search = options.search;
      query = query.where((eb) => conversationMatches(eb, search));
    }
    if (options.folderId !== undefined) query = query.where('c.folder_id', '=', options.folderId);
    const archived = options.archived ?? 'false';
    if (archived === 'false') query = query.where('c.archived_at', 'is', null);
    if (archived === 'true') query = query.where('c.archived_at', 'is not', null);
    const rows = await query
      .orderBy('c.pinned', 'desc')
      .orderBy('c.updated_at', 'desc')
      .orderBy('c.id')
      .limit(options.limit)
      .execute();
    return rows.map(toConversation);
  }

  async find(ownerId: string, id: string): Promise<ConversationRecord | undefined> {
    return findConversation(this.#db, ownerId, id);
  }

  /** Whether the folder is the owner's (another user's folder is not a place to file a conversation). */
  async ownsFolder(ownerId: string, folderId: string): Promise<boolean> {
    const row = await this.#db
      .selectFrom('chat_folders')
      .select('id')
      .where('id', '=', folderId)
      .where('owner_id', '=', ownerId)
      .executeTakeFirst();
    return row !== undefined;
  }

  /**
   * Changes what is given (attachments replaced whole) and, unless only its place changed (folder,
   * pin, archive), marks it active; undefined when it is not the owner's.
   */
  async update(
    ownerId: string,
    id: string,
    changes: ConversationChanges,
  ): Promise<ConversationRecord | undefined> {
    const { folderId, pinned, archived, ...content } = changes;
    const active = Object.values(content).some((value) => value !== undefined);
    return this.#db.transaction().execute(async (trx) => {
      const touched = await trx
        .updateTable('chat_conversations')
        .set({
          ...(changes.title !== undefined
            ? { title: changes.title.text, title_source: changes.title.source }
            : {}),
          ...(changes.model !== undefined ? { model: changes.model } : {}),
          ...(folderId !== undefined ? { folder_id: folderId } : {}),
          ...(pinned !== undefined ? { pinned } : {}),
          ...(archived !== undefined ? { archived_at: archived ? new Date() : null } : {}),
          ...(changes.assistantId !== undefined ? { assistant_id: changes.assistantId } : {}),
          ...(changes.settings ? settingsColumns(changes.settings) : {}),
          ...(active ? { updated_at: new Date() } : {}),
        })
        .where('id', '=', id)
        .where('owner_id', '=', ownerId)
        .executeTakeFirst();
      if (touched.numUpdatedRows === 0n) return undefined;
      if (changes.attachments) {
        await trx
          .deleteFrom('chat_attachments')
          .where('conversation_id', '=', id)
          .where('message_id', 'is', null)
          .execute();
        await attach(trx, id, null, changes.attachments);
      }
      return findConversation(trx, ownerId, id);
    });
  }

  /** Deletes the conversation and (by cascade) its messages; false when it is not the owner's. */
  async delete(ownerId: string, id: string): Promise<boolean> {
    const result = await this.#db
      .deleteFrom('chat_conversations')
      .where('id', '=', id)
      .where('owner_id', '=', ownerId)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  async messages(ownerId: string, conversationId: string): Promise<MessageRecord[]> {
    const rows = await this.#db
      .selectFrom('chat_messages as m')
      .innerJoin('chat_conversations as c', 'c.id', 'm.conversation_id')
      .select(MESSAGE_COLUMNS)
      .where('m.conversation_id', '=', conversationId)
      .where('c.owner_id', '=', ownerId)
      .orderBy('m.seq')
      .execute();
    // Written only by `append`, from the grounder's `Citation[]`.
    return rows.map((row) => ({ ...row, citations: row.citations as Citation[] }));
  }

  /**
   * What is still attached to the conversation and to each of its messages (`messageId` null: the
   * conversation's own), in the order attached.
   */
  async attachments(ownerId: string, conversationId: string): Promise<AttachmentRecord[]> {
    const rows = await this.#db
      .selectFrom('chat_attachments as a')
      .innerJoin('chat_conversations as c', 'c.id', 'a.conversation_id')
      .leftJoin('files as f', 'f.id', 'a.file_id')
      .leftJoin('knowledge_bases as k', 'k.id', 'a.knowledge_base_id')
      .select([
        'a.message_id as messageId',
        'a.file_id as fileId',
        'f.name as fileName',
        'f.media_type as mediaType',
        'f.kind',
        'a.knowledge_base_id as knowledgeBaseId',
        'k.name as knowledgeBaseName',
      ])
      .where('a.conversation_id', '=', conversationId)
      .where('c.owner_id', '=', ownerId)
      .orderBy('a.id')
      .execute();
    return rows.flatMap((row): AttachmentRecord[] => {
      if (row.fileId && row.fileName && row.mediaType && row.kind)
        return [
          {
            messageId: row.messageId,
            type: 'file',
            id: row.fileId,
            name: row.fileName,
            mediaType: row.mediaType,
            kind: row.kind,
          },
        ];
      if (row.knowledgeBaseId && row.knowledgeBaseName)
        return [
          {
            messageId: row.messageId,
            type: 'knowledge_base',
            id: row.knowledgeBaseId,
            name: row.knowledgeBaseName,
          },
        ];
      return [];
    });
  }

  /**
   * Deletes one message and (by cascade) every reply under it, and moves the branch on show to
   * `leafId` (null: the newest remaining message's); false when the message is not in this
   * conversation of this owner.
   */
  async deleteMessage(
    ownerId: string,
    conversationId: string,
    messageId: string,
    leafId: string | null,
  ): Promise<boolean> {
    return this.#db.transaction().execute(async (trx) => {
      const result = await trx
        .deleteFrom('chat_messages')
        .where('id', '=', messageId)
        .where('conversation_id', '=', conversationId)
        .where('conversation_id', 'in', (eb) =>
          eb.selectFrom('chat_conversations').select('id').where('owner_id', '=', ownerId),
        )
        .executeTakeFirst();
      if (result.numDeletedRows === 0n) return false;
      await trx
        .updateTable('chat_conversations')
        .set({ current_leaf_id: leafId })
        .where('id', '=', conversationId)
        .where('owner_id', '=', ownerId)
        .execute();
      return true;
    });
  }

  /** Shows the branch ending at `leafId`; false when the conversation is not the owner's. */
  async showBranch(ownerId: string, conversationId: string, leafId: string): Promise<boolean> {
    const result = await this.#db
      .updateTable('chat_conversations')
      .set({ current_leaf_id: leafId })
      .where('id', '=', conversationId)
      .where('owner_id', '=', ownerId)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  /**
   * Stores a generated title unless a person named the conversation meanwhile (or it is gone);
   * says whether it did.
   */
  async setGeneratedTitle(ownerId: string, conversationId: string, title: string): Promise<boolean> {
    const result = await this.#db
      .updateTable('chat_conversations')
      .set({ title, title_source: 'generated' })
      .where('id', '=', conversationId)
      .where('owner_id', '=', ownerId)
      .where('title_source', '=', 'auto')
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  /**
   * Appends a message (with what is attached to it), makes it the end of the branch on show and marks
   * the conversation active, in one transaction; undefined when the conversation is not the owner's
   * (or was deleted meanwhile, or the message it follows was).
   */
  async append(
    ownerId: string,
    conversationId: string,
    message: NewMessage,
    options: { title?: string; attachments?: AttachmentIds } = {},
  ): Promise<MessageRecord | undefined> {
    try {
      return await this.#appendIn(ownerId, conversationId, message, options);
    } catch (error) {
      // The message it follows was deleted meanwhile (its foreign key): as gone as the conversation.
      if (isForeignKeyViolation(error)) return undefined;
      throw error;
    }
  }

  async #appendIn(
    ownerId: string,
    conversationId: string,
    message: NewMessage,
    options: { title?: string; attachments?: AttachmentIds },
  ): Promise<MessageRecord | undefined> {
    return this.#db.transaction().execute(async (trx) => {
      const touched = await trx
        .updateTable('chat_conversations')
        .set({
          updated_at: new Date(),
          current_leaf_id: message.id,
          ...(options.title !== undefined ? { title: options.title } : {}),
        })
        .where('id', '=', conversationId)
        .where('owner_id', '=', ownerId)
        .executeTakeFirst();
      if (touched.numUpdatedRows === 0n) return undefined;
      const stored = await trx
        .insertInto('chat_messages')
        .values({
          id: message.id,
          parent_id: message.parentId,
          conversation_id: conversationId,
          role: message.role,
          content: message.content,
          model: message.model,
          status: message.status ?? 'complete',
          error_code: message.errorCode ?? null,
          error_message: message.errorMessage ?? null,
          citations: JSON.stringify(message.citations ?? []),
        })
        .returning(RETURNED_MESSAGE)
        .executeTakeFirstOrThrow();
      if (options.attachments) await attach(trx, conversationId, message.id, options.attachments);
      return { ...stored, citations: stored.citations as Citation[] };
    });
  }
}

/** SQLSTATE 23503, on either backend. */
const isForeignKeyViolation = (error: unknown) =>
  typeof error === 'object' && error !== null && (error as { code?: unknown }).code === '23503';

async function findConversation(
  db: Kysely<DB> | Transaction<DB>,
  ownerId: string,
  id: string,
): Promise<ConversationRecord | undefined> {
  const row = await db
    .selectFrom('chat_conversations as c')
    .select(CONVERSATION_COLUMNS)
    .where('c.id', '=', id)
    .where('c.owner_id', '=', ownerId)
    .executeTakeFirst();
  return row && toConversation(row);
}

/** Attachment rows for a conversation (`messageId` null) or one of its messages. */
async function attach(
  trx: Transaction<DB>,
  conversationId: string,
  messageId: string | null,
  ids: AttachmentIds,
): Promise<void> {
  const rows = [
    ...ids.fileIds.map((fileId) => ({ file_id: fileId, knowledge_base_id: null })),
    ...ids.knowledgeBaseIds.map((kbId) => ({ file_id: null, knowledge_base_id: kbId })),
  ].map((row) => ({ ...row, conversation_id: conversationId, message_id: messageId }));
  if (rows.length > 0) await trx.insertInto('chat_attachments').values(rows).execute();
}
