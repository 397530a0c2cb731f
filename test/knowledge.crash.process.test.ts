import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOpenAiExtras, type FakeOpenAiExtras } from './fakes/fake-openai-extras.ts';
import { fakeKey } from './support/gateway-harness.ts';
import { ProcessPool } from './support/keyway-process.ts';
import { bootstrapAdmin, callServer, serveReady } from './support/process-keyway.ts';
import { createTestDatabase, type TestDatabaseTarget } from './support/test-database.ts';

/** 70 sections, each a chunk: two embedding batches (64, then 6). */
const SECTIONS = 70;
const markdown = [
  '# Handbook',
  ...Array.from({ length: SECTIONS }, (_, index) =>
    [`## Topic ${index + 1}`, `About topic ${index + 1}: ${'words and more words '.repeat(40)}`].join('\n\n'),
  ),
].join('\n\n');
const LEASE_SECONDS = 3;

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * A node SIGKILLed in the middle of embedding a file: its lease expires and the next node (here a
 * restart on the same PostgreSQL) resumes after the chunks already stored — no chunk twice, none
 * missing, and only the missing ones embedded (and paid for) again.
 */
describe('a node killed mid-ingestion [postgres]', () => {
  const pool = new ProcessPool();
  const key = fakeKey('sk-');
  let target: TestDatabaseTarget;
  let fake: FakeOpenAiExtras;
  let db: pg.Client;
  let token: string;

  beforeAll(async () => {
    target = await createTestDatabase('postgres');
    fake = await startFakeOpenAiExtras({ validKeys: [key], defaultDimensions: 16 });
    token = await bootstrapAdmin(target.flags, target.env);
    db = new pg.Client({ connectionString: target.flags[1] });
    await db.connect();
  });
  afterAll(async () => {
    await pool.stopAll();
    await db?.end();
    await fake?.close();
    await target?.dispose();
  });

  it('resumes on the next node after the lease, with no duplicate chunk', async () => {
    const env = { ...target.env, KEYWAY_INGESTION_LEASE: String(LEASE_SECONDS) };
    // The second embeddings call never answers: the node is killed while it waits.
    fake.setScript((request, index) =>
      request.endpoint === 'embeddings' && index >= 1 ? { kind: 'stall' } : { kind: 'answer' },
    );
    const first = await serveReady(pool, target.flags, env);
    const credential = await callServer(first.url, 'POST', '/api/credentials', {
      token,
      body: { name: 'work', provider: 'openai', secret: key, settings: { baseUrl: fake.url } },
    });
    expect(credential.status, credential.text).toBe(201);
    const form = new FormData();
    form.set('file', new Blob([markdown]), 'handbook.md');
    const uploaded = await fetch(`${first.url}/api/files`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
      body: form,
    });
    const fileId = ((await uploaded.json()) as { id: string }).id;
    const kb = await callServer(first.url, 'POST', '/api/knowledge', {
      token,
      body: { name: 'Handbook', embeddingModel: 'work/text-embedding-3-small' },
    });
    await callServer(first.url, 'POST', `/api/knowledge/${kb.body.id}/files`, { token, body: { fileId } });

    const stored = async () =>
      Number(
        (await db.query('SELECT count(*) AS n FROM knowledge_chunks WHERE file_id = $1', [fileId])).rows[0].n,
      );
    // The first batch is stored and the second call is in flight: kill the node there.
    await until('the second embeddings call', async () =>
      fake.requests.filter((request) => request.endpoint === 'embeddings').length >= 2 ? true : undefined,
    );
    await until('the first batch stored', async () => ((await stored()) === 64 ? true : undefined));
    first.server.child.kill('SIGKILL');
    await first.server.exited;
    const status = await db.query(
      'SELECT status, embedded_chunks, leased_by FROM knowledge_base_files WHERE file_id = $1',
      [fileId],
    );
    expect(status.rows[0]).toMatchObject({ status: 'embedding', embedded_chunks: 64 });
    expect(status.rows[0].leased_by).not.toBeNull();

    fake.setScript(() => ({ kind: 'answer' }));
    fake.requests.length = 0;
    const second = await serveReady(pool, target.flags, env);
    const ready = await until(
      'the file to be ready on the next node',
      async () => {
        const files = await callServer(second.url, 'GET', `/api/knowledge/${kb.body.id}/files`, { token });
        const file = files.body?.[0];
        return file?.status === 'ready' || file?.status === 'failed' ? file : undefined;
      },
      LEASE_SECONDS * 1000 + 30_000,
    );
    expect(ready.status).toBe('ready');
    const total: number = ready.totalChunks;
    expect(total).toBeGreaterThan(64);
    expect(ready.embeddedChunks).toBe(total);
    const chunks = await db.query(
      'SELECT chunk_index FROM knowledge_chunks WHERE file_id = $1 ORDER BY chunk_index',
      [fileId],
    );
    expect(chunks.rows.map((row) => row.chunk_index)).toEqual(
      Array.from({ length: total }, (_, index) => index),
    );
    // Only what was missing was embedded again.
    const inputs = fake.requests
      .filter((request) => request.endpoint === 'embeddings')
      .reduce((sum, request) => sum + (request.json!['input'] as string[]).length, 0);
    expect(inputs).toBe(total - 64);
  });
});
