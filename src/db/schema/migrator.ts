import type { Logger } from 'pino';
import { KeywayError, messageOf } from '../../errors.ts';
import type { Database, SqlSession } from '../database.ts';
import { readSchemaShape } from './catalog.ts';
import { diffSchema, type ExpectedSchema } from './drift.ts';
import {
  compareHistory,
  createHistoryTable,
  HISTORY_TABLE,
  readHistory,
  type HistoryRow,
} from './history.ts';
import { acquireMigrationLock } from './migration-lock.ts';
import type { MigrationFile } from './migration-files.ts';
import { SchemaCheckFailed, errorsIn, type SchemaProblem } from './problems.ts';
import type { VerifiedSchemaStore } from './verified-schema.ts';

/** Everything the schema lifecycle works with. */
export interface SchemaContext {
  database: Database;
  migrations: MigrationFile[];
  expected: ExpectedSchema;
  /** A hash of the expected snapshot, when known without parsing it (see schemaFingerprint). */
  expectedDigest?: string;
  appVersion: string;
  logger: Logger;
  /** How long to wait for another node's migration lock. */
  lockTimeoutMs: number;
  /**
   * Where a start records that the live schema passed the drift check, so that the next start with
   * an unchanged catalog skips it (`prepareSchema`). Absent: every start runs the full check.
   */
  verified?: VerifiedSchemaStore;
}

export interface SchemaStatus {
  applied: HistoryRow[];
  pending: MigrationFile[];
  /** History problems: newer than the app, edited migrations, unfinished migrations. */
  problems: SchemaProblem[];
}

/** Per-statement limits inside a migration, so a migration never waits forever behind a lock. */
const LOCK_TIMEOUT = '10s';
const STATEMENT_TIMEOUT = '15min';

export async function readSchemaStatus(ctx: SchemaContext): Promise<SchemaStatus> {
  const history = await ctx.database.withSession(readHistory);
  const { pending, problems } = compareHistory(history, ctx.migrations, ctx.appVersion);
  return { applied: history, pending, problems };
}

/** Compares the live schema with the expected snapshot. Meaningful once no migration is pending. */
export async function checkDrift(ctx: SchemaContext): Promise<SchemaProblem[]> {
  const live = await ctx.database.withSession(readSchemaShape);
  return diffSchema(ctx.expected, live);
}

/**
 * Applies pending migrations under the cross-node lock. The history is read again once the lock is
 * held: another node may have done the work while we waited. Refuses to touch a database whose
 * history has problems.
 */
export async function migrateUp(ctx: SchemaContext): Promise<{ applied: string[] }> {
  return ctx.database.withSession(async (session) => {
    const release = await acquireMigrationLock(session, {
      kind: ctx.database.kind,
      timeoutMs: ctx.lockTimeoutMs,
      logger: ctx.logger,
    });
    const restoreSession = await watchForDeadClient(session, ctx.database.kind);
    try {
      await createHistoryTable(session);
      const history = await readHistory(session);
      const { pending, problems } = compareHistory(history, ctx.migrations, ctx.appVersion);
      if (errorsIn(problems).length > 0) throw new SchemaCheckFailed(problems);
      const applied: string[] = [];
      for (const migration of pending) {
        await applyMigration(session, migration, ctx);
        applied.push(migration.name);
      }
      return { applied };
    } finally {
      await restoreSession();
      await release();
    }
  });
}

/**
 * The exact statements `migrateUp` sends for one migration, in order; `keyway migrate plan` prints
 * them. Timestamps come from the server so that the plan is the SQL that runs, to the letter.
 */
export function migrationSteps(migration: MigrationFile, appVersion: string): string[] {
  const name = literal(migration.name);
  const elapsed = `(extract(epoch FROM clock_timestamp() - started_at) * 1000)::integer`;
  if (migration.transactional) {
    return [
      `BEGIN;\nSET LOCAL lock_timeout = '${LOCK_TIMEOUT}';\nSET LOCAL statement_timeout = '${STATEMENT_TIMEOUT}';`,
      migration.sql,
      `INSERT INTO ${HISTORY_TABLE} (name, checksum, app_version, started_at, finished_at, execution_ms)\n` +
        `  VALUES (${name}, ${literal(migration.checksum)}, ${literal(appVersion)}, now(), clock_timestamp(), (extract(epoch FROM clock_timestamp() - now()) * 1000)::integer);\nCOMMIT;`,
    ];
  }
  return [
    `INSERT INTO ${HISTORY_TABLE} (name, checksum, app_version, started_at)\n  VALUES (${name}, ${literal(migration.checksum)}, ${literal(appVersion)}, clock_timestamp());\n` +
      `SET lock_timeout = '${LOCK_TIMEOUT}';\nSET statement_timeout = '${STATEMENT_TIMEOUT}';`,
    migration.sql,
    `RESET lock_timeout;\nRESET statement_timeout;\nUPDATE ${HISTORY_TABLE} SET finished_at = clock_timestamp(), execution_ms = ${elapsed} WHERE name = ${name};`,
  ];
}

