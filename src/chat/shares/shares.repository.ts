import type { Kysely } from 'kysely';
import type { DB } from '../../db/tables.ts';

/** One message of a shared snapshot: its text only. */
export interface SharedMessage {
  role: 'user' | 'assistant';
  content: string;
  model: string;
  createdAt: string;
}

export interface ShareRecord {
  id: string;
  conversationId: string;
  title: string;
  expiresAt: Date | null;
  createdAt: Date;
}

export interface SharedSnapshot {
  title: string;
  messages: SharedMessage[];
  expiresAt: Date | null;
  createdAt: Date;
}

/**
 * Share links (`chat_shares`). The owner's methods take the owner's id; the public one finds a snapshot
 * by the SHA-256 of its token only, through the unique index (never comparing tokens in JavaScript).
 */
export class SharesRepository {
  readonly #db: Kysely<DB>;

  constructor(db: Kysely<DB>) {
    this.#db = db;
  }

  async insert(
    ownerId: string,
    share: {
      id: string;
      conversationId: string;
      tokenHash: string;
      title: string;
      messages: SharedMessage[];
      expiresAt: Date | null;
    },
  ): Promise<ShareRecord> {
    const row = await this.#db
      .insertInto('chat_shares')
      .values({
        id: share.id,
        owner_id: ownerId,
        conversation_id: share.conversationId,
        token_hash: share.tokenHash,
        title: share.title,
        snapshot: JSON.stringify(share.messages),
        expires_at: share.expiresAt,
      })
      .returning([
        'id',
        'conversation_id as conversationId',
        'title',
        'expires_at as expiresAt',
        'created_at as createdAt',
      ])
      .executeTakeFirstOrThrow();
    return row;
  }

  /** The owner's share links, newest first (expired ones too, until revoked). */
  async list(ownerId: string): Promise<ShareRecord[]> {
    return this.#db
      .selectFrom('chat_shares')
      .select([
        'id',
        'conversation_id as conversationId',
        'title',
        'expires_at as expiresAt',
        'created_at as createdAt',
      ])
      .where('owner_id', '=', ownerId)
      .orderBy('created_at', 'desc')
      .orderBy('id')
      .execute();
  }

  /** Revokes one; false when it is not the owner's. */
  async delete(ownerId: string, id: string): Promise<boolean> {
    const result = await this.#db
      .deleteFrom('chat_shares')
      .where('id', '=', id)
      .where('owner_id', '=', ownerId)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  /** The snapshot behind a token's hash, unless revoked (deleted), expired, or its owner disabled. */
  async findLive(tokenHash: string, now: Date): Promise<SharedSnapshot | undefined> {
    const row = await this.#db
      .selectFrom('chat_shares as s')
      .innerJoin('users as u', 'u.id', 's.owner_id')
      .select(['s.title', 's.snapshot', 's.expires_at as expiresAt', 's.created_at as createdAt'])
      .where('s.token_hash', '=', tokenHash)
      .where((eb) => eb.or([eb('s.expires_at', 'is', null), eb('s.expires_at', '>', now)]))
      .where('u.disabled_at', 'is', null)
      .executeTakeFirst();
    if (!row) return undefined;
    // Written only by `insert`, from `SharedMessage[]`.
    return { ...row, messages: row.snapshot as SharedMessage[] };
  }
}
