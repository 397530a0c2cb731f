// What the database benchmarks (retrieval, search) share: timing, percentiles, a migrated database,
// and statements on the PostgreSQL server's admin connection (creating and dropping their databases).
import pg from 'pg';
import pino from 'pino';
import type { Database } from '../src/db/database.ts';
import { prepareSchema } from '../src/db/schema/lifecycle.ts';
import { schemaContext } from '../src/db/schema/schema-context.ts';

export const silent = pino({ level: 'silent' });

export async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const started = performance.now();
  const value = await fn();
  return [performance.now() - started, value];
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Applies every migration, as `keyway serve` would at its first start. */
export async function migrate(database: Database): Promise<void> {
  await prepareSchema(
    schemaContext(
      database,
      { migrationsDir: undefined, migrationLockTimeoutMs: 60_000 },
      { logger: silent, version: 'bench' },
    ),
    'auto',
  );
}

/** One statement on its own connection (CREATE/DROP DATABASE cannot run in a pool's transaction). */
export async function admin(url: string, statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}
