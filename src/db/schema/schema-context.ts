import type { Logger } from 'pino';
import type { Config } from '../../config/config.ts';
import type { Database } from '../database.ts';
import { loadExpectedSchema } from './expected-schema.ts';
import { BUNDLED_MIGRATIONS_DIR, loadMigrationFiles } from './migration-files.ts';
import type { SchemaContext } from './migrator.ts';

/** The schema lifecycle's inputs for this configuration: the migrations and snapshot shipped with the app. */
export function schemaContext(
  database: Database,
  config: Pick<Config, 'migrationsDir' | 'migrationLockTimeoutMs'>,
  deps: { logger: Logger; version: string },
): SchemaContext {
  const dir = config.migrationsDir ?? BUNDLED_MIGRATIONS_DIR;
  return {
    database,
    migrations: loadMigrationFiles(dir),
    expected: loadExpectedSchema(dir),
    appVersion: deps.version,
    logger: deps.logger,
    lockTimeoutMs: config.migrationLockTimeoutMs,
  };
}
