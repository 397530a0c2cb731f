import { sql, type Kysely } from 'kysely';
import type { ChatMessageStatus, ChatRole, DB } from '../db/tables.ts';

export interface ConversationRecord {
  id: string;
  title: string;
  model: string;
  createdAt: Date;
  updatedAt: Date;
}

export interface MessageRecord {
  id: string;
  role: ChatRole;
  content: string;
  model: string;
  status: ChatMessageStatus;
  errorCode: string | null;
  errorMessage: string | null;
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
}

const CONVERSATION_COLUMNS = [
  'c.id',
  'c.title',
  'c.model',
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
  'm.created_at as createdAt',
] as const;

/** The same columns, unqualified, for RETURNING. */
const RETURNED_CONVERSATION = [
  'id',
  'title',
  'model',
  'created_at as createdAt',
  'updated_at as updatedAt',
] as const;
const RETURNED_MESSAGE = [
  'id',
  'role',
  'content',
  'model',
  'status',
  'error_code as errorCode',
  'error_message as errorMessage',
  'created_at as createdAt',
] as const;

/** `%`, `_` and `\` are literal in a search: escaped for ILIKE. */
const likePattern = (text: string) => `%${text.replace(/[\\%_]/g, (char) => `\\${char}`)}%`;

/**
 * Chat conversations and their messages. Every method takes the owner's id and every query is
 * scoped by it: another user's conversation is simply not found.
 */
export class ConversationsRepository {
  readonly #db: Kysely<DB>;

  constructor(db: Kysely<DB>) {
    this.#db = db;
  }

  async insert(
    ownerId: string,
    conversation: { id: string; title: string; model: string },
  ): Promise<ConversationRecord> {
    return this.#db
      .insertInto('chat_conversations')
      .values({ ...conversation, owner_id: ownerId })
      .returning(RETURNED_CONVERSATION)
      .executeTakeFirstOrThrow();
  }

  /** The owner's conversations, most recently active first; `search` matches titles and message text. */
  async list(ownerId: string, options: { search?: string; limit: number }): Promise<ConversationRecord[]> {
    let query = this.#db
      .selectFrom('chat_conversations as c')
      .select(CONVERSATION_COLUMNS)
      .where('c.owner_id', '=', ownerId);
    if (options.search) {
      const pattern = likePattern(options.search);
      query = query.where((eb) =>
        eb.or([
          eb('c.title', 'ilike', pattern),
          eb.exists(
            eb
              .selectFrom('chat_messages as m')
              .select(sql`1`.as('one'))
              .whereRef('m.conversation_id', '=', 'c.id')
              .where('m.content', 'ilike', pattern),
          ),
        ]),
      );
    }
    return query.orderBy('c.updated_at', 'desc').orderBy('c.id').limit(options.limit).execute();
  }

  async find(ownerId: string, id: string): Promise<ConversationRecord | undefined> {
    return this.#db
      .selectFrom('chat_conversations as c')
      .select(CONVERSATION_COLUMNS)
      .where('c.id', '=', id)
      .where('c.owner_id', '=', ownerId)
      .executeTakeFirst();
  }

  /** Changes title and/or model and marks the conversation active; undefined when it is not the owner's. */
  async update(
    ownerId: string,
    id: string,
    changes: { title?: string; model?: string },
  ): Promise<ConversationRecord | undefined> {
    return this.#db
      .updateTable('chat_conversations')
      .set({
        ...(changes.title !== undefined ? { title: changes.title } : {}),
        ...(changes.model !== undefined ? { model: changes.model } : {}),
        updated_at: new Date(),
      })
      .where('id', '=', id)
      .where('owner_id', '=', ownerId)
      .returning(RETURNED_CONVERSATION)
      .executeTakeFirst();
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
    return this.#db
      .selectFrom('chat_messages as m')
      .innerJoin('chat_conversations as c', 'c.id', 'm.conversation_id')
      .select(MESSAGE_COLUMNS)
      .where('m.conversation_id', '=', conversationId)
      .where('c.owner_id', '=', ownerId)
      .orderBy('m.seq')
      .execute();
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
   * Appends a message and marks the conversation active, in one transaction; undefined when the
   * conversation is not the owner's (or was deleted meanwhile).
   */
  async append(
    ownerId: string,
    conversationId: string,
    message: NewMessage,
    options: { title?: string } = {},
  ): Promise<MessageRecord | undefined> {
    return this.#db.transaction().execute(async (trx) => {
      const touched = await trx
        .updateTable('chat_conversations')
        .set({ updated_at: new Date(), ...(options.title !== undefined ? { title: options.title } : {}) })
        .where('id', '=', conversationId)
        .where('owner_id', '=', ownerId)
        .executeTakeFirst();
      if (touched.numUpdatedRows === 0n) return undefined;
      return trx
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
        })
        .returning(RETURNED_MESSAGE)
        .executeTakeFirstOrThrow();
    });
  }
}
