import { sql, type Kysely } from 'kysely';
import type { Limits } from '../limits/limits.ts';
import type { DB } from '../db/tables.ts';
import type { Role } from '../auth/principal.ts';

export interface TokenRecord {
  id: string;
  name: string;
  prefix: string;
  expiresAt: Date | null;
  lastUsedAt: Date | null;
  limits: Limits;
  createdAt: Date;
}

const TOKEN_COLUMNS = [
  'id',
  'name',
  'prefix',
  'expires_at as expiresAt',
  'last_used_at as lastUsedAt',
  sql<Limits>`limits`.as('limits'),
  'created_at as createdAt',
] as const;

/** API tokens, stored as sha256 hashes. Every query is scoped to the owning user. */
export class TokensRepository {
  readonly #db: Kysely<DB>;

  constructor(db: Kysely<DB>) {
    this.#db = db;
  }

  /** Returns null when the user already has an active token of that name. */
  async insert(token: {
    id: string;
    userId: string;
    name: string;
    hash: string;
    prefix: string;
    expiresAt: Date | null;
    limits: Limits;
  }): Promise<TokenRecord | null> {
    const existing = await this.#db
      .selectFrom('api_tokens')
      .select('id')
      .where('user_id', '=', token.userId)
      .where((eb) => eb(eb.fn('lower', ['name']), '=', token.name.toLowerCase()))
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    if (existing) return null;
    return this.#db
      .insertInto('api_tokens')
      .values({
        id: token.id,
        user_id: token.userId,
        name: token.name,
        token_hash: token.hash,
        prefix: token.prefix,
        expires_at: token.expiresAt,
        limits: JSON.stringify(token.limits),
      })
      .returning(TOKEN_COLUMNS)
      .executeTakeFirstOrThrow();
  }

  /** Replaces an active token's limits; false when the user has no such token. */
  async setLimits(userId: string, id: string, limits: Limits): Promise<boolean> {
    const result = await this.#db
      .updateTable('api_tokens')
      .set({ limits: JSON.stringify(limits) })
      .where('user_id', '=', userId)
      .where('id', '=', id)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  async listActive(userId: string): Promise<TokenRecord[]> {
    return this.#db
      .selectFrom('api_tokens')
      .select(TOKEN_COLUMNS)
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null)
      .orderBy('created_at')
      .execute();
  }

  /** Revokes one of the user's tokens; false when it is not theirs or already revoked. */
  async revoke(userId: string, id: string): Promise<boolean> {
    const result = await this.#db
      .updateTable('api_tokens')
      .set({ revoked_at: new Date() })
      .where('id', '=', id)
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  /** The live token with this hash and its user, for authentication. */
  async findForAuthentication(hash: string): Promise<
    | {
        tokenId: string;
        userId: string;
        username: string;
        role: Role;
        expiresAt: Date | null;
        disabledAt: Date | null;
      }
    | undefined
  > {
    return this.#db
      .selectFrom('api_tokens as t')
      .innerJoin('users as u', 'u.id', 't.user_id')
      .select([
        't.id as tokenId',
        'u.id as userId',
        'u.username',
        'u.role',
        't.expires_at as expiresAt',
        'u.disabled_at as disabledAt',
      ])
      .where('t.token_hash', '=', hash)
      .where('t.revoked_at', 'is', null)
      .executeTakeFirst();
  }

  async touch(ids: string[], at: Date): Promise<void> {
    if (ids.length === 0) return;
    await this.#db.updateTable('api_tokens').set({ last_used_at: at }).where('id', 'in', ids).execute();
  }
}
