import type { SqlSession } from '../database.ts';
import type { MigrationFile } from './migration-files.ts';
import type { SchemaProblem } from './problems.ts';

/** Managed by the migrator, not by a migration, and left out of the drift check. */
export const HISTORY_TABLE = 'keyway_schema_history';

export interface HistoryRow {
  name: string;
  checksum: string;
  appVersion: string;
  startedAt: Date;
  /** null: started outside a transaction and never finished. */
  finishedAt: Date | null;
  executionMs: number | null;
}

export async function historyTableExists(session: SqlSession): Promise<boolean> {
  const [row] = await session.query<{ exists: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS exists`, [
    HISTORY_TABLE,
  ]);
  return row?.exists === true;
}

/** The history in name order; empty when the table does not exist yet (nothing is created by reading). */
export async function readHistory(session: SqlSession): Promise<HistoryRow[]> {
  if (!(await historyTableExists(session))) return [];
  return session.query<HistoryRow>(
    `SELECT name, checksum, app_version AS "appVersion", started_at AS "startedAt",
            finished_at AS "finishedAt", execution_ms AS "executionMs"
       FROM ${HISTORY_TABLE} ORDER BY name`,
  );
}

export async function createHistoryTable(session: SqlSession): Promise<void> {
  await session.exec(`CREATE TABLE IF NOT EXISTS ${HISTORY_TABLE} (
    name text PRIMARY KEY,
    checksum text NOT NULL,
    app_version text NOT NULL,
    started_at timestamptz NOT NULL,
    finished_at timestamptz,
    execution_ms integer
  )`);
}

export interface HistoryComparison {
  pending: MigrationFile[];
  problems: SchemaProblem[];
}

/**
 * Compares what the database has recorded with what this app ships: migrations it does not know
 * (a newer Keyway ran here), edited migrations, unfinished ones, and what is still to apply.
 */
export function compareHistory(
  history: HistoryRow[],
  migrations: MigrationFile[],
  appVersion: string,
): HistoryComparison {
  const shipped = new Map(migrations.map((migration) => [migration.name, migration]));
  const recorded = new Set(history.map((row) => row.name));
  const problems: SchemaProblem[] = [];
  for (const row of history) {
    const migration = shipped.get(row.name);
    if (!migration) {
      problems.push({
        code: 'schema_ahead',
        severity: 'error',
        message: `This database was migrated by a newer Keyway (migration ${row.name}, applied by Keyway ${row.appVersion} at ${iso(row.startedAt)}); this is Keyway ${appVersion}, which does not know that migration.`,
        fix: `Run Keyway ${row.appVersion} or newer against this database, or restore a backup taken before that upgrade.`,
      });
    } else if (row.finishedAt === null) {
      problems.push({
        code: 'migration_unfinished',
        severity: 'error',
        message: `Migration ${row.name} was started at ${iso(row.startedAt)} by Keyway ${row.appVersion} and never finished. It runs outside a transaction, so part of it may be in place.`,
        fix: `Compare the database with ${row.name}.sql (\`keyway migrate plan --all\` prints it), complete or undo its statements by hand, then record the outcome: \`keyway migrate resolve ${row.name} --applied\` or \`keyway migrate resolve ${row.name} --rolled-back\` (a rolled-back migration runs again at the next start).`,
      });
    } else if (row.checksum !== migration.checksum) {
      problems.push({
        code: 'checksum_mismatch',
        severity: 'error',
        message: `Migration ${row.name} was applied with checksum ${row.checksum}, but the file shipped with Keyway ${appVersion} has checksum ${migration.checksum}. A migration must never change once applied.`,
        fix: `If this Keyway installation's files were edited, reinstall it. If the history row was edited, set it back only after \`keyway doctor\` shows no drift: UPDATE ${HISTORY_TABLE} SET checksum = '${migration.checksum}' WHERE name = '${row.name}';`,
      });
    }
  }
  const pending = migrations.filter((migration) => !recorded.has(migration.name));
  return { pending, problems };
}

function iso(date: Date): string {
  return new Date(date).toISOString();
}
