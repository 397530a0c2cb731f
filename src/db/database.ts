import path from 'node:path';
import os from 'node:os';
import type { PGlite } from '@electric-sql/pglite';
import type { Kysely } from 'kysely';
import { KeywayError, messageOf } from '../errors.ts';
import type { DB } from './tables.ts';
import { acquireDataDirLock } from './data-dir-lock.ts';
import { openPGliteThread, type PGliteEngine } from './pglite-thread.ts';
import { TYPE_PARSERS } from './type-parsers.mjs';
import { Mutex } from './mutex.ts';

/** One dedicated connection: what session-level state (advisory locks, `SET`) needs. */
export interface SqlSession {
  query<R = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<R[]>;
  /** Runs a script of one or more statements (no parameters), as a migration file is. */
  exec(script: string): Promise<void>;
}

export type DatabaseKind = 'embedded' | 'postgres';

/** Kysely over either backend, plus what the schema lifecycle needs beyond Kysely. */
export interface Database {
  readonly kind: DatabaseKind;
  /** Where the data is, fit to print: the data directory, or the URL without its password. */
  readonly location: string;
  readonly db: Kysely<DB>;
  withSession<T>(fn: (session: SqlSession) => Promise<T>): Promise<T>;
  close(): Promise<void>;
  /**
   * The embedded database in its thread: pgvector is bundled, and loaded at open only where the
   * database uses it; this loads it (before the extension is created). Absent elsewhere.
   */
  loadVectorExtension?(): Promise<void>;
}

export type DatabaseTarget =
  { kind: 'embedded'; dataDir: string } | { kind: 'postgres'; url: string; poolSize?: number };

export interface OpenDatabaseOptions {
  /** What this process is doing, recorded in the data-directory lock and the PostgreSQL application name. */
  purpose: string;
  /** Called when a lock left by a dead process was cleared (so the caller can log it). */
  onStaleLock?: (message: string) => void;
  /** Called with the SQL of every Kysely query (tests count round trips with it). */
  onQuery?: (sql: string) => void;
}

/** Subdirectory of the data directory that holds PGlite's files. */
export const EMBEDDED_PGDATA = 'pgdata';

/**
 * Opens the database. Embedded: takes the data-directory lock first (PGlite corrupts a directory that
 * two processes open), then PGlite. PostgreSQL: a pool, checked with one round trip so that an
 * unreachable server is reported here, in plain words, and not at the first query.
 */
export async function openDatabase(target: DatabaseTarget, options: OpenDatabaseOptions): Promise<Database> {
  return target.kind === 'embedded'
    ? openEmbedded(target.dataDir, options)
    : openPostgres(target.url, target.poolSize ?? 10, options);
}

async function openEmbedded(dataDir: string, options: OpenDatabaseOptions): Promise<Database> {
  const absolute = path.resolve(dataDir);
  const lock = acquireDataDirLock(absolute, { purpose: options.purpose, onStaleLock: options.onStaleLock });
  let pglite: PGliteEngine;
  // Kysely loads while PGlite opens in its thread: nothing on this thread delays the opening.
  const loadingKysely = loadKysely();
  try {
    pglite = await openPGliteThread(path.join(absolute, EMBEDDED_PGDATA));
  } catch (error) {
    lock.release();
    throw new KeywayError(
      'database_open_failed',
      `Could not open the embedded database in ${absolute}: ${messageOf(error)}`,
      {
        fix: `Check that ${absolute} is readable and writable. If the files are damaged, restore the directory from a backup.`,
        cause: error,
      },
    );
  }
  return wrapPGlite(await loadingKysely, pglite, absolute, () => lock.release(), options.onQuery);
}

/**
 * An embedded database that lives in memory only: for building the expected-schema snapshot and for
 * tests. `loadDataDir` starts it from a `dumpDataDir()` image, which skips PGlite's slow initdb.
 */
export async function openMemoryDatabase(
  options: { loadDataDir?: Blob | File } = {},
): Promise<Database & { pglite: PGlite }> {
  // Loaded here only: a file-backed database runs PGlite in its own thread (pglite-thread.ts), so
  // `serve` and the CLI need not load it on their main thread.
  const [{ PGlite }, kysely] = await Promise.all([import('@electric-sql/pglite'), loadKysely()]);
  const pglite = await PGlite.create({
    parsers: TYPE_PARSERS,
    ...(options.loadDataDir ? { loadDataDir: options.loadDataDir } : {}),
  });
  return Object.assign(
    wrapPGlite(kysely, pglite, 'memory', () => {}),
    { pglite },
  );
}

