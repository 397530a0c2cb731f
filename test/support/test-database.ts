import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import pino from 'pino';
import { inject } from 'vitest';
import { EMBEDDED_PGDATA, openDatabase, type Database, type DatabaseTarget } from '../../src/db/database.ts';
import { loadExpectedSchema } from '../../src/db/schema/expected-schema.ts';
import { loadMigrationFiles, type MigrationFile } from '../../src/db/schema/migration-files.ts';
import type { SchemaContext } from '../../src/db/schema/migrator.ts';

/** The two backends every database test runs against; test names carry `[embedded]` / `[postgres]`. */
export const BACKENDS = ['embedded', 'postgres'] as const;
export type Backend = (typeof BACKENDS)[number];

/** A fresh, empty database of either kind, and how to reach it from another process. */
export interface TestDatabaseTarget {
  target: DatabaseTarget;
  /** Flags for `bin/keyway` that point at it. */
  flags: string[];
  /** Environment a `bin/keyway` process needs for it: PostgreSQL deployments must be given a master key. */
  env: Record<string, string>;
  /** Deletes it. */
  dispose(): Promise<void>;
}

/**
 * A new empty database: on PostgreSQL a new database on the test server; embedded, a new data
 * directory copied from the blank template (PGlite's initdb takes seconds, a copy milliseconds).
 */
export async function createTestDatabase(backend: Backend): Promise<TestDatabaseTarget> {
  if (backend === 'postgres') {
    const name = `kw_test_${randomBytes(6).toString('hex')}`;
    await adminQuery(`CREATE DATABASE ${name}`);
    const url = databaseUrl(name);
    return {
      target: { kind: 'postgres', url, poolSize: 4 },
      flags: ['--database-url', url],
      env: { KEYWAY_MASTER_KEY: randomBytes(32).toString('base64') },
      dispose: () => adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
    };
  }
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'keyway-data-'));
  fs.cpSync(inject('pgliteTemplateDir'), path.join(dataDir, EMBEDDED_PGDATA), { recursive: true });
  return {
    target: { kind: 'embedded', dataDir },
    flags: ['--data', dataDir],
    env: {},
    dispose: async () => fs.rmSync(dataDir, { recursive: true, force: true }),
  };
}

/** Opens a test database in this process. */
export function openTestDatabase(
  target: TestDatabaseTarget,
  onQuery?: (sql: string) => void,
): Promise<Database> {
  return openDatabase(target.target, { purpose: 'test', ...(onQuery ? { onQuery } : {}) });
}

/** The URL of database `name` on the test server. */
export function databaseUrl(name: string): string {
  const url = new URL(inject('postgresUrl'));
  url.pathname = `/${name}`;
  return url.toString();
}

async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: inject('postgresUrl') });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

export const silentLogger = pino({ level: 'silent' });

/** A schema context over the bundled migrations (or the given ones). */
export function testSchemaContext(
  database: Database,
  migrations: MigrationFile[] = loadMigrationFiles(),
): SchemaContext {
  return {
    database,
    migrations,
    expected: loadExpectedSchema(),
    appVersion: '0.0.0-test',
    logger: silentLogger,
    lockTimeoutMs: 30_000,
  };
}
