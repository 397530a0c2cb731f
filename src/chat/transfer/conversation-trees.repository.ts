import type { Kysely } from 'kysely';
import type { ChatMessageStatus, ChatRole, DB, TitleSource } from '../../db/tables.ts';
import type { ChatSettings } from '../chat-settings.ts';

/** One message of a stored conversation, with its place in the tree. */
export interface TreeMessageRecord {
  id: string;
  parentId: string | null;
  role: ChatRole;
  content: string;
  model: string;
  status: ChatMessageStatus;
  errorCode: string | null;
  errorMessage: string | null;
  createdAt: Date;
}

/** A whole conversation: everything it says (every branch) and the settings it is held with. */
export interface ConversationTree {
  id: string;
  title: string;
  titleSource: TitleSource;
  model: string;
  folderName: string | null;
  pinned: boolean;
  archivedAt: Date | null;
  settings: ChatSettings;
  currentLeafId: string | null;
  createdAt: Date;
  updatedAt: Date;
  /** Every message, in creation order (a reply always after its parent). */
  messages: TreeMessageRecord[];
}

/**
 * Reads and writes whole conversation trees (`chat_messages.parent_id`) for export, import and share
 * links. Every method takes the owner's id and every query is scoped by it.
 */
export class ConversationTreesRepository {
  readonly #db: Kysely<DB>;

  constructor(db: Kysely<DB>) {
    this.#db = db;
  }

  /** The owner's conversations (all, or the one named), oldest first; [] when none is theirs. */
  async read(ownerId: string, only?: string): Promise<ConversationTree[]> {
    let query = this.#db
      .selectFrom('chat_conversations as c')
      .leftJoin('chat_folders as f', (join) =>
        join.onRef('f.id', '=', 'c.folder_id').on('f.owner_id', '=', ownerId),
      )
      .select([
        'c.id',
        'c.title',
        'c.title_source as titleSource',
        'c.model',
        'f.name as folderName',
        'c.pinned',
        'c.archived_at as archivedAt',
        'c.system_prompt as systemPrompt',
        'c.temperature',
        'c.max_tokens as maxTokens',
        'c.context_messages as contextMessages',
        'c.context_tokens as contextTokens',
        'c.current_leaf_id as currentLeafId',
        'c.created_at as createdAt',
        'c.updated_at as updatedAt',
      ])
      .where('c.owner_id', '=', ownerId);
    if (only !== undefined) query = query.where('c.id', '=', only);
    const conversations = await query.orderBy('c.created_at').orderBy('c.id').execute();
    if (conversations.length === 0) return [];
    const messages = await this.#db
      .selectFrom('chat_messages as m')
      .innerJoin('chat_conversations as c', 'c.id', 'm.conversation_id')
      .select([
        'm.conversation_id as conversationId',
        'm.id',
        'm.parent_id as parentId',
        'm.role',
        'm.content',
        'm.model',
        'm.status',
        'm.error_code as errorCode',
        'm.error_message as errorMessage',
        'm.created_at as createdAt',
      ])
      .where('c.owner_id', '=', ownerId)
      .$if(only !== undefined, (q) => q.where('c.id', '=', only!))
      .orderBy('m.conversation_id')
      .orderBy('m.seq')
      .execute();
    const byConversation = new Map<string, TreeMessageRecord[]>();
    for (const { conversationId, ...message } of messages) {
      const list = byConversation.get(conversationId) ?? [];
      list.push(message);
      byConversation.set(conversationId, list);
    }
    return conversations.map(
      ({ systemPrompt, temperature, maxTokens, contextMessages, contextTokens, ...conversation }) => ({
        ...conversation,
        settings: { systemPrompt, temperature, maxTokens, contextMessages, contextTokens },
        messages: byConversation.get(conversation.id) ?? [],
      }),
    );
  }

  /**
   * Stores conversations as the owner's, in one transaction: a folder named in one is the owner's
   * folder of that name, made if missing. Messages are written in the order given (parents first),
   * in batches.
   */
  async insert(ownerId: string, trees: ConversationTree[], newFolderId: () => string): Promise<void> {
    await this.#db.transaction().execute(async (trx) => {
      const folders = new Map<string, string>();
      const folderNamed = async (name: string) => {
        const known = folders.get(name);
        if (known) return known;
        const existing = await trx
          .selectFrom('chat_folders')
          .select('id')
          .where('owner_id', '=', ownerId)
          .where('name', '=', name)
          .orderBy('created_at')
          .executeTakeFirst();
        const id = existing?.id ?? newFolderId();
        if (!existing) await trx.insertInto('chat_folders').values({ id, owner_id: ownerId, name }).execute();
        folders.set(name, id);
        return id;
      };
      for (const tree of trees) {
        await trx
          .insertInto('chat_conversations')
          .values({
            id: tree.id,
            owner_id: ownerId,
            title: tree.title,
            title_source: tree.titleSource,
            model: tree.model,
            folder_id: tree.folderName === null ? null : await folderNamed(tree.folderName),
            pinned: tree.pinned,
            archived_at: tree.archivedAt,
            system_prompt: tree.settings.systemPrompt,
            temperature: tree.settings.temperature,
            max_tokens: tree.settings.maxTokens,
            context_messages: tree.settings.contextMessages,
            context_tokens: tree.settings.contextTokens,
            current_leaf_id: tree.currentLeafId,
            created_at: tree.createdAt,
            updated_at: tree.updatedAt,
          })
          .execute();
        for (let start = 0; start < tree.messages.length; start += INSERT_BATCH) {
          await trx
            .insertInto('chat_messages')
            .values(
              tree.messages.slice(start, start + INSERT_BATCH).map((message) => ({
                id: message.id,
                conversation_id: tree.id,
                parent_id: message.parentId,
                role: message.role,
                content: message.content,
                model: message.model,
                status: message.status,
                error_code: message.errorCode,
                error_message: message.errorMessage,
                created_at: message.createdAt,
              })),
            )
            .execute();
        }
      }
    });
  }
}

/** Rows per INSERT: well under PostgreSQL's 65,535 parameters (10 a row). */
const INSERT_BATCH = 500;
