// Retrieval latency (issue 15: p95 ≤ 50 ms at 50,000 chunks with pgvector/HNSW, ≤ 300 ms at 10,000
// chunks on the exact fallback). Chunks are inserted directly, in bulk, with vectors of realistic
// dimensions (1536 by default: OpenAI's text-embedding-3-small); each timed `ground()` is the whole
// retrieval (access check, keyword and vector search, fusion, passages, context) with the question's
// embedding answered in-process, so the provider's own latency is left out. Beside it, its peer in the
// same run: the bare vector search alone on the same database.
// In `npm run bench` (BENCH_ONLY=retrieval), or standalone: `node --import tsx bench/retrieval.bench.ts`.
// BENCH_HNSW_CHUNKS, BENCH_EXACT_CHUNKS, BENCH_DIMENSIONS, BENCH_QUERIES change the run;
// BENCH_DATABASE_URL names the PostgreSQL server (default: the test server's postgres database).
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { openDatabase, type Database } from '../src/db/database.ts';
import { admin, migrate, percentile, silent, timed } from './bench-database.ts';
import { ExactVectorIndex } from '../src/knowledge/exact-vectors.ts';
import type { EmbeddingGateway } from '../src/knowledge/embeddings.ts';
import { Retriever } from '../src/knowledge/retrieval.ts';
import { exactQuery, RetrievalRepository } from '../src/knowledge/retrieval.repository.ts';
import { describeVectorSearch, VectorIndex } from '../src/knowledge/vector-index.ts';

export const HNSW_GOAL_MS = 50;
export const EXACT_GOAL_MS = 300;

export interface RetrievalResult {
  database: 'PGlite' | 'PostgreSQL';
  search: string;
  chunks: number;
  dimensions: number;
  queries: number;
  insertMs: number;
  indexMs: number | null;
  groundP50: number;
  groundP95: number;
  /** The bare vector search alone (HNSW query; in-memory exact scan). */
  peer: string;
  peerP50: number;
  peerP95: number;
  /** PostgreSQL only: cosine over real[] in plain SQL, the search without the in-memory vectors. */
  sqlP50?: number;
  goalMs: number;
}

/** Random floats the vectors are cut from: a slice at an offset is a vector. */
const POOL = 400_000;

/** A user, a file and a knowledge base holding `chunks` chunks of `dimensions`; returns the ids. */
async function seed(database: Database, chunks: number, dimensions: number) {
  const db = database.db;
  const userId = randomUUID();
  const kbId = randomUUID();
  const fileId = randomUUID();
  await sql`INSERT INTO users (id, username, password_hash, role) VALUES (${userId}, 'bench', 'x', 'member')`.execute(
    db,
  );
  await sql`INSERT INTO files (id, owner_id, name, media_type, kind, size_bytes, sha256)
            VALUES (${fileId}, ${userId}, 'bench.pdf', 'application/pdf', 'document', 0, '')`.execute(db);
  await sql`INSERT INTO file_contents (file_id, content) VALUES (${fileId}, '\\x00'::bytea)`.execute(db);
  await sql`INSERT INTO knowledge_bases (id, owner_id, name, embedding_model)
            VALUES (${kbId}, ${userId}, 'bench', 'bench/embed')`.execute(db);
  // Counted as ingestion counts what it embedded (retrieval reads the total from here).
  await sql`INSERT INTO knowledge_base_files (kb_id, file_id, status, embedded_chunks, total_chunks)
            VALUES (${kbId}, ${fileId}, 'ready', ${chunks}, ${chunks})`.execute(db);
  await sql`DROP TABLE IF EXISTS bench_pool`.execute(db);
  await sql`CREATE TABLE bench_pool AS
            SELECT array(SELECT (random() - 0.5)::real FROM generate_series(1, ${sql.lit(POOL)})) AS v`.execute(
    db,
  );
  const [insertMs] = await timed(async () => {
    for (let from = 0; from < chunks; from += 5_000) {
      const to = Math.min(chunks, from + 5_000);
      // About 300 tokens of text a chunk, words varying with the chunk so keyword search has work.
      await sql`
        INSERT INTO knowledge_chunks (kb_id, file_id, chunk_index, text, page, headings, tokens, embedding)
        SELECT ${kbId}, ${fileId}, g, 'Chunk ' || g || ' about topic ' || (g % 997) || ' and part ' || (g % 101) || ': '
                 || repeat('the pump valve filter seal motor bearing housing manual section ', 18),
               g / 4 + 1, '{}', 300,
               p.v[(g * 7919) % ${sql.lit(POOL - dimensions)} + 1 : (g * 7919) % ${sql.lit(POOL - dimensions)} + ${sql.lit(dimensions)}]
          FROM generate_series(${sql.lit(from)}, ${sql.lit(to - 1)}) AS g, bench_pool p`.execute(db);
    }
  });
  await sql`ANALYZE knowledge_chunks`.execute(db);
  const pool = await sql<{ v: string }>`SELECT v::text AS v FROM bench_pool`.execute(db);
  const floats = pool.rows[0]!.v.slice(1, -1).split(',').map(Number);
  return { userId, kbId, insertMs, floats };
}