/** The SQL `migrate up` would run for these migrations, as one printable script. */
export function planSql(migrations: MigrationFile[], appVersion: string): string {
  return migrations
    .map((migration) => {
      const header = `-- ${migration.name} (sha256 ${migration.checksum})${migration.transactional ? '' : ' -- runs outside a transaction'}`;
      return [header, ...migrationSteps(migration, appVersion).map((step) => step.trim())].join('\n');
    })
    .join('\n\n');
}

/** Applies one migration on a session that already holds the migration lock. */
export async function applyMigration(
  session: SqlSession,
  migration: MigrationFile,
  ctx: Pick<SchemaContext, 'appVersion' | 'logger'>,
): Promise<void> {
  const started = performance.now();
  ctx.logger.info({ migration: migration.name }, `applying migration ${migration.name}`);
  const [begin, body, finish] = migrationSteps(migration, ctx.appVersion) as [string, string, string];
  // Sent as three messages, not one: a process killed during the body then leaves an open
  // transaction that the server rolls back, never a committed half.
  await session.exec(begin);
  try {
    await session.exec(body);
    await session.exec(finish);
  } catch (error) {
    if (migration.transactional) await session.exec('ROLLBACK').catch(() => {});
    throw new KeywayError('migration_failed', `Migration ${migration.name} failed: ${messageOf(error)}`, {
      fix: migration.transactional
        ? 'Nothing of it was applied (it ran in a transaction). Remove the cause named above (a lock held by another session, data that breaks a new constraint) and start again.'
        : `It ran outside a transaction and may be partly applied: see \`keyway doctor\` for the recovery steps.`,
      cause: error,
    });
  }
  ctx.logger.info(
    { migration: migration.name, ms: Math.round(performance.now() - started) },
    `applied migration ${migration.name}`,
  );
}

/**
 * Records the outcome of a migration that was started outside a transaction and never finished,
 * after an operator has inspected it: `applied` marks it done, `rolled-back` lets it run again.
 */
export async function resolveMigration(
  ctx: SchemaContext,
  name: string,
  outcome: 'applied' | 'rolled-back',
): Promise<void> {
  await ctx.database.withSession(async (session) => {
    const release = await acquireMigrationLock(session, {
      kind: ctx.database.kind,
      timeoutMs: ctx.lockTimeoutMs,
      logger: ctx.logger,
    });
    try {
      const row = (await readHistory(session)).find((entry) => entry.name === name);
      if (!row || row.finishedAt !== null) {
        throw new KeywayError(
          'migration_not_unfinished',
          `Migration ${name} is not recorded as unfinished; there is nothing to resolve.`,
          {
            fix: '`keyway migrate status` lists the history.',
          },
        );
      }
      if (outcome === 'applied') {
        await session.query(`UPDATE ${HISTORY_TABLE} SET finished_at = clock_timestamp() WHERE name = $1`, [
          name,
        ]);
      } else {
        await session.query(`DELETE FROM ${HISTORY_TABLE} WHERE name = $1`, [name]);
      }
    } finally {
      await release();
    }
  });
}

/**
 * Asks PostgreSQL 14+ to check every second that we are still there during long statements, so a
 * migrator that dies mid-migration frees its lock and rolls back at once instead of when its
 * statement ends. Returns what undoes the setting before the connection goes back to the pool.
 */
async function watchForDeadClient(session: SqlSession, kind: Database['kind']): Promise<() => Promise<void>> {
  if (kind !== 'postgres') return async () => {};
  const [row] = await session.query<{ version: number }>(
    `SELECT current_setting('server_version_num')::integer AS version`,
  );
  if ((row?.version ?? 0) < 140000) return async () => {};
  await session.exec(`SET client_connection_check_interval = '1s'`);
  return async () => {
    await session.exec('RESET client_connection_check_interval');
  };
}

function literal(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}
