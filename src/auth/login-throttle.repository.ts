import { sql, type Kysely } from 'kysely';
import type { DB } from '../db/tables.ts';

/**
 * Failed sign-ins counted per key (`user:<name>`, `addr:<ip>`) in a fixed window, in the database so
 * that every node counts together. Reaching the limit blocks the key until the block ends.
 */
export class LoginThrottleRepository {
  readonly #db: Kysely<DB>;

  constructor(db: Kysely<DB>) {
    this.#db = db;
  }

  /** When the key is blocked, until when. */
  async blockedUntil(keys: string[], now: Date): Promise<Date | null> {
    const rows = await this.#db
      .selectFrom('login_throttle')
      .select('blocked_until')
      .where('key', 'in', keys)
      .where('blocked_until', '>', now)
      .execute();
    const until = rows.map((row) => row.blocked_until!.getTime());
    return until.length ? new Date(Math.max(...until)) : null;
  }

  /** Counts one failure for the key; blocks it for `blockMs` once `limit` failures fall in one window. */
  async recordFailure(
    key: string,
    options: { now: Date; windowMs: number; limit: number; blockMs: number },
  ): Promise<void> {
    const { now, windowMs, limit, blockMs } = options;
    const windowStart = new Date(now.getTime() - windowMs);
    await this.#db
      .insertInto('login_throttle')
      .values({
        key,
        failures: 1,
        window_started_at: now,
        blocked_until: limit <= 1 ? new Date(now.getTime() + blockMs) : null,
      })
      .onConflict((conflict) =>
        conflict.column('key').doUpdateSet({
          failures: sql`CASE WHEN login_throttle.window_started_at < ${windowStart} THEN 1 ELSE login_throttle.failures + 1 END`,
          window_started_at: sql`CASE WHEN login_throttle.window_started_at < ${windowStart} THEN ${now} ELSE login_throttle.window_started_at END`,
          blocked_until: sql`CASE WHEN login_throttle.window_started_at >= ${windowStart} AND login_throttle.failures + 1 >= ${limit}
                                  THEN ${new Date(now.getTime() + blockMs)} ELSE login_throttle.blocked_until END`,
        }),
      )
      .execute();
  }

  async clear(key: string): Promise<void> {
    await this.#db.deleteFrom('login_throttle').where('key', '=', key).execute();
  }
}