async function run(
  database: Database,
  kind: RetrievalResult['database'],
  options: { chunks: number; dimensions: number; queries: number },
): Promise<RetrievalResult> {
  const { chunks, dimensions, queries } = options;
  const { userId, kbId, insertMs, floats } = await seed(database, chunks, dimensions);
  const vectors = new VectorIndex(database, silent);
  const mode = await vectors.mode();
  let indexMs: number | null = null;
  if (mode.kind === 'pgvector') {
    // Built over the data at once here; a real knowledge base builds it as its chunks arrive.
    await sql`SET maintenance_work_mem = '1GB'`.execute(database.db);
    [indexMs] = await timed(() => vectors.ensureIndex(dimensions));
  }
  // Questions: vectors that are not stored chunks (other offsets of the pool).
  const questions = Array.from({ length: queries }, (_, index) => {
    const at = (index * 104_729 + 13) % (floats.length - dimensions);
    return floats.slice(at, at + dimensions);
  });
  let next = 0;
  const gateway: EmbeddingGateway = {
    exchange: async () => ({
      kind: 'whole',
      status: 200,
      headers: {},
      body: JSON.stringify({ data: [{ index: 0, embedding: questions[next % questions.length] }] }),
    }),
  } as unknown as EmbeddingGateway;
  const repository = new RetrievalRepository(database.db);
  const exact = new ExactVectorIndex(database.db);
  const retriever = new Retriever({
    repository,
    vectors,
    exact,
    gateway,
    files: { find: async () => undefined, findWithContent: async () => undefined },
    wholeFileTokens: 6000,
  });
  const principal = { userId, username: 'bench', role: 'member', via: 'session' } as const;
  const ground = (question: string) =>
    retriever.ground(
      principal,
      { knowledgeBaseIds: [kbId], fileIds: [], question, tokenBudget: 3000 },
      { log: silent },
    );
  const peer = (vector: number[]) =>
    mode.kind === 'pgvector'
      ? repository.pgvectorSearch([kbId], vector, 40, chunks)
      : exact.search([kbId], vector, 40);

  // Warm-up: plans, caches, and on the exact path the first load of the vectors (timed apart).
  const [firstMs] = await timed(() => ground('pump seal topic 5'));
  for (let index = 0; index < 3; index++) await peer(questions[index]!);
  const groundTimes: number[] = [];
  const peerTimes: number[] = [];
  for (let index = 0; index < queries; index++) {
    next = index;
    const [groundMs] = await timed(() => ground(`What about topic ${index % 997} of the pump bearing?`));
    groundTimes.push(groundMs);
    const [peerMs] = await timed(() => peer(questions[index]!));
    peerTimes.push(peerMs);
  }
  let sqlP50: number | undefined;
  if (mode.kind === 'exact') {
    const sqlTimes: number[] = [];
    for (let index = 0; index < 3; index++)
      sqlTimes.push((await timed(() => exactQuery([kbId], questions[index]!, 40).execute(database.db)))[0]);
    sqlP50 = percentile(sqlTimes, 50);
  }
  void firstMs;
  return {
    database: kind,
    search: describeVectorSearch(mode).split(':')[0]!,
    chunks,
    dimensions,
    queries,
    insertMs,
    indexMs,
    groundP50: percentile(groundTimes, 50),
    groundP95: percentile(groundTimes, 95),
    peer: mode.kind === 'pgvector' ? 'HNSW query alone' : 'in-memory exact scan alone',
    peerP50: percentile(peerTimes, 50),
    peerP95: percentile(peerTimes, 95),
    ...(sqlP50 !== undefined ? { sqlP50 } : {}),
    goalMs: mode.kind === 'pgvector' ? HNSW_GOAL_MS : EXACT_GOAL_MS,
  };
}

