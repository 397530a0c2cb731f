import { randomBytes, randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Principal } from '../src/auth/principal.ts';
import { doctorCommand } from '../src/cli/doctor.ts';
import { loadExpectedSchema } from '../src/db/schema/expected-schema.ts';
import { FilesRepository } from '../src/files/files.repository.ts';
import { readSchemaShape } from '../src/db/schema/catalog.ts';
import { diffSchema } from '../src/db/schema/drift.ts';
import { estimateTokens } from '../src/knowledge/chunker.ts';
import type { Grounder } from '../src/knowledge/grounding.ts';
import { ExactVectorIndex } from '../src/knowledge/exact-vectors.ts';
import { exactQuery, pgvectorQuery, RetrievalRepository } from '../src/knowledge/retrieval.repository.ts';
import { hnswIndexName } from '../src/knowledge/vector-index.ts';
import { startFakeOpenAiExtras, type FakeOpenAiExtras } from './fakes/fake-openai-extras.ts';
import { buildEncryptedPdf, buildPdf } from './support/documents.ts';
import { BACKENDS, createTestDatabase } from './support/test-database.ts';
import { createTestKeyway, type TestKeyway } from './support/test-keyway.ts';

const DIMENSIONS = 64;
const MODEL = 'work/text-embedding-3-small';
const QUESTION = 'What is the warranty period of the Zephyr pump?';
const ANSWER = 'The Zephyr pump carries a warranty period of five years from the date of purchase.';
const PUMPS = ['Boreas', 'Notus', 'Eurus', 'Aquilo', 'Favonius'];
/** 42 pages about pumps; page 37 alone says what the Zephyr's warranty is. */
const manualPages = Array.from({ length: 42 }, (_, index) => {
  const page = index + 1;
  if (page === 37) return `Section ${page}. ${ANSWER}`;
  const pump = PUMPS[page % PUMPS.length]!;
  return `Section ${page}. The ${pump} pump needs its filter cleaned every ${page * 10} hours of service and its seals checked yearly.`;
});
const log = pino({ level: 'silent' });

