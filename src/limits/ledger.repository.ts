import { inTransaction } from '../db/in-transaction.ts';
import { sql, type Kysely } from 'kysely';
import type { DB } from '../db/tables.ts';

/** What a node reports for one limit window: spent since the last report, and allowance it gives back. */
export interface WindowReport {
  key: string;
  windowStart: Date;
  spent: number;
  returned: number;
}

/** Refusals counted in memory, written per hour. */
export interface RefusalCount {
  hour: Date;
  limitKey: string;
  code: string;
  userId: string;
  refusals: number;
}

/**
 * The allowance ledger in PostgreSQL (`limit_windows`). Every change is one atomic statement, and
 * `settled + leased <= cap` holds for every row whatever the nodes do concurrently: a lease takes at
 * most what is left.
 */
export class LedgerRepository {
  readonly #db: Kysely<DB>;

  constructor(db: Kysely<DB>) {
    this.#db = db;
  }

  /**
   * Leases up to `want` of a window's allowance to this node; returns how much it got (0 when the
   * window is used up). The row is created on first use; `cap` follows the limit as it is now.
   */
  async lease(key: string, windowStart: Date, cap: number, want: number): Promise<number> {
    return inTransaction(this.#db, async (trx) => {
      await sql`
        INSERT INTO limit_windows (key, window_start, cap) VALUES (${key}, ${windowStart.toISOString()}::timestamptz, ${cap})
        ON CONFLICT (key, window_start) DO NOTHING`.execute(trx);
      const { rows } = await sql<{ settled: string; leased: string }>`
        SELECT settled, leased FROM limit_windows
         WHERE key = ${key} AND window_start = ${windowStart.toISOString()}::timestamptz
           FOR UPDATE`.execute(trx);
      const row = rows[0]!;
      const granted = Math.max(0, Math.min(want, cap - Number(row.settled) - Number(row.leased)));
      await sql`
        UPDATE limit_windows SET leased = leased + ${granted}, cap = ${cap}, updated_at = now()
         WHERE key = ${key} AND window_start = ${windowStart.toISOString()}::timestamptz`.execute(trx);
      return granted;
    });
  }

  /** Settles what nodes spent and takes back what they return, for many windows in one statement. */
  async report(reports: WindowReport[]): Promise<void> {
    if (reports.length === 0) return;
    const rows = reports.map((report) => ({
      key: report.key,
      window_start: report.windowStart.toISOString(),
      spent: report.spent,
      returned: report.returned,
    }));
    await sql`
      UPDATE limit_windows w
         SET settled = w.settled + r.spent,
             leased = greatest(0, w.leased - r.spent - r.returned),
             updated_at = now()
        FROM json_to_recordset(${JSON.stringify(rows)}::json)
          AS r(key text, window_start timestamptz, spent numeric, returned numeric)
       WHERE w.key = r.key AND w.window_start = r.window_start`.execute(this.#db);
  }

  /** What has been settled in each window (0 for one never used). */
  async settled(windows: { key: string; windowStart: Date }[]): Promise<Map<string, number>> {
    const result = new Map<string, number>();
    if (windows.length === 0) return result;
    const rows = await sql<{ key: string; window_start: Date; settled: string }>`
      SELECT w.key, w.window_start, w.settled
        FROM limit_windows w
        JOIN json_to_recordset(${JSON.stringify(
          windows.map((window) => ({ key: window.key, window_start: window.windowStart.toISOString() })),
        )}::json) AS r(key text, window_start timestamptz)
          ON w.key = r.key AND w.window_start = r.window_start`.execute(this.#db);
    for (const row of rows.rows)
      result.set(windowId(row.key, new Date(row.window_start)), Number(row.settled));
    return result;
  }

  async countRefusals(counts: RefusalCount[]): Promise<void> {
    if (counts.length === 0) return;
    const rows = counts.map((count) => ({
      hour: count.hour.toISOString(),
      limit_key: count.limitKey,
      code: count.code,
      user_id: count.userId,
      refusals: count.refusals,
    }));
    await sql`
      INSERT INTO limit_refusals (hour, limit_key, code, user_id, refusals)
      SELECT hour, limit_key, code, user_id, refusals
        FROM json_to_recordset(${JSON.stringify(rows)}::json)
          AS r(hour timestamptz, limit_key text, code text, user_id uuid, refusals integer)
      ON CONFLICT (hour, limit_key, code, user_id)
        DO UPDATE SET refusals = limit_refusals.refusals + excluded.refusals`.execute(this.#db);
  }
}

/** One window's identity, as a map key. */
export const windowId = (key: string, windowStart: Date) => `${key}@${windowStart.getTime()}`;
