import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { KeywayError } from '../../errors.ts';
import type { DatabaseKind, SqlSession } from '../database.ts';

/** The advisory lock's two-part key: 'keyw' and 1 (schema migrations). */
const LOCK_CLASS = 0x6b657977;
const LOCK_OBJECT = 1;

export interface LockHolder {
  pid: number;
  applicationName: string;
  clientAddress: string | null;
  since: Date | null;
  state: string | null;
}

export interface MigrationLockOptions {
  kind: DatabaseKind;
  /** Give up after this long; the default is 60 s. */
  timeoutMs: number;
  logger: Logger;
}

/**
 * Takes the cross-node migration lock on the session's connection and returns its release.
 *
 * PostgreSQL: `pg_try_advisory_lock`, polled with backoff up to the deadline. A blocking
 * `pg_advisory_lock` held by a waiting replica deadlocks with `CREATE INDEX CONCURRENTLY`
 * (flyway#1654), and polling lets us say who holds the lock while we wait.
 * Embedded: the data-directory lock already makes this process the only one, so there is nothing to do.
 */
export async function acquireMigrationLock(
  session: SqlSession,
  options: MigrationLockOptions,
): Promise<() => Promise<void>> {
  if (options.kind === 'embedded') return async () => {};
  const deadline = Date.now() + options.timeoutMs;
  let delay = 50;
  let nextReport = 0;
  for (;;) {
    const [row] = await session.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1, $2) AS locked', [
      LOCK_CLASS,
      LOCK_OBJECT,
    ]);
    if (row?.locked) {
      return async () => {
        await session.query('SELECT pg_advisory_unlock($1, $2)', [LOCK_CLASS, LOCK_OBJECT]);
      };
    }
    const now = Date.now();
    if (now >= deadline) {
      const holder = await findLockHolder(session);
      throw new KeywayError(
        'migration_lock_timeout',
        `Gave up waiting for the migration lock after ${Math.round(options.timeoutMs / 1000)} s; it is held by ${describeHolder(holder)}.`,
        {
          fix: holder
            ? `Wait for that process to finish migrating and start again. If it is stuck, end it in psql: SELECT pg_terminate_backend(${holder.pid});`
            : 'Start again; the holder released it just now.',
          details: { holder },
        },
      );
    }
    if (now >= nextReport) {
      const holder = await findLockHolder(session);
      options.logger.info({ holder }, `waiting for the migration lock, held by ${describeHolder(holder)}`);
      nextReport = now + 5_000;
    }
    await sleep(Math.min(delay + Math.random() * delay, deadline - now));
    delay = Math.min(delay * 2, 1_000);
  }
}

/** Who holds the migration lock, from `pg_locks` and `pg_stat_activity`; null when nobody does. */
export async function findLockHolder(session: SqlSession): Promise<LockHolder | null> {
  const [holder] = await session.query<LockHolder>(
    `SELECT a.pid, a.application_name AS "applicationName", a.client_addr::text AS "clientAddress",
            a.backend_start AS since, a.state
       FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1 AND l.objid = $2 AND l.objsubid = 2
        AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      LIMIT 1`,
    [LOCK_CLASS, LOCK_OBJECT],
  );
  return holder ?? null;
}

function describeHolder(holder: LockHolder | null): string {
  if (!holder) return 'a process that just released it';
  const name = holder.applicationName ? ` "${holder.applicationName}"` : '';
  const from = holder.clientAddress ? ` from ${holder.clientAddress}` : '';
  const since = holder.since ? `, connected since ${new Date(holder.since).toISOString()}` : '';
  return `PostgreSQL backend pid ${holder.pid}${name}${from}${since}`;
}
