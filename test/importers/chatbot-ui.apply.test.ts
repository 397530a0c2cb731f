import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Principal } from '../../src/auth/principal.ts';
import { planChatbotUiImport } from '../../src/importers/chatbot-ui.plan.ts';
import { readChatbotUi } from '../../src/importers/chatbot-ui.reader.ts';
import { applyImport } from '../../src/importers/import-applier.ts';
import type { ImportPlan } from '../../src/importers/import-plan.ts';
import { renderImportReport } from '../../src/importers/import-report.ts';
import { openSourceDatabase } from '../../src/importers/source-database.ts';
import { createDefaultRegistry } from '../../src/providers/registry.ts';
import { startFakeOpenAiExtras } from '../fakes/fake-openai-extras.ts';
import { fakeKey } from '../support/gateway-harness.ts';
import { BACKENDS } from '../support/test-database.ts';
import { createTestKeyway, type TestKeyway } from '../support/test-keyway.ts';
import { chatbotUiFixture, type ProfileRow, type SourceFixture } from './source-fixtures.ts';

async function planFrom(
  url: string,
  ownerMap = new Map<string, string>(),
  embeddingModel?: string,
): Promise<ImportPlan> {
  const source = await openSourceDatabase(url);
  try {
    return planChatbotUiImport(await readChatbotUi(source), {
      providers: createDefaultRegistry(),
      policy: { allowLoopback: true, allowPrivate: false },
      ownerMap,
      maxFileBytes: 20 * 1024 * 1024,
      embeddingModel,
    });
  } finally {
    await source.close();
  }
}