/**
 * Kysely and the database drivers are imported when a database opens, not with this module: `keyway
 * serve` imports it first thing to start PGlite's thread, and the CLI's API commands not at all.
 */
async function loadKysely() {
  const [{ Kysely, PostgresDialect }, { createPGliteDialect }] = await Promise.all([
    import('kysely'),
    import('./pglite-dialect.ts'),
  ]);
  return { Kysely, PostgresDialect, createPGliteDialect };
}

function wrapPGlite(
  { Kysely, createPGliteDialect }: Awaited<ReturnType<typeof loadKysely>>,
  pglite: PGliteEngine,
  location: string,
  afterClose: () => void,
  onQuery?: (sql: string) => void,
): Database {
  const mutex = new Mutex();
  const db = new Kysely<DB>({ dialect: createPGliteDialect(pglite, mutex), ...queryLog(onQuery) });
  const session: SqlSession = {
    query: async <R>(text: string, params: readonly unknown[] = []) =>
      (await pglite.query<R>(text, [...params])).rows,
    exec: async (script: string) => {
      await pglite.exec(script);
    },
  };
  let closed = false;
  return {
    kind: 'embedded',
    location,
    db,
    async withSession(fn) {
      const release = await mutex.acquire();
      try {
        return await fn(session);
      } finally {
        release();
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      const release = await mutex.acquire();
      try {
        await pglite.close();
      } finally {
        release();
        afterClose();
      }
    },
    ...(pglite.loadVector
      ? {
          async loadVectorExtension() {
            // It reopens the database: no statement or transaction of ours may be under way.
            const release = await mutex.acquire();
            try {
              await pglite.loadVector!();
            } finally {
              release();
            }
          },
        }
      : {}),
  };
}

async function openPostgres(url: string, poolSize: number, options: OpenDatabaseOptions): Promise<Database> {
  const [{ default: pg }, { Kysely, PostgresDialect }] = await Promise.all([import('pg'), loadKysely()]);
  const pool = new pg.Pool({
    connectionString: url,
    max: poolSize,
    application_name: applicationName(options.purpose),
    connectionTimeoutMillis: 10_000,
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
        return TYPE_PARSERS[oid] ?? pg.types.getTypeParser(oid, format);
      }) as typeof pg.types.getTypeParser,
    },
  });
  // A client that loses its server emits 'error': on the pool while it is idle, on the client itself
  // while it is checked out (by Kysely, a session). Without a listener either one ends the process.
  // The query running on it fails with the same error, and the pool drops the broken client.
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  const location = redactUrl(url);
  try {
    const client = await pool.connect();
    client.release();
  } catch (error) {
    await pool.end().catch(() => {});
    throw new KeywayError(
      'database_unreachable',
      `Could not connect to PostgreSQL at ${location}: ${messageOf(error)}`,
      {
        fix: 'Check that the server is running and that DATABASE_URL (or --database-url) names the right host, port, database and user.',
        cause: error,
      },
    );
  }
  const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }), ...queryLog(options.onQuery) });
  let closed = false;
  return {
    kind: 'postgres',
    location,
    db,
    async withSession(fn) {
      const client = await pool.connect();
      let broken: Error | undefined;
      try {
        return await fn({
          query: async <R>(text: string, params: readonly unknown[] = []) =>
            (await client.query(text, [...params])).rows as R[],
          exec: async (script: string) => {
            await client.query(script);
          },
        });
      } catch (error) {
        // A session that failed mid-way may still hold session state (a lock, an open transaction):
        // destroy it rather than hand it to the next user of the pool.
        broken = error instanceof Error ? error : new Error(String(error));
        throw error;
      } finally {
        client.release(broken);
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await db.destroy();
      // Kysely ends the pool only if it ran a query itself; sessions alone never start its driver.
      if (!pool.ending) await pool.end();
    },
  };
}

function queryLog(onQuery: ((sql: string) => void) | undefined) {
  return onQuery ? { log: (event: { query: { sql: string } }) => onQuery(event.query.sql) } : {};
}

/** Names this process in `pg_stat_activity`, so whoever waits on its locks can tell who it is. */
function applicationName(purpose: string): string {
  return `keyway ${purpose} pid=${process.pid} host=${os.hostname()}`.slice(0, 63);
}

/** The URL without its password, fit for logs and messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'postgres://(unparseable URL)';
  }
}
