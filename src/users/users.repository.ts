import { sql, type Kysely } from 'kysely';
import type { DB } from '../db/tables.ts';
import type { Role } from '../auth/principal.ts';
import type { Limits } from '../limits/limits.ts';

export interface UserRecord {
  id: string;
  username: string;
  role: Role;
  disabledAt: Date | null;
  limits: Limits;
  createdAt: Date;
  updatedAt: Date;
}

const USER_COLUMNS = [
  'id',
  'username',
  'role',
  'disabled_at as disabledAt',
  sql<Limits>`limits`.as('limits'),
  'created_at as createdAt',
  'updated_at as updatedAt',
] as const;

/** Users. Password hashes leave this class only through `findCredentials`. */
export class UsersRepository {
  readonly #db: Kysely<DB>;

  constructor(db: Kysely<DB>) {
    this.#db = db;
  }

  /** Inserts a user; returns null when the username (case-insensitive) is taken. */
  async insert(user: {
    id: string;
    username: string;
    passwordHash: string;
    role: Role;
  }): Promise<UserRecord | null> {
    const row = await this.#db
      .insertInto('users')
      .values({ id: user.id, username: user.username, password_hash: user.passwordHash, role: user.role })
      .onConflict((conflict) => conflict.expression(sql`lower(username)`).doNothing())
      .returning(USER_COLUMNS)
      .executeTakeFirst();
    return row ?? null;
  }

  async findById(id: string): Promise<UserRecord | undefined> {
    return this.#db.selectFrom('users').select(USER_COLUMNS).where('id', '=', id).executeTakeFirst();
  }

  async findByUsername(username: string): Promise<UserRecord | undefined> {
    return this.#db
      .selectFrom('users')
      .select(USER_COLUMNS)
      .where(sql`lower(username)`, '=', username.toLowerCase())
      .executeTakeFirst();
  }

  /** The user and password hash for signing in. */
  async findCredentials(username: string): Promise<(UserRecord & { passwordHash: string }) | undefined> {
    return this.#db
      .selectFrom('users')
      .select([...USER_COLUMNS, 'password_hash as passwordHash'])
      .where(sql`lower(username)`, '=', username.toLowerCase())
      .executeTakeFirst();
  }

  async list(): Promise<UserRecord[]> {
    return this.#db.selectFrom('users').select(USER_COLUMNS).orderBy('created_at').execute();
  }

  async count(): Promise<number> {
    const row = await this.#db
      .selectFrom('users')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /**
   * Changes a user. With `endSessions`, every web session of the user is deleted in the same
   * transaction, so no request can slip through on an old session once the change is visible;
   * `keepSessionId` spares the session the change was made from.
   */
  async update(
    id: string,
    changes: { passwordHash?: string; role?: Role; disabled?: boolean },
    options: { endSessions?: boolean; keepSessionId?: string } = {},
  ): Promise<UserRecord | undefined> {
    return this.#db.transaction().execute(async (trx) => {
      const user = await trx
        .updateTable('users')
        .set({
          ...(changes.passwordHash ? { password_hash: changes.passwordHash } : {}),
          ...(changes.role ? { role: changes.role } : {}),
          ...(changes.disabled === undefined ? {} : { disabled_at: changes.disabled ? new Date() : null }),
          updated_at: new Date(),
        })
        .where('id', '=', id)
        .returning(USER_COLUMNS)
        .executeTakeFirst();
      if (user && options.endSessions) {
        let sessions = trx.deleteFrom('login_sessions').where('user_id', '=', id);
        if (options.keepSessionId) sessions = sessions.where('id', '<>', options.keepSessionId);
        await sessions.execute();
      }
      return user;
    });
  }
}