describe.each(BACKENDS)('applying a Chatbot-UI import [%s]', (backend) => {
  let harness: TestKeyway;
  let source: SourceFixture | undefined;

  beforeEach(async () => {
    harness = await createTestKeyway(backend, { logLevel: 'info' });
  });
  afterEach(async () => {
    await source?.dispose();
    await harness.close();
  });

  const counts = async () => {
    const db = harness.database.db;
    const count = async (table: 'users' | 'credentials' | 'audit_log') =>
      Number(
        (
          await db
            .selectFrom(table)
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      );
    return {
      users: await count('users'),
      credentials: await count('credentials'),
      audit: await count('audit_log'),
    };
  };

  it('an older Chatbot-UI (missing columns, no models table): a failure mid-import leaves Keyway unchanged; then it imports once', async () => {
    const shared = fakeKey('sk-');
    const keys = { shared, anthropic: fakeKey('sk-ant-'), google: fakeKey('AIza') };
    source = await chatbotUiFixture({
      omit: ['groq_api_key', 'openrouter_api_key', 'azure_openai_embeddings_id'],
      withModels: false,
      profiles: [
        { username: 'alice', values: { openai_api_key: shared, anthropic_api_key: keys.anthropic } },
        { username: 'bob', values: { openai_api_key: shared, google_gemini_api_key: keys.google } },
        { username: 'carol', values: { openai_organization_id: 'org-without-key' } },
      ],
    });
    const existing = await harness.user('alice');
    const plan = await planFrom(source.url);
    expect(plan.notes.map((note) => note.message).join('\n')).toMatch(
      /no column groq_api_key, openrouter_api_key, azure_openai_embeddings_id[\s\S]*no custom models table/,
    );
    const before = await counts();

    // A failure after some rows were written: the transaction takes all of them back.
    const failing = applyImport(plan, {
      db: harness.database.db,
      cipher: harness.keyway.cipher,
      dryRun: false,
      onProgress: (done) => {
        if (done === 5) throw new Error('injected failure after 5 items');
      },
    });
    await expect(failing).rejects.toThrow('injected failure after 5 items');
    expect(await counts()).toEqual(before);

    const dry = await applyImport(plan, {
      db: harness.database.db,
      cipher: harness.keyway.cipher,
      dryRun: true,
    });
    expect(dry.rows.filter((row) => row.outcome === 'created')).toHaveLength(6);
    expect(await counts()).toEqual(before);

    const first = await applyImport(plan, {
      db: harness.database.db,
      cipher: harness.keyway.cipher,
      dryRun: false,
    });
    expect(first.rows.map((row) => `${row.kind} ${row.owner}/${row.name} ${row.outcome}`)).toEqual([
      'user alice/alice reused',
      'user bob/bob created',
      'user carol/carol created',
      'credential alice/openai created',
      'credential alice/anthropic created',
      'credential bob/openai created',
      'credential bob/google created',
    ]);
    // Created without a usable password: no password signs bob in until an admin sets one.
    for (const password of ['', '!no-password', 'correct horse battery']) {
      const login = await harness.call('POST', '/api/auth/login', { body: { username: 'bob', password } });
      expect(login.status).not.toBe(200);
    }
    const after = await counts();
    expect(after.users - before.users).toBe(2);
    expect(after.credentials - before.credentials).toBe(4);
    // One audit entry per user and credential created, as the services write them.
    expect(after.audit - before.audit).toBe(6);
    const audit = await harness.database.db
      .selectFrom('audit_log')
      .select(['action', 'actor', 'details'])
      .where('action', '=', 'credential.create')
      .execute();
    expect(audit.map((entry) => entry.details)).toContainEqual({
      name: 'anthropic',
      provider: 'anthropic',
      shared: false,
      importedFrom: 'chatbot-ui',
    });

    // Sealed exactly as the service seals: the service decrypts it and reports its hint.
    const alice: Principal = { userId: existing.id, username: 'alice', role: 'member', via: 'token' };
    const credentials = harness.keyway.gatewayCredentials;
    const rows = await credentials.usable(alice);
    const anthropic = rows.find((row) => row.name === 'anthropic')!;
    expect(credentials.revealSecret(anthropic)).toBe(keys.anthropic);
    const viaApi = await harness.call('GET', '/api/credentials', { token: existing.token });
    expect(viaApi.body.map((credential: { name: string; hint: string }) => credential.name)).toEqual([
      'anthropic',
      'openai',
    ]);
    // Storing the same key again through the API is detected as a duplicate of the imported one.
    const again = await harness.call('POST', '/api/credentials', {
      token: existing.token,
      body: { name: 'copy', provider: 'openai', secret: shared },
    });
    expect(again.body.duplicates.map((duplicate: { name: string }) => duplicate.name)).toEqual(['openai']);

    const second = await applyImport(plan, {
      db: harness.database.db,
      cipher: harness.keyway.cipher,
      dryRun: false,
    });
    expect(second.rows.every((row) => row.outcome === 'reused')).toBe(true);
    expect(renderImportReport(second, [])).toContain(
      'Nothing new: everything was already imported (7 reused, 0 skipped).',
    );
    const report = renderImportReport(first, plan.notes);
    for (const secret of Object.values(keys)) expect(report).not.toContain(secret);
  });

  it('imports a larger database in one transaction and reports the rate', async () => {
    const profiles: ProfileRow[] = Array.from({ length: 250 }, (_, i) => ({
      username: `user${String(i).padStart(4, '0')}`,
      values: {
        openai_api_key: fakeKey('sk-'),
        anthropic_api_key: fakeKey('sk-ant-'),
        mistral_api_key: i % 2 === 0 ? fakeKey('mi') : '',
        groq_api_key: fakeKey('gsk_'),
      },
    }));
    source = await chatbotUiFixture({ profiles });
    const plan = await planFrom(source.url);
    expect(plan.credentials).toHaveLength(250 * 3 + 125);
    let progressCalls = 0;
    const started = performance.now();
    const result = await applyImport(plan, {
      db: harness.database.db,
      cipher: harness.keyway.cipher,
      dryRun: false,
      onProgress: () => void progressCalls++,
    });
    const seconds = (performance.now() - started) / 1000;
    const items = plan.users.length + plan.credentials.length;
    expect(result.rows.filter((row) => row.outcome === 'created')).toHaveLength(items);
    expect(progressCalls).toBe(items);
    console.log(
      `[${backend}] imported ${plan.users.length} users + ${plan.credentials.length} credentials in ${seconds.toFixed(2)} s: ${Math.round(items / seconds)} rows/s`,
    );
    const startedAgain = performance.now();
    const again = await applyImport(plan, {
      db: harness.database.db,
      cipher: harness.keyway.cipher,
      dryRun: false,
    });
    expect(again.rows.every((row) => row.outcome === 'reused')).toBe(true);
    console.log(
      `[${backend}] second run (all reused): ${((performance.now() - startedAgain) / 1000).toFixed(2)} s`,
    );
  });

  it('brings files over as text and collections as knowledge bases, embedded again with the named model; a second run adds nothing', async () => {
    const key = fakeKey('sk-');
    const embeddings = await startFakeOpenAiExtras({ validKeys: [key], defaultDimensions: 16 });
    try {
      const alice = await harness.user('alice');
      const credential = await harness.call('POST', '/api/credentials', {
        token: alice.token,
        body: { name: 'work', provider: 'openai', secret: key, settings: { baseUrl: embeddings.url } },
      });
      expect(credential.status).toBe(201);
      source = await chatbotUiFixture({
        profiles: [{ username: 'alice' }, { username: 'mallory' }],
        files: [
          {
            username: 'alice',
            name: 'pump-manual.pdf',
            chunks: ['The Zephyr pump has a warranty of five years.', 'Clean the filter monthly.'],
          },
          { username: 'alice', name: 'scan.png', chunks: [] },
          { username: 'mallory', name: 'mallory.txt', chunks: ['Mallory only.'] },
        ],
        collections: [{ username: 'alice', name: 'Manuals', files: ['pump-manual.pdf', 'scan.png'] }],
      });
      const plan = await planFrom(source.url, new Map(), 'work/text-embedding-3-small');
      const first = await applyImport(plan, {
        db: harness.database.db,
        cipher: harness.keyway.cipher,
        dryRun: false,
      });
      expect(
        first.rows
          .filter((row) => row.kind === 'file' || row.kind === 'knowledge base')
          .map((row) => `${row.kind} ${row.owner}/${row.name} ${row.outcome}`),
      ).toEqual([
        'file mallory/mallory.txt created',
        'file alice/pump-manual.pdf.txt created',
        'knowledge base alice/Manuals created',
        'file /file "scan.png" of alice skipped',
      ]);
      expect(renderImportReport(first, plan.notes)).toMatch(
        /2 file\(s\), 1 knowledge base\(s\) \(1 file\(s\) queued for embedding\)/,
      );

      // Alice sees her file and knowledge base; the file is embedded by the running workers.
      const files = await harness.call('GET', '/api/files', { token: alice.token });
      expect(files.body.map((file: { name: string }) => file.name)).toEqual(['pump-manual.pdf.txt']);
      const bases = await harness.call('GET', '/api/knowledge', { token: alice.token });
      expect(bases.body).toEqual([expect.objectContaining({ name: 'Manuals' })]);
      const kbId = bases.body[0].id as string;
      await vi.waitFor(
        async () => {
          const listed = await harness.call('GET', `/api/knowledge/${kbId}/files`, { token: alice.token });
          expect(listed.body[0]).toMatchObject({ name: 'pump-manual.pdf.txt', status: 'ready' });
        },
        { timeout: 20_000, interval: 100 },
      );
      // Re-embedded through Alice's credential, with the model the import named.
      const embedded = embeddings.requests.filter((request) => request.endpoint === 'embeddings');
      expect(embedded.length).toBeGreaterThan(0);
      expect(JSON.stringify(embedded.map((request) => request.json))).toContain('warranty of five years');

      const second = await applyImport(plan, {
        db: harness.database.db,
        cipher: harness.keyway.cipher,
        dryRun: false,
      });
      expect(second.rows.filter((row) => row.outcome === 'created')).toEqual([]);
      expect((await harness.call('GET', '/api/files', { token: alice.token })).body).toHaveLength(1);
    } finally {
      await embeddings.close();
    }
  });
});
