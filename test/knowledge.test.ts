import { randomBytes, randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { FilesRepository } from '../src/files/files.repository.ts';
import { embeddingInput } from '../src/knowledge/ingestion-worker.ts';
import { KnowledgeRepository } from '../src/knowledge/knowledge.repository.ts';
import { fakeEmbedding, startFakeOpenAiExtras, type FakeOpenAiExtras } from './fakes/fake-openai-extras.ts';
import { buildEncryptedPdf, buildPdf } from './support/documents.ts';
import { BACKENDS } from './support/test-database.ts';
import { createTestKeyway, type TestKeyway } from './support/test-keyway.ts';

const DIMENSIONS = 16;
const MODEL = 'work/text-embedding-3-small';
/** Long enough that each of its 70 sections is a chunk of its own: more than one batch of 64. */
const SECTIONS = 70;
const markdown = [
  '# Handbook',
  ...Array.from({ length: SECTIONS }, (_, index) =>
    [
      `## Topic ${index + 1}`,
      `Paragraph about topic number ${index + 1}: ${'words and more words '.repeat(40)}`,
    ].join('\n\n'),
  ),
].join('\n\n');
const pdfPages = [1, 2, 3, 4].map(
  (page) => `This is page ${page} of the quarterly report, about revenue ${page}.`,
);

describe.each(BACKENDS)('knowledge bases and their ingestion [%s]', (backend) => {
  const key = `sk-canary-${randomBytes(16).toString('hex')}`;
  let fake: FakeOpenAiExtras;
  let harness: TestKeyway;
  let repository: KnowledgeRepository;
  let alice: { id: string; token: string };
  let bob: { id: string; token: string };

  beforeAll(async () => {
    fake = await startFakeOpenAiExtras({ validKeys: [key], defaultDimensions: DIMENSIONS });
    // The gateway's own retries off: the worker's retries are what these tests see.
    harness = await createTestKeyway(backend, { env: { KEYWAY_UPSTREAM_RETRIES: '0' } });
    repository = new KnowledgeRepository(harness.database.db);
    alice = await harness.user('alice');
    bob = await harness.user('bob');
    for (const user of [alice, bob]) {
      const credential = await harness.call('POST', '/api/credentials', {
        token: user.token,
        body: { name: 'work', provider: 'openai', secret: key, settings: { baseUrl: fake.url } },
      });
      expect(credential.status).toBe(201);
    }
  });
  afterAll(async () => {
    await harness?.close();
    await fake?.close();
  });
  beforeEach(() => {
    fake.requests.length = 0;
    fake.setScript(() => ({ kind: 'answer' }));
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

  async function createBase(token: string, name: string, embeddingModel = MODEL): Promise<string> {
    const created = await harness.call('POST', '/api/knowledge', { token, body: { name, embeddingModel } });
    expect(created.status, created.text).toBe(201);
    return created.body.id;
  }

  /** Polls the status API until the file is ready or failed. */
  async function settled(token: string, kbId: string, fileId: string): Promise<Record<string, any>> {
    return vi.waitFor(
      async () => {
        const files = await harness.call('GET', `/api/knowledge/${kbId}/files`, { token });
        const file = files.body.find((item: { fileId: string }) => item.fileId === fileId);
        if (!['ready', 'failed'].includes(file?.status)) throw new Error(`still ${file?.progress}`);
        return file;
      },
      { timeout: 30_000, interval: 50 },
    );
  }

  const embeddingRequests = () => fake.requests.filter((request) => request.endpoint === 'embeddings');
  const inputsOf = (request: { json?: Record<string, unknown> }) =>
    (request.json!['input'] as string[]).length;

  it('ingests a multi-page PDF and a Markdown file: chunks with pages, headings and vectors, embedded in batches, usage recorded', async () => {
    const kbId = await createBase(alice.token, 'Handbook');
    const pdfId = await upload(alice.token, 'report.pdf', await buildPdf(pdfPages));
    const mdId = await upload(alice.token, 'handbook.md', new TextEncoder().encode(markdown));
    for (const fileId of [pdfId, mdId]) {
      const added = await harness.call('POST', `/api/knowledge/${kbId}/files`, {
        token: alice.token,
        body: { fileId },
      });
      expect(added.status, added.text).toBe(201);
      expect(['queued', 'parsing', 'embedding', 'ready']).toContain(added.body.status);
    }

    const pdf = await settled(alice.token, kbId, pdfId);
    const md = await settled(alice.token, kbId, mdId);
    expect(pdf).toMatchObject({ status: 'ready', error: null, totalChunks: 4, embeddedChunks: 4 });
    expect(pdf.progress).toBe('ready (4 chunks)');
    expect(md.status).toBe('ready');
    expect(md.totalChunks).toBeGreaterThanOrEqual(SECTIONS);

    const pdfChunks = await repository.chunks(alice.id, kbId, pdfId);
    expect(pdfChunks.map((chunk) => chunk.page)).toEqual([1, 2, 3, 4]);
    expect(pdfChunks[2]!.text).toContain('page 3 of the quarterly report');
    const mdChunks = await repository.chunks(alice.id, kbId, mdId);
    expect(mdChunks).toHaveLength(md.totalChunks);
    expect(mdChunks.find((chunk) => chunk.text.includes('topic number 42:'))!.headings).toEqual([
      'Handbook',
      'Topic 42',
    ]);
    for (const chunk of [...pdfChunks, ...mdChunks]) {
      expect(chunk.page === null || chunk.page >= 1).toBe(true);
      // The vector of the chunk's text with its heading path first, as the fake made it.
      expect(chunk.embedding.map(Math.fround)).toEqual(fakeEmbedding(embeddingInput(chunk), DIMENSIONS));
    }

    // Batched: at most one call per 64 chunks of each file, every chunk embedded exactly once.
    const requests = embeddingRequests();
    expect(requests.length).toBeLessThanOrEqual(Math.ceil(4 / 64) + Math.ceil(mdChunks.length / 64));
    expect(requests.every((request) => inputsOf(request) <= 64)).toBe(true);
    expect(requests.reduce((sum, request) => sum + inputsOf(request), 0)).toBe(4 + mdChunks.length);
    expect(requests.map(inputsOf)).toContain(64);

    // The owner's usage shows the embeddings, as for their own calls.
    await vi.waitFor(
      async () => {
        const usage = await harness.call('GET', '/api/usage?groupBy=model', { token: alice.token });
        expect(usage.body.rows).toEqual(
          expect.arrayContaining([
            expect.objectContaining({ key: 'text-embedding-3-small', requests: requests.length }),
          ]),
        );
      },
      { timeout: 10_000, interval: 100 },
    );

    // The list shows the knowledge base with its files ready.
    const list = await harness.call('GET', '/api/knowledge', { token: alice.token });
    expect(list.body).toEqual([expect.objectContaining({ id: kbId, fileCount: 2, readyCount: 2 })]);
  });

  it('fails an encrypted PDF with a readable reason, and embeds nothing', async () => {
    const kbId = await createBase(alice.token, 'Locked');
    // Uploads refuse one now (test/files.test.ts); a file stored before that still meets ingestion.
    const fileId = randomUUID();
    await new FilesRepository(harness.database.db).insert(alice.id, {
      id: fileId,
      name: 'locked.pdf',
      mediaType: 'application/pdf',
      kind: 'document',
      sha256: '0'.repeat(64),
      content: buildEncryptedPdf(),
    });
    await harness.call('POST', `/api/knowledge/${kbId}/files`, { token: alice.token, body: { fileId } });
    const file = await settled(alice.token, kbId, fileId);
    expect(file.status).toBe('failed');
    expect(file.error).toMatch(/encrypted/);
    expect(file.progress).toMatch(/^failed: .*encrypted/);
    expect(embeddingRequests()).toHaveLength(0);
  });

  it('fails a file whose embeddings the provider refuses, with the reason', async () => {
    fake.setScript(() => ({ kind: 'error', status: 400, message: 'This model does not exist.' }));
    const kbId = await createBase(alice.token, 'Refused');
    const fileId = await upload(alice.token, 'note.md', new TextEncoder().encode('# Note\n\nSome text.'));
    await harness.call('POST', `/api/knowledge/${kbId}/files`, { token: alice.token, body: { fileId } });
    const file = await settled(alice.token, kbId, fileId);
    expect(file.status).toBe('failed');
    expect(file.error).toMatch(/^Embedding with work\/text-embedding-3-small failed: /);
    expect(await repository.chunks(alice.id, kbId, fileId)).toHaveLength(0);
  });

  it('retries a provider that is briefly unavailable, then finishes', async () => {
    fake.setScript((_request, index) =>
      index === 0 ? { kind: 'error', status: 503, message: 'Overloaded, try again.' } : { kind: 'answer' },
    );
    const kbId = await createBase(alice.token, 'Retried');
    const fileId = await upload(alice.token, 'note.md', new TextEncoder().encode('# Note\n\nSome text.'));
    await harness.call('POST', `/api/knowledge/${kbId}/files`, { token: alice.token, body: { fileId } });
    const file = await settled(alice.token, kbId, fileId);
    expect(file).toMatchObject({ status: 'ready', error: null });
    expect(embeddingRequests()).toHaveLength(2);
  });

  it('refuses a model the caller cannot use, a duplicate name, and an image', async () => {
    const unknown = await harness.call('POST', '/api/knowledge', {
      token: alice.token,
      body: { name: 'X', embeddingModel: 'nobody/nothing' },
    });
    expect(unknown.status).toBeGreaterThanOrEqual(400);
    expect(unknown.status).toBeLessThan(500);
    await createBase(alice.token, 'Twice');
    const twice = await harness.call('POST', '/api/knowledge', {
      token: alice.token,
      body: { name: 'Twice', embeddingModel: MODEL },
    });
    expect(twice.status).toBe(409);
    const kbId = await createBase(alice.token, 'Images');
    const png = Uint8Array.from([
      0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0x49, 0x48, 0x44, 0x52,
    ]);
    const imageId = await upload(alice.token, 'pixel.png', png);
    const image = await harness.call('POST', `/api/knowledge/${kbId}/files`, {
      token: alice.token,
      body: { fileId: imageId },
    });
    expect(image.status).toBe(415);
  });

  it("answers 404 to another member on every route, and never takes someone else's file", async () => {
    const kbId = await createBase(alice.token, 'Private');
    const fileId = await upload(alice.token, 'private.md', new TextEncoder().encode('# Secret\n\nPlans.'));
    await harness.call('POST', `/api/knowledge/${kbId}/files`, { token: alice.token, body: { fileId } });
    const routes: [string, string, unknown?][] = [
      ['GET', `/api/knowledge/${kbId}`],
      ['PATCH', `/api/knowledge/${kbId}`, { name: 'Mine now' }],
      ['DELETE', `/api/knowledge/${kbId}`],
      ['GET', `/api/knowledge/${kbId}/files`],
      ['POST', `/api/knowledge/${kbId}/files`, { fileId }],
      ['DELETE', `/api/knowledge/${kbId}/files/${fileId}`],
    ];
    for (const [method, path, body] of routes) {
      const response = await harness.call(method, path, { token: bob.token, body });
      expect(response.status, `${method} ${path}`).toBe(404);
    }
    const bobs = await harness.call('GET', '/api/knowledge', { token: bob.token });
    expect(bobs.body).toEqual([]);

    // Bob's own knowledge base cannot take Alice's file.
    const bobKb = await createBase(bob.token, 'Bob');
    const stolen = await harness.call('POST', `/api/knowledge/${bobKb}/files`, {
      token: bob.token,
      body: { fileId },
    });
    expect(stolen.status).toBe(404);
    expect(await harness.call('GET', `/api/knowledge/${bobKb}/files`, { token: bob.token })).toMatchObject({
      body: [],
    });
    // Alice's is untouched.
    const still = await harness.call('GET', `/api/knowledge/${kbId}`, { token: alice.token });
    expect(still.body.name).toBe('Private');
  });

  it('takes over a job whose node died mid-way and finishes it without duplicate chunks', async () => {
    const kbId = await createBase(alice.token, 'Resumed');
    const fileId = await upload(alice.token, 'handbook.md', new TextEncoder().encode(markdown));
    await harness.call('POST', `/api/knowledge/${kbId}/files`, { token: alice.token, body: { fileId } });
    const first = await settled(alice.token, kbId, fileId);
    const total: number = first.totalChunks;
    const half = Math.floor(total / 2);

    // A node embedded half of the file, then died holding the lease: it has expired.
    const db = harness.database.db;
    await db
      .deleteFrom('knowledge_chunks')
      .where('kb_id', '=', kbId)
      .where('file_id', '=', fileId)
      .where('chunk_index', '>=', half)
      .execute();
    fake.requests.length = 0;
    await db
      .updateTable('knowledge_base_files')
      .set({
        status: 'embedding',
        embedded_chunks: half,
        leased_by: 'dead-node:1',
        lease_until: sql<Date>`now() - interval '1 minute'`,
      })
      .where('kb_id', '=', kbId)
      .where('file_id', '=', fileId)
      .execute();

    const resumed = await settled(alice.token, kbId, fileId);
    expect(resumed).toMatchObject({ status: 'ready', totalChunks: total, embeddedChunks: total });
    const chunks = await repository.chunks(alice.id, kbId, fileId);
    expect(chunks.map((chunk) => chunk.index)).toEqual(Array.from({ length: total }, (_, index) => index));
    // Only the missing half was embedded again.
    expect(embeddingRequests().reduce((sum, request) => sum + inputsOf(request), 0)).toBe(total - half);
  });

  it('re-embeds every file when the model changes', async () => {
    const kbId = await createBase(alice.token, 'Changing');
    const fileId = await upload(alice.token, 'note.md', new TextEncoder().encode('# Note\n\nFirst words.'));
    await harness.call('POST', `/api/knowledge/${kbId}/files`, { token: alice.token, body: { fileId } });
    await settled(alice.token, kbId, fileId);
    fake.requests.length = 0;
    const patched = await harness.call('PATCH', `/api/knowledge/${kbId}`, {
      token: alice.token,
      body: { embeddingModel: 'work/text-embedding-3-large' },
    });
    expect(patched.status, patched.text).toBe(200);
    expect(patched.body.embeddingModel).toBe('work/text-embedding-3-large');
    await vi.waitFor(
      async () => {
        const file = await settled(alice.token, kbId, fileId);
        expect(file.status).toBe('ready');
        expect(embeddingRequests().map((request) => request.json!['model'])).toEqual([
          'text-embedding-3-large',
        ]);
      },
      { timeout: 30_000, interval: 50 },
    );
  });

  it('deletes the chunks with the file, and with the knowledge base', async () => {
    const kbId = await createBase(alice.token, 'Deleting');
    const fileId = await upload(alice.token, 'report.pdf', await buildPdf(pdfPages));
    const otherId = await upload(alice.token, 'other.md', new TextEncoder().encode('# Other\n\nMore text.'));
    for (const id of [fileId, otherId])
      await harness.call('POST', `/api/knowledge/${kbId}/files`, {
        token: alice.token,
        body: { fileId: id },
      });
    await settled(alice.token, kbId, fileId);
    await settled(alice.token, kbId, otherId);
    expect(await repository.chunks(alice.id, kbId, fileId)).toHaveLength(4);

    expect((await harness.call('DELETE', `/api/files/${fileId}`, { token: alice.token })).status).toBe(204);
    expect(await repository.chunks(alice.id, kbId, fileId)).toHaveLength(0);
    const files = await harness.call('GET', `/api/knowledge/${kbId}/files`, { token: alice.token });
    expect(files.body.map((file: { fileId: string }) => file.fileId)).toEqual([otherId]);

    // Removing a file from the knowledge base keeps the file; deleting the base removes the rest.
    expect(await repository.chunks(alice.id, kbId, otherId)).not.toHaveLength(0);
    expect(
      (await harness.call('DELETE', `/api/knowledge/${kbId}/files/${otherId}`, { token: alice.token }))
        .status,
    ).toBe(204);
    expect(await repository.chunks(alice.id, kbId, otherId)).toHaveLength(0);
    expect((await harness.call('GET', `/api/files/${otherId}`, { token: alice.token })).status).toBe(200);
    expect((await harness.call('DELETE', `/api/knowledge/${kbId}`, { token: alice.token })).status).toBe(204);
    const count = await harness.database.db
      .selectFrom('knowledge_base_files')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('kb_id', '=', kbId)
      .executeTakeFirstOrThrow();
    expect(Number(count.n)).toBe(0);
  });
});
