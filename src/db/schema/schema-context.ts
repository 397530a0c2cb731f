import path from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../../config/config.ts';
import type { Database } from '../database.ts';
import { parseExpectedSchema, readExpectedSchemaText } from './expected-schema.ts';
import { BUNDLED_MIGRATIONS_DIR, loadMigrationFiles } from './migration-files.ts';
import type { ExpectedSchema } from './drift.ts';
import type { SchemaContext } from './migrator.ts';
import { digestOf, verifiedSchemaFile } from './verified-schema.ts';

/** In the embedded database's data directory: the last start's verified schema (see prepareSchema). */
export const VERIFIED_SCHEMA_FILE = 'schema-verified.json';

/**
 * The schema lifecycle's inputs for this configuration: the migrations and snapshot shipped with the
 * app. On the embedded database, starts skip the drift check while the catalog is unchanged (only
 * this node opens it, under the data-directory lock); a PostgreSQL server runs the full check, which
 * costs it tens of milliseconds.
 */
export function schemaContext(
  database: Database,
  config: Pick<Config, 'migrationsDir' | 'migrationLockTimeoutMs'>,
  deps: { logger: Logger; version: string },
): SchemaContext {
  const dir = config.migrationsDir ?? BUNDLED_MIGRATIONS_DIR;
  const snapshot = readExpectedSchemaText(dir);
  let expected: ExpectedSchema | undefined;
  return {
    database,
    migrations: loadMigrationFiles(dir),
    // Parsed when first read: a start that reuses a verification never needs it (zod: 0.1–0.3 s).
    get expected() {
      return (expected ??= parseExpectedSchema(snapshot, dir));
    },
    expectedDigest: digestOf(snapshot),
    appVersion: deps.version,
    logger: deps.logger,
    lockTimeoutMs: config.migrationLockTimeoutMs,
    // An embedded database's location is its data directory ('memory' for one in memory only).
    ...(database.kind === 'embedded' && database.location !== 'memory'
      ? { verified: verifiedSchemaFile(path.join(database.location, VERIFIED_SCHEMA_FILE)) }
      : {}),
  };
}
