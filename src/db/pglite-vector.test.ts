import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { describeVectorSearch, probeVectorSearch, VectorIndex } from '../knowledge/vector-index.ts';
import { EMBEDDED_PGDATA, openDatabase, type Database } from './database.ts';

const silent = pino({ level: 'silent' });
const dirs: string[] = [];
const opened: Database[] = [];
afterEach(async () => {
  for (const database of opened.splice(0)) await database.close();
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

async function open(dataDir: string): Promise<Database> {
  const database = await openDatabase({ kind: 'embedded', dataDir }, { purpose: 'test' });
  opened.push(database);
  return database;
}

async function reopen(database: Database, dataDir: string): Promise<Database> {
  await database.close();
  opened.splice(opened.indexOf(database), 1);
  return open(dataDir);
}

/** A data directory initialised once (initdb is the slow part of a first open), copied per test. */
let template: string;
beforeAll(async () => {
  template = fs.mkdtempSync(path.join(os.tmpdir(), 'keyway-pgvector-template-'));
  await (await openDatabase({ kind: 'embedded', dataDir: template }, { purpose: 'test' })).close();
  for (const name of ['keyway-pgvector', 'keyway-no-pgvector'])
    fs.rmSync(path.join(template, EMBEDDED_PGDATA, name), { force: true });
});
afterAll(() => fs.rmSync(template, { recursive: true, force: true }));

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keyway-pgvector-'));
  fs.cpSync(template, dir, { recursive: true });
  dirs.push(dir);
  return dir;
}

const marker = (dataDir: string, name: string) => fs.existsSync(path.join(dataDir, EMBEDDED_PGDATA, name));
/** A statement that needs pgvector's library: it fails where PGlite opened without the extension. */
const distance = (database: Database) =>
  sql<{ d: number }>`SELECT '[1,0]'::vector <=> '[0,1]'::vector AS d`.execute(database.db);

const sharedBuffers = async (database: Database) =>
  (await sql<{ shared_buffers: string }>`SHOW shared_buffers`.execute(database.db)).rows[0]!.shared_buffers;

describe('pgvector on the embedded database', () => {
  it('is loaded only once a database uses it, and from then on at every open', async () => {
    const dataDir = tempDir();
    let database = await open(dataDir);
    // A database that never used it opens without it, and says so for the next opens.
    expect(marker(dataDir, 'keyway-no-pgvector')).toBe(true);
    expect(marker(dataDir, 'keyway-pgvector')).toBe(false);
    // Its buffer pool is small (PGlite zeroes the pool at every open); a knowledge database's is not.
    expect(await sharedBuffers(database)).toBe('32MB');
    // `keyway doctor` still tells that vector search is there, to be loaded at the first retrieval.
    expect(describeVectorSearch(await probeVectorSearch(database))).toMatch(/^pgvector \(bundled/);

    // The first retrieval or ingestion loads and creates it.
    const mode = await new VectorIndex(database, silent).mode();
    expect(mode).toMatchObject({ kind: 'pgvector', installed: true });
    expect((await distance(database)).rows[0]!.d).toBeCloseTo(1);
    expect(marker(dataDir, 'keyway-pgvector')).toBe(true);
    expect(marker(dataDir, 'keyway-no-pgvector')).toBe(false);

    expect(await sharedBuffers(database)).toBe('128MB');
    // Reopened, the database has it at once: nothing asks for it to be loaded first.
    database = await reopen(database, dataDir);
    expect((await distance(database)).rows[0]!.d).toBeCloseTo(1);
    expect(await sharedBuffers(database)).toBe('128MB');
    expect(describeVectorSearch(await probeVectorSearch(database))).toMatch(
      /^pgvector 0\.\d+\.\d+ with HNSW$/,
    );
  });

  it('loads it for a directory that has the extension but neither marker (made before the markers)', async () => {
    const dataDir = tempDir();
    let database = await open(dataDir);
    await new VectorIndex(database, silent).mode();
    await database.close();
    opened.splice(opened.indexOf(database), 1);
    fs.rmSync(path.join(dataDir, EMBEDDED_PGDATA, 'keyway-pgvector'));

    database = await open(dataDir);
    expect((await distance(database)).rows[0]!.d).toBeCloseTo(1);
    expect(marker(dataDir, 'keyway-pgvector')).toBe(true);
  });

  it('lets statements queued while it loads run after it, in order', async () => {
    const dataDir = tempDir();
    const database = await open(dataDir);
    await sql`CREATE TABLE t (n int)`.execute(database.db);
    const writes = Array.from({ length: 20 }, (_, n) =>
      sql`INSERT INTO t VALUES (${n})`.execute(database.db),
    );
    const loading = new VectorIndex(database, silent).mode();
    const later = Array.from({ length: 20 }, (_, n) =>
      sql`INSERT INTO t VALUES (${n + 20})`.execute(database.db),
    );
    await Promise.all([...writes, loading, ...later]);
    const rows = await sql<{ n: number }>`SELECT n FROM t ORDER BY n`.execute(database.db);
    expect(rows.rows.map((row) => row.n)).toEqual(Array.from({ length: 40 }, (_, n) => n));
    expect((await distance(database)).rows[0]!.d).toBeCloseTo(1);
  });
});
