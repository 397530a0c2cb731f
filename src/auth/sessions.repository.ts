import type { Kysely } from 'kysely';
import type { DB } from '../db/tables.ts';
import type { Role } from './principal.ts';

/** Web sign-in sessions, keyed by the sha256 of the cookie value. */
export class SessionsRepository {
  readonly #db: Kysely<DB>;

  constructor(db: Kysely<DB>) {
    this.#db = db;
  }

  async insert(session: { id: string; userId: string; csrfToken: string; expiresAt: Date }): Promise<void> {
    await this.#db
      .insertInto('login_sessions')
      .values({
        id: session.id,
        user_id: session.userId,
        csrf_token: session.csrfToken,
        expires_at: session.expiresAt,
      })
      .execute();
  }

  async find(id: string): Promise<
    | {
        id: string;
        userId: string;
        username: string;
        role: Role;
        csrfToken: string;
        expiresAt: Date;
        lastSeenAt: Date;
        disabledAt: Date | null;
      }
    | undefined
  > {
    return this.#db
      .selectFrom('login_sessions as s')
      .innerJoin('users as u', 'u.id', 's.user_id')
      .select([
        's.id',
        'u.id as userId',
        'u.username',
        'u.role',
        's.csrf_token as csrfToken',
        's.expires_at as expiresAt',
        's.last_seen_at as lastSeenAt',
        'u.disabled_at as disabledAt',
      ])
      .where('s.id', '=', id)
      .executeTakeFirst();
  }

  async extend(id: string, lastSeenAt: Date, expiresAt: Date): Promise<void> {
    await this.#db
      .updateTable('login_sessions')
      .set({ last_seen_at: lastSeenAt, expires_at: expiresAt })
      .where('id', '=', id)
      .execute();
  }

  async delete(id: string): Promise<void> {
    await this.#db.deleteFrom('login_sessions').where('id', '=', id).execute();
  }

  async deleteExpired(now: Date): Promise<void> {
    await this.#db.deleteFrom('login_sessions').where('expires_at', '<', now).execute();
  }
}