/** Both databases: PGlite with pgvector/HNSW, PostgreSQL without pgvector (exact). */
export async function retrievalBenchmark(): Promise<RetrievalResult[]> {
  const dimensions = Number(process.env.BENCH_DIMENSIONS ?? 1536);
  const queries = Number(process.env.BENCH_QUERIES ?? 40);
  const results: RetrievalResult[] = [];

  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'keyway-bench-retrieval-'));
  const embedded = await openDatabase({ kind: 'embedded', dataDir }, { purpose: 'bench' });
  try {
    await migrate(embedded);
    results.push(
      await run(embedded, 'PGlite', {
        chunks: Number(process.env.BENCH_HNSW_CHUNKS ?? 50_000),
        dimensions,
        queries,
      }),
    );
  } finally {
    await embedded.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }

  const adminUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const name = `kw_bench_${randomBytes(6).toString('hex')}`;
  await admin(adminUrl, `CREATE DATABASE ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const postgres = await openDatabase({ kind: 'postgres', url: url.toString() }, { purpose: 'bench' });
  try {
    await migrate(postgres);
    results.push(
      await run(postgres, 'PostgreSQL', {
        chunks: Number(process.env.BENCH_EXACT_CHUNKS ?? 10_000),
        dimensions,
        queries,
      }),
    );
  } finally {
    await postgres.close();
    await admin(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  }
  return results;
}

/** The results as a Markdown table. */
export function formatRetrievalReport(results: readonly RetrievalResult[]): string {
  const lines = [
    '| database | vector search | chunks × dims | ground() p50 / p95 | peer: bare vector search p50 / p95 | p95 ratio | goal (p95) | bulk insert | index build |',
    '|---|---|---|---:|---:|---:|---|---:|---:|',
  ];
  for (const r of results) {
    const met = r.groundP95 <= r.goalMs ? 'met' : 'MISSED';
    lines.push(
      `| ${r.database} | ${r.search} | ${r.chunks.toLocaleString('en')} × ${r.dimensions} | ${r.groundP50.toFixed(1)} / ${r.groundP95.toFixed(1)} ms | ${r.peer}: ${r.peerP50.toFixed(1)} / ${r.peerP95.toFixed(1)} ms | ${(r.groundP95 / r.peerP95).toFixed(2)}× | ≤ ${r.goalMs} ms ${met} | ${(r.insertMs / 1000).toFixed(1)} s | ${r.indexMs === null ? '—' : `${(r.indexMs / 1000).toFixed(1)} s`} |`,
    );
  }
  const sqlOnly = results.find((r) => r.sqlP50 !== undefined);
  if (sqlOnly)
    lines.push(
      '',
      `Cosine over real[] in plain SQL (no in-memory vectors) at the same size: ${sqlOnly.sqlP50!.toFixed(0)} ms (median of 3).`,
    );
  return lines.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  console.log(formatRetrievalReport(await retrievalBenchmark()));
}
