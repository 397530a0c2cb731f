import { sql, type Kysely } from 'kysely';
import type { DB } from '../db/tables.ts';

/** The answer to a reservation: granted, or refused until the window ends. */
export type Reservation = { granted: true } | { granted: false; retryAfterMs: number };

/**
 * Sign-in attempts counted per key in a fixed window, in the database so that every node counts
 * together. An attempt is reserved before its password is checked, in one atomic statement: however
 * many arrive at once, at most `limit` per window get through to the check.
 */
export class LoginThrottleRepository {
  readonly #db: Kysely<DB>;

  constructor(db: Kysely<DB>) {
    this.#db = db;
  }

  /**
   * Counts one attempt for the key and says whether it may go ahead: the first `limit` in a window
   * may. The count stops at `limit + 1`, so refused attempts never grow it without bound.
   */
  async reserve(key: string, options: { now: Date; windowMs: number; limit: number }): Promise<Reservation> {
    const { now, windowMs, limit } = options;
    const windowStart = new Date(now.getTime() - windowMs);
    const expired = sql<boolean>`login_throttle.window_started_at <= ${windowStart}`;
    const row = await this.#db
      .insertInto('login_throttle')
      .values({ key, failures: 1, window_started_at: now, blocked_until: null })
      .onConflict((conflict) =>
        conflict.column('key').doUpdateSet({
          failures: sql`CASE WHEN ${expired} THEN 1 ELSE LEAST(login_throttle.failures + 1, ${limit + 1}::integer) END`,
          window_started_at: sql`CASE WHEN ${expired} THEN ${now}::timestamptz ELSE login_throttle.window_started_at END`,
          blocked_until: null,
        }),
      )
      .returning(['failures', 'window_started_at'])
      .executeTakeFirstOrThrow();
    if (row.failures <= limit) return { granted: true };
    return { granted: false, retryAfterMs: row.window_started_at.getTime() + windowMs - now.getTime() };
  }

  /** Gives back one reserved attempt (a sign-in that succeeded, or one refused by another key). */
  async release(key: string): Promise<void> {
    await this.#db
      .updateTable('login_throttle')
      .set({ failures: sql`GREATEST(failures - 1, 0)` })
      .where('key', '=', key)
      .execute();
  }

  async clear(key: string): Promise<void> {
    await this.#db.deleteFrom('login_throttle').where('key', '=', key).execute();
  }

  /** Deletes counts whose window ended before `before`. */
  async deleteExpired(before: Date): Promise<void> {
    await this.#db.deleteFrom('login_throttle').where('window_started_at', '<=', before).execute();
  }
}
