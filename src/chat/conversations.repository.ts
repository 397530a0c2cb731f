import { sql, type Kysely, type Transaction } from 'kysely';
import type { ChatMessageStatus, ChatRole, DB, FileKind } from '../db/tables.ts';
import type { Citation } from '../knowledge/grounding.ts';
import { conversationMatches } from './conversation-search.ts';

/** Files and knowledge bases attached to a conversation or a message, by id. */
export interface AttachmentIds {
  fileIds: string[];
  knowledgeBaseIds: string[];
}

export interface ConversationRecord extends AttachmentIds {
  id: string;
  title: string;
  model: string;
  createdAt: Date;
  updatedAt: Date;
}

/** One attachment that still exists (a deleted file or knowledge base leaves none: its rows cascade). */
export type AttachmentRecord = { messageId: string | null } & (
  | { type: 'file'; id: string; name: string; mediaType: string; kind: FileKind }
  | { type: 'knowledge_base'; id: string; name: string }
);

export interface MessageRecord {
  id: string;
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
  attachedIds('file_id', 'fileIds'),
  attachedIds('knowledge_base_id', 'knowledgeBaseIds'),
  'c.created_at as createdAt',
  'c.updated_at as updatedAt',
] as const;

const MESSAGE_COLUMNS = [
  'm.id',
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
    conversation: { id: string; title: string; model: string },
    attachments: AttachmentIds,
  ): Promise<ConversationRecord> {
    return this.#db.transaction().execute(async (trx) => {
      await trx
        .insertInto('chat_conversations')
        .values({ ...conversation, owner_id: ownerId })
        .execute();
      await attach(trx, conversation.id, null, attachments);
      return (await findConversation(trx, ownerId, conversation.id))!;
    });
  }

  /** The owner's conversations, most recently active first; `search` matches titles and message text. */
  async list(ownerId: string, options: { search?: string; limit: number }): Promise<ConversationRecord[]> {
    let query = this.#db
      .selectFrom('chat_conversations as c')
      .select(CONVERSATION_COLUMNS)
      .where('c.owner_id', '=', ownerId);
    if (options.search) {
      const search = options.search;
      query = query.where((eb) => conversationMatches(eb, search));
    }
    return query.orderBy('c.updated_at', 'desc').orderBy('c.id').limit(options.limit).execute();
  }

  async find(ownerId: string, id: string): Promise<ConversationRecord | undefined> {
    return findConversation(this.#db, ownerId, id);
  }

  /**
   * Changes title, model and/or the conversation's attachments (replaced whole) and marks it active;
   * undefined when it is not the owner's.
   */
  async update(
    ownerId: string,
    id: string,
    changes: { title?: string; model?: string; attachments?: AttachmentIds },
  ): Promise<ConversationRecord | undefined> {
    return this.#db.transaction().execute(async (trx) => {
      const touched = await trx
        .updateTable('chat_conversations')
        .set({
          ...(changes.title !== undefined ? { title: changes.title } : {}),
          ...(changes.model !== undefined ? { model: changes.model } : {}),
          updated_at: new Date(),
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
   * Deletes one message and every later one of the same conversation; false when the message is not
   * in this conversation of this owner.
   */
  async deleteFrom(ownerId: string, conversationId: string, messageId: string): Promise<boolean> {
    const result = await this.#db
      .deleteFrom('chat_messages')
      .where('conversation_id', '=', conversationId)
      .where('conversation_id', 'in', (eb) =>
        eb.selectFrom('chat_conversations').select('id').where('owner_id', '=', ownerId),
      )
      .where('seq', '>=', (eb) =>
        eb
          .selectFrom('chat_messages')
          .select('seq')
          .where('id', '=', messageId)
          .where('conversation_id', '=', conversationId),
      )
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  /** Deletes the given messages of this owner's conversation. */
  async deleteMessages(ownerId: string, conversationId: string, ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.#db
      .deleteFrom('chat_messages')
      .where('conversation_id', '=', conversationId)
      .where('id', 'in', ids)
      .where('conversation_id', 'in', (eb) =>
        eb.selectFrom('chat_conversations').select('id').where('owner_id', '=', ownerId),
      )
      .execute();
  }

  /**
   * Appends a message (with what is attached to it) and marks the conversation active, in one
   * transaction; undefined when the conversation is not the owner's (or was deleted meanwhile).
   */
  async append(
    ownerId: string,
    conversationId: string,
    message: NewMessage,
    options: { title?: string; attachments?: AttachmentIds } = {},
  ): Promise<MessageRecord | undefined> {
    return this.#db.transaction().execute(async (trx) => {
      const touched = await trx
        .updateTable('chat_conversations')
        .set({ updated_at: new Date(), ...(options.title !== undefined ? { title: options.title } : {}) })
        .where('id', '=', conversationId)
        .where('owner_id', '=', ownerId)
        .executeTakeFirst();
      if (touched.numUpdatedRows === 0n) return undefined;
      const stored = await trx
        .insertInto('chat_messages')
        .values({
          id: message.id,
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

async function findConversation(
  db: Kysely<DB> | Transaction<DB>,
  ownerId: string,
  id: string,
): Promise<ConversationRecord | undefined> {
  return db
    .selectFrom('chat_conversations as c')
    .select(CONVERSATION_COLUMNS)
    .where('c.id', '=', id)
    .where('c.owner_id', '=', ownerId)
    .executeTakeFirst();
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