describe.each(BACKENDS)('retrieval: grounding answers in knowledge bases and files [%s]', (backend) => {
  const key = `sk-canary-${randomBytes(16).toString('hex')}`;
  let fake: FakeOpenAiExtras;
  let harness: TestKeyway;
  let grounder: Grounder;
  let alice: { id: string; token: string };
  let bob: { id: string; token: string };
  let kbId: string;
  let manualId: string;
  const principal = (user: { id: string }): Principal => ({
    userId: user.id,
    username: '',
    role: 'member',
    via: 'session',
  });

  async function upload(token: string, name: string, bytes: Uint8Array): Promise<string> {
    const form = new FormData();
    form.set('file', new Blob([bytes]), name);
    const response = await harness.keyway.app.request('/api/files', {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
      body: form,
    });
    expect(response.status).toBe(201);
    return ((await response.json()) as { id: string }).id;
  }

  beforeAll(async () => {
    fake = await startFakeOpenAiExtras({ validKeys: [key], defaultDimensions: DIMENSIONS });
    harness = await createTestKeyway(backend, {
      // Long enough for a short note, short enough that the 42-page manual is chunked when attached.
      env: { KEYWAY_UPSTREAM_RETRIES: '0', KEYWAY_WHOLE_FILE_TOKENS: '400' },
    });
    grounder = harness.keyway.services.grounder;
    alice = await harness.user('alice');
    bob = await harness.user('bob');
    for (const user of [alice, bob]) {
      const credential = await harness.call('POST', '/api/credentials', {
        token: user.token,
        body: { name: 'work', provider: 'openai', secret: key, settings: { baseUrl: fake.url } },
      });
      expect(credential.status).toBe(201);
    }
    const created = await harness.call('POST', '/api/knowledge', {
      token: alice.token,
      body: { name: 'Pumps', embeddingModel: MODEL },
    });
    expect(created.status, created.text).toBe(201);
    kbId = created.body.id;
    manualId = await upload(alice.token, 'pump-manual.pdf', await buildPdf(manualPages));
    const added = await harness.call('POST', `/api/knowledge/${kbId}/files`, {
      token: alice.token,
      body: { fileId: manualId },
    });
    expect(added.status, added.text).toBe(201);
    await vi.waitFor(
      async () => {
        const files = await harness.call('GET', `/api/knowledge/${kbId}/files`, { token: alice.token });
        if (files.body[0]?.status !== 'ready') throw new Error(`still ${files.body[0]?.progress}`);
      },
      { timeout: 60_000, interval: 50 },
    );
  });
  afterAll(async () => {
    await harness?.close();
    await fake?.close();
  });
  beforeEach(() => {
    fake.requests.length = 0;
    fake.setScript(() => ({ kind: 'answer' }));
  });

  it("finds the answer on page 37 of a 42-page PDF first, cites page 37, and opens the citation's passage", async () => {
    const grounding = await grounder.ground(
      principal(alice),
      { knowledgeBaseIds: [kbId], fileIds: [], question: QUESTION, tokenBudget: 2000 },
      { log },
    );
    expect(grounding.citations[0]).toMatchObject({
      n: 1,
      knowledgeBaseId: kbId,
      fileId: manualId,
      fileName: 'pump-manual.pdf',
      page: 37,
      headings: [],
    });
    expect(grounding.citations.map((citation) => citation.n)).toEqual(
      grounding.citations.map((_, index) => index + 1),
    );
    expect(grounding.context).toContain(`[1] pump-manual.pdf, page 37\n<<<\n${'Section 37. ' + ANSWER}`);
    expect(grounding.context).toMatch(/cite .* as \[n\]/i);
    expect(grounding.context).toMatch(/do not contain the answer, say so/);
    // The question was embedded once, as alice, with the knowledge base's model.
    const embeddings = fake.requests.filter((request) => request.endpoint === 'embeddings');
    expect(embeddings.map((request) => request.json!['input'])).toEqual([[QUESTION]]);

    const opened = await harness.call('GET', `/api/knowledge/passages/${grounding.citations[0]!.passageId}`, {
      token: alice.token,
    });
    expect(opened.status).toBe(200);
    expect(opened.body).toEqual({
      id: grounding.citations[0]!.passageId,
      knowledgeBaseId: kbId,
      fileId: manualId,
      fileName: 'pump-manual.pdf',
      page: 37,
      headings: [],
      text: `Section 37. ${ANSWER}`,
    });
  });

  it('still answers by keyword when the embedding provider fails', async () => {
    fake.setScript(() => ({ kind: 'error', status: 500, message: 'embeddings are down' }));
    const grounding = await grounder.ground(
      principal(alice),
      { knowledgeBaseIds: [kbId], fileIds: [], question: QUESTION, tokenBudget: 2000 },
      { log },
    );
    expect(fake.requests.filter((request) => request.endpoint === 'embeddings')).toHaveLength(1);
    expect(grounding.citations[0]).toMatchObject({ page: 37, fileId: manualId });
  });

  it("keeps another user's knowledge bases, files and passages out of reach", async () => {
    const asBob = principal(bob);
    const request = { fileIds: [], question: QUESTION, tokenBudget: 2000 };
    await expect(
      grounder.ground(asBob, { ...request, knowledgeBaseIds: [kbId] }, { log }),
    ).rejects.toMatchObject({
      code: 'not_found',
      message: expect.stringContaining(kbId),
    });
    await expect(
      grounder.ground(asBob, { ...request, knowledgeBaseIds: [], fileIds: [manualId] }, { log }),
    ).rejects.toMatchObject({ code: 'not_found', message: expect.stringContaining(manualId) });
    await expect(
      grounder.ground(asBob, { ...request, knowledgeBaseIds: ['not-a-uuid'] }, { log }),
    ).rejects.toMatchObject({ code: 'not_found' });

    const mine = await grounder.ground(
      principal(alice),
      { knowledgeBaseIds: [kbId], fileIds: [], question: QUESTION, tokenBudget: 2000 },
      { log },
    );
    const passageId = mine.citations[0]!.passageId!;
    expect(await grounder.passage(asBob, passageId)).toBeUndefined();
    const opened = await harness.call('GET', `/api/knowledge/passages/${passageId}`, { token: bob.token });
    expect(opened.status).toBe(404);
    expect(opened.body.error.code).toBe('not_found');
    for (const id of ['999999999', 'abc'])
      expect(
        (await harness.call('GET', `/api/knowledge/passages/${id}`, { token: alice.token })).status,
      ).toBe(404);
  });

  it('puts a short attached file in whole, and ranks a long one by keyword without a knowledge base', async () => {
    const note = 'Shift notes: the Zephyr pump in hall B was serviced on Monday by Dana.';
    const noteId = await upload(alice.token, 'notes.md', new TextEncoder().encode(note));
    const short = await grounder.ground(
      principal(alice),
      {
        knowledgeBaseIds: [],
        fileIds: [noteId],
        question: 'Who serviced the Zephyr pump?',
        tokenBudget: 2000,
      },
      { log },
    );
    expect(short.citations).toEqual([
      {
        n: 1,
        passageId: null,
        knowledgeBaseId: null,
        fileId: noteId,
        fileName: 'notes.md',
        page: null,
        headings: [],
      },
    ]);
    expect(short.context).toContain(`[1] notes.md\n<<<\n${note}\n>>>`);

    // An attachment that cannot be read (an encrypted PDF, stored before uploads refused them) is
    // left out; the others still answer.
    const lockedId = randomUUID();
    await new FilesRepository(harness.database.db).insert(alice.id, {
      id: lockedId,
      name: 'locked.pdf',
      mediaType: 'application/pdf',
      kind: 'document',
      sha256: '0'.repeat(64),
      content: buildEncryptedPdf(),
    });
    const withLocked = await grounder.ground(
      principal(alice),
      {
        knowledgeBaseIds: [],
        fileIds: [lockedId, noteId],
        question: 'Who serviced the Zephyr pump?',
        tokenBudget: 2000,
      },
      { log },
    );
    expect(withLocked.citations.map((citation) => citation.fileId)).toEqual([noteId]);

    // The manual is over KEYWAY_WHOLE_FILE_TOKENS: chunked and ranked by the question's words.
    const long = await grounder.ground(
      principal(alice),
      { knowledgeBaseIds: [], fileIds: [manualId], question: QUESTION, tokenBudget: 300 },
      { log },
    );
    expect(long.citations[0]).toMatchObject({ passageId: null, fileId: manualId, page: 37 });
    expect(long.citations.length).toBeLessThan(manualPages.length);
    expect(fake.requests.filter((request) => request.endpoint === 'embeddings')).toHaveLength(0);
  });

  it('fits the context in the token budget, and adds nothing when there is nothing to search', async () => {
    for (const tokenBudget of [200, 400, 1200]) {
      const grounding = await grounder.ground(
        principal(alice),
        { knowledgeBaseIds: [kbId], fileIds: [], question: QUESTION, tokenBudget },
        { log },
      );
      expect(grounding.citations.length).toBeGreaterThan(0);
      expect(estimateTokens(grounding.context!)).toBeLessThanOrEqual(tokenBudget);
    }
    const wide = await grounder.ground(
      principal(alice),
      { knowledgeBaseIds: [kbId], fileIds: [], question: QUESTION, tokenBudget: 1200 },
      { log },
    );
    const narrow = await grounder.ground(
      principal(alice),
      { knowledgeBaseIds: [kbId], fileIds: [], question: QUESTION, tokenBudget: 400 },
      { log },
    );
    expect(narrow.citations.length).toBeLessThan(wide.citations.length);
    expect(
      await grounder.ground(
        principal(alice),
        { knowledgeBaseIds: [], fileIds: [], question: QUESTION, tokenBudget: 2000 },
        { log },
      ),
    ).toEqual({ context: null, citations: [] });
  });

  it(
    backend === 'embedded'
      ? 'searches vectors through the HNSW index of their dimension (pgvector on PGlite)'
      : 'searches vectors exactly on a PostgreSQL server without pgvector',
    async () => {
      const db = harness.database.db;
      const vector = Array.from({ length: DIMENSIONS }, (_, index) => (index === 3 ? 1 : 0));
      // The vector of the page-37 chunk: both paths must rank that chunk first.
      const [answer] = (
        await sql<{ id: number; embedding: number[] }>`
          SELECT id, embedding FROM knowledge_chunks WHERE kb_id = ${kbId} AND page = 37`.execute(db)
      ).rows;
      const exact = new ExactVectorIndex(db);
      expect((await exact.search([kbId], answer!.embedding, 5))[0]).toBe(String(answer!.id));
      if (backend === 'embedded') {
        const plan = await db.transaction().execute(async (trx) => {
          await sql`SET LOCAL enable_sort = off`.execute(trx);
          const query = pgvectorQuery([kbId], vector, 40, { indexed: true }).compile(trx);
          return sql
            .raw<{ 'QUERY PLAN': string }>(
              `EXPLAIN ${query.sql.replace(/\$(\d+)/g, (_, n: string) => `'${String(query.parameters[Number(n) - 1])}'`)}`,
            )
            .execute(trx);
        });
        expect(plan.rows.map((row) => row['QUERY PLAN']).join('\n')).toContain(hnswIndexName(DIMENSIONS));
        // Through the index (as for a large knowledge base), the nearest chunk is still first.
        const hnsw = new RetrievalRepository(db, { exactBelowChunks: 0 });
        const chunks = await sql<{ n: number }>`
          SELECT count(*)::int AS n FROM knowledge_chunks WHERE kb_id = ${kbId}`.execute(db);
        expect((await hnsw.pgvectorSearch([kbId], answer!.embedding, 5, chunks.rows[0]!.n))[0]).toBe(
          String(answer!.id),
        );
        // The index was made at run time: the schema check at the next start does not call it drift.
        const live = await harness.database.withSession(readSchemaShape);
        expect(diffSchema(loadExpectedSchema(), live)).toEqual([]);
      } else {
        const extensions = await sql<{ n: number }>`
          SELECT count(*)::int AS n FROM pg_extension WHERE extname = 'vector'`.execute(db);
        expect(extensions.rows[0]!.n).toBe(0);
        // Plain SQL agrees with the in-memory search.
        const inSql = await exactQuery([kbId], answer!.embedding, 5).execute(db);
        expect(inSql.rows.map((row) => String(row.id))).toEqual(
          await exact.search([kbId], answer!.embedding, 5),
        );
      }
      // A chunk added (ingestion under way) is found at the next search; one removed is gone.
      const [added] = (
        await sql<{ id: number }>`
          INSERT INTO knowledge_chunks (kb_id, file_id, chunk_index, text, page, headings, tokens, embedding)
          SELECT kb_id, file_id, 1000, 'added', NULL, '{}', 1, ARRAY[${sql.join(vector)}]::real[]
            FROM knowledge_chunks WHERE id = ${answer!.id} RETURNING id`.execute(db)
      ).rows;
      expect((await exact.search([kbId], vector, 3))[0]).toBe(String(added!.id));
      await sql`DELETE FROM knowledge_chunks WHERE id = ${added!.id}`.execute(db);
      expect(await exact.search([kbId], vector, 50)).not.toContain(String(added!.id));
    },
  );
});

describe.each(BACKENDS)('keyway doctor names the vector search in use [%s]', (backend) => {
  it('says pgvector with HNSW on PGlite, and exact search with how to speed it up on PostgreSQL without pgvector', async () => {
    const target = await createTestDatabase(backend);
    try {
      let out = '';
      await doctorCommand(target.flags, {
        out: (text) => (out += text),
        err: () => {},
        env: { ...target.env },
      });
      if (backend === 'embedded') {
        // A database that never retrieved: pgvector is bundled and loaded at the first retrieval
        // (src/db/pglite-vector.test.ts; once loaded, doctor names its version).
        expect(out).toMatch(
          /^✔ vector search: pgvector \(bundled with the embedded database\) with HNSW, loaded and created at the first retrieval$/m,
        );
      } else {
        expect(out).toContain(
          'ℹ vector search: exact search: the pgvector extension is not installed on this server — install it for faster retrieval',
        );
      }
    } finally {
      await target.dispose();
    }
  });
});
