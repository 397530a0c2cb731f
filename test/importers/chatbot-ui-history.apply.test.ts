import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { planChatbotUiImport } from '../../src/importers/chatbot-ui.plan.ts';
import { readChatbotUi } from '../../src/importers/chatbot-ui.reader.ts';
import { readChatbotUiHistory } from '../../src/importers/chatbot-ui-history.reader.ts';
import { applyImport } from '../../src/importers/import-applier.ts';
import type { ImportPlan } from '../../src/importers/import-plan.ts';
import { renderImportReport } from '../../src/importers/import-report.ts';
import { openSourceDatabase } from '../../src/importers/source-database.ts';
import { createDefaultRegistry } from '../../src/providers/registry.ts';
import { fakeKey } from '../support/gateway-harness.ts';
import { BACKENDS } from '../support/test-database.ts';
import { createTestKeyway, type TestKeyway } from '../support/test-keyway.ts';
import { chatbotUiFixture, type HistoryRows, type SourceFixture } from './source-fixtures.ts';

const MEGABYTE_ANSWER = 'a long answer. '.repeat(66_000); // ~1 MB: Chatbot-UI's limit is 1,000,000 characters

/** Two profiles with a history each, and one whose username Keyway cannot take (so not imported). */
const HISTORY: HistoryRows = {
  workspaces: [
    { username: 'alice', name: 'Home', isHome: true },
    { username: 'alice', name: 'Research' },
    { username: 'bob', name: 'Home', isHome: true },
    { username: 'x y', name: 'Home', isHome: true },
  ],
  folders: [
    { username: 'alice', workspace: 'Research', name: 'Papers' },
    { username: 'alice', workspace: 'Research', name: 'Snippets', type: 'prompts' },
  ],
  assistants: [
    {
      username: 'alice',
      name: 'Librarian',
      description: 'Answers from the docs',
      model: 'gpt-4-turbo-preview',
      prompt: 'Cite the docs.',
      temperature: 0.3,
      contextLength: 16000,
      workspaces: ['Research'],
      collections: ['Docs'],
    },
  ],
  presets: [
    {
      username: 'alice',
      name: 'Precise',
      model: 'gpt-4-turbo-preview',
      prompt: 'Be precise.',
      temperature: 0.1,
      contextLength: 8000,
      workspaces: ['Home', 'Research'],
    },
  ],
  prompts: [
    {
      username: 'alice',
      name: 'Summarise',
      content: 'Summarise {{text}} in {{n}} lines',
      workspaces: ['Home'],
    },
    { username: 'bob', name: 'Translate', content: 'Translate to {{language}}', workspaces: ['Home'] },
  ],
  chats: [
    {
      username: 'alice',
      workspace: 'Home',
      name: 'Hello there',
      model: 'gpt-4-turbo-preview',
      createdAt: '2024-02-01T10:00:00Z',
      // Stored out of order: sequence_number orders them.
      messages: [
        { role: 'assistant', content: 'Hi! How can I help?', sequence: 1 },
        { role: 'user', content: 'Thanks, bye', sequence: 2 },
        { role: 'user', content: 'Hello', sequence: 0 },
        { role: 'assistant', content: 'Goodbye!', sequence: 3 },
      ],
    },
    {
      username: 'alice',
      workspace: 'Research',
      folder: 'Papers',
      assistant: 'Librarian',
      name: 'Deep dive',
      model: 'gpt-4-turbo-preview',
      prompt: 'You are a careful reviewer.',
      temperature: 0.2,
      contextLength: 8000,
      createdAt: '2024-02-02T10:00:00Z',
      files: ['notes.txt'],
      messages: [
        { role: 'user', content: 'Review this paper', images: ['alice/figure.png'] },
        { role: 'assistant', content: MEGABYTE_ANSWER },
      ],
    },
    {
      username: 'bob',
      workspace: 'Home',
      name: 'Poem',
      model: 'claude-3-opus-20240229',
      createdAt: '2024-02-03T10:00:00Z',
      messages: [
        { role: 'user', content: 'A poem, please' },
        { role: 'assistant', content: 'Roses are red' },
      ],
    },
    {
      username: 'x y',
      workspace: 'Home',
      name: 'Unmapped',
      model: 'gpt-4-turbo-preview',
      messages: [{ role: 'user', content: 'not imported' }],
    },
  ],
};

const TABLES = [
  'users',
  'credentials',
  'files',
  'knowledge_bases',
  'chat_folders',
  'chat_conversations',
  'chat_messages',
  'chat_attachments',
  'chat_prompts',
  'chat_presets',
  'chat_assistants',
  'chat_assistant_knowledge_bases',
  'audit_log',
] as const;

describe.each(BACKENDS)('importing a Chatbot-UI history [%s]', (backend) => {
  let harness: TestKeyway;
  let source: SourceFixture | undefined;

  beforeEach(async () => {
    harness = await createTestKeyway(backend, { logLevel: 'info' });
  });
  afterEach(async () => {
    await source?.dispose();
    source = undefined;
    await harness.close();
  });

  const counts = async () => {
    const db = harness.database.db;
    const result: Record<string, number> = {};
    for (const table of TABLES) {
      const row = await db
        .selectFrom(table)
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      result[table] = Number(row.n);
    }
    return result;
  };

  async function planFrom(url: string, ownerMap = new Map<string, string>()): Promise<ImportPlan> {
    const db = await openSourceDatabase(url);
    try {
      return planChatbotUiImport(await readChatbotUi(db), {
        providers: createDefaultRegistry(),
        policy: { allowLoopback: true, allowPrivate: false },
        ownerMap,
        maxFileBytes: 20 * 1024 * 1024,
        embeddingModel: 'openai/text-embedding-3-small',
        history: await readChatbotUiHistory(db),
      });
    } finally {
      await db.close();
    }
  }

  const apply = (plan: ImportPlan, options: { dryRun?: boolean; onProgress?: (done: number) => void } = {}) =>
    applyImport(plan, {
      db: harness.database.db,
      cipher: harness.keyway.cipher,
      dryRun: options.dryRun ?? false,
      onProgress: options.onProgress,
    });

  it('brings each profile its folders, conversations in order, prompts, presets and assistants; a second run changes nothing', async () => {
    source = await chatbotUiFixture({
      profiles: [
        { username: 'alice', values: { openai_api_key: fakeKey('sk-') } },
        { username: 'bob' },
        { username: 'x y' },
      ],
      files: [{ username: 'alice', name: 'notes.txt', chunks: ['The notes.'] }],
      collections: [{ username: 'alice', name: 'Docs', files: ['notes.txt'] }],
      history: HISTORY,
    });
    const alice = await harness.user('alice');
    // bob's profile is mapped to the Keyway user robert, exactly as his keys would be.
    const robert = await harness.user('robert');
    const plan = await planFrom(source.url, new Map([['bob', 'robert']]));
    const before = await counts();

    const result = await apply(plan);
    const report = renderImportReport(result, plan.notes);
    expect(report).toContain(
      '4 folder(s), 3 conversation(s) with 8 message(s), 2 prompt(s), 1 preset(s), 1 assistant(s)',
    );
    // The profile Keyway cannot map is reported with what it holds, as its keys are.
    expect(report).toMatch(/profile x y\s+skipped\s+1 folder\(s\), 1 conversation\(s\) not imported/);
    expect(report).toMatch(/claude-3-opus-20240229: kept as named/);
    expect(report).toMatch(/1 folder\(s\) of prompts, presets/);
    expect(report).toMatch(/1 image\(s\) attached to messages stay in Supabase storage/);

    const db = harness.database.db;
    const folders = await db
      .selectFrom('chat_folders')
      .select(['id', 'owner_id', 'name'])
      .orderBy('name')
      .execute();
    const ownerName = (id: string) => (id === alice.id ? 'alice' : id === robert.id ? 'robert' : id);
    expect(folders.map((folder) => `${ownerName(folder.owner_id)}: ${folder.name}`).sort()).toEqual([
      'alice: Home',
      'alice: Research',
      'alice: Research / Papers',
      'robert: Home',
    ]);

    // What alice sees: her two conversations, in their folders, with their settings.
    const listed = await harness.call('GET', '/api/conversations', { token: alice.token });
    expect(listed.status).toBe(200);
    expect(listed.body.map((c: { title: string }) => c.title).sort()).toEqual(['Deep dive', 'Hello there']);
    const conversations = await db
      .selectFrom('chat_conversations')
      .selectAll()
      .where('owner_id', '=', alice.id)
      .orderBy('created_at')
      .execute();
    const folderName = (id: string | null) => folders.find((folder) => folder.id === id)?.name;
    const [hello, deep] = conversations;
    expect(hello).toMatchObject({
      title: 'Hello there',
      model: 'openai/gpt-4-turbo-preview',
      title_source: 'user',
    });
    expect(folderName(hello!.folder_id)).toBe('Home');
    expect(deep).toMatchObject({
      title: 'Deep dive',
      model: 'openai/gpt-4-turbo-preview',
      system_prompt: 'You are a careful reviewer.',
      context_tokens: 8000,
    });
    expect(deep!.temperature).toBeCloseTo(0.2, 5);
    expect(folderName(deep!.folder_id)).toBe('Research / Papers');
    expect(new Date(hello!.created_at).toISOString()).toBe('2024-02-01T10:00:00.000Z');

    // Messages in sequence order, each answering the one before; the last is the leaf on show.
    const opened = await harness.call('GET', `/api/conversations/${hello!.id}`, { token: alice.token });
    expect(
      opened.body.messages.map((m: { role: string; content: string }) => `${m.role}: ${m.content}`),
    ).toEqual(['user: Hello', 'assistant: Hi! How can I help?', 'user: Thanks, bye', 'assistant: Goodbye!']);
    const chain = await db
      .selectFrom('chat_messages')
      .select(['id', 'parent_id', 'content'])
      .where('conversation_id', '=', hello!.id)
      .orderBy('seq')
      .execute();
    expect(chain.map((m) => m.parent_id)).toEqual([null, chain[0]!.id, chain[1]!.id, chain[2]!.id]);
    expect(hello!.current_leaf_id).toBe(chain[3]!.id);
    const long = await db
      .selectFrom('chat_messages')
      .select(['content'])
      .where('conversation_id', '=', deep!.id)
      .where('role', '=', 'assistant')
      .executeTakeFirstOrThrow();
    expect(long.content).toBe(MEGABYTE_ANSWER);

    // The assistant, with the knowledge base its collection became; the chat that used it names it.
    const assistant = await db
      .selectFrom('chat_assistants')
      .selectAll()
      .where('owner_id', '=', alice.id)
      .executeTakeFirstOrThrow();
    expect(assistant).toMatchObject({
      name: 'Librarian',
      description: 'Answers from the docs',
      model: 'openai/gpt-4-turbo-preview',
      instructions: 'Cite the docs.',
      context_tokens: 16000,
    });
    expect(deep!.assistant_id).toBe(assistant.id);
    const bases = await db
      .selectFrom('chat_assistant_knowledge_bases')
      .innerJoin('knowledge_bases', 'knowledge_bases.id', 'chat_assistant_knowledge_bases.kb_id')
      .select(['knowledge_bases.name', 'knowledge_bases.owner_id'])
      .where('assistant_id', '=', assistant.id)
      .execute();
    expect(bases).toEqual([{ name: 'Docs', owner_id: alice.id }]);
    // The chat's file arrives attached to the conversation.
    const attached = await db
      .selectFrom('chat_attachments')
      .innerJoin('files', 'files.id', 'chat_attachments.file_id')
      .select(['files.name', 'files.owner_id'])
      .where('conversation_id', '=', deep!.id)
      .execute();
    expect(attached).toEqual([{ name: 'notes.txt', owner_id: alice.id }]);

    const presets = await db.selectFrom('chat_presets').selectAll().execute();
    expect(presets).toHaveLength(1);
    expect(presets[0]).toMatchObject({
      owner_id: alice.id,
      name: 'Precise',
      model: 'openai/gpt-4-turbo-preview',
      system_prompt: 'Be precise.',
      context_tokens: 8000,
    });
    const prompts = await db
      .selectFrom('chat_prompts')
      .select(['owner_id', 'name', 'content'])
      .orderBy('name')
      .execute();
    expect(prompts).toEqual([
      { owner_id: alice.id, name: 'Summarise', content: 'Summarise {{text}} in {{n}} lines' },
      { owner_id: robert.id, name: 'Translate', content: 'Translate to {{language}}' },
    ]);

    // robert's conversation is his, and keeps a model no imported credential serves as named.
    const poem = await db
      .selectFrom('chat_conversations')
      .selectAll()
      .where('owner_id', '=', robert.id)
      .executeTakeFirstOrThrow();
    expect(poem).toMatchObject({ title: 'Poem', model: 'claude-3-opus-20240229' });
    expect((await harness.call('GET', `/api/conversations/${poem.id}`, { token: alice.token })).status).toBe(
      404,
    );
    expect(
      (await harness.call('GET', `/api/conversations/${hello!.id}`, { token: robert.token })).status,
    ).toBe(404);

    // One audit entry per owner, saying what the import brought them.
    const audit = await db
      .selectFrom('audit_log')
      .select(['target_id', 'details'])
      .where('action', '=', 'chat.history.import')
      .execute();
    expect(audit).toHaveLength(2);
    expect(audit.find((entry) => entry.target_id === alice.id)?.details).toEqual({
      importedFrom: 'chatbot-ui',
      created: { folder: 3, assistant: 1, preset: 1, prompt: 1, conversation: 2, messages: 6 },
    });

    const after = await counts();
    expect(after.chat_conversations! - before.chat_conversations!).toBe(3);
    expect(after.chat_messages! - before.chat_messages!).toBe(8);

    // A second run: nothing new, nothing changed.
    const snapshot = await db.selectFrom('chat_conversations').selectAll().orderBy('id').execute();
    const second = await apply(await planFrom(source.url, new Map([['bob', 'robert']])));
    expect(second.rows.filter((row) => row.outcome === 'created')).toEqual([]);
    expect(second.history?.reused).toEqual({
      folder: 4,
      conversation: 3,
      prompt: 2,
      preset: 1,
      assistant: 1,
    });
    expect(renderImportReport(second, [])).toContain('Nothing new: everything was already imported');
    expect(await counts()).toEqual(after);
    expect(await db.selectFrom('chat_conversations').selectAll().orderBy('id').execute()).toEqual(snapshot);
  });

  it('a failure part-way through the history leaves nothing; a dry run writes nothing', async () => {
    source = await chatbotUiFixture({
      profiles: [{ username: 'alice', values: { openai_api_key: fakeKey('sk-') } }, { username: 'bob' }],
      files: [{ username: 'alice', name: 'notes.txt', chunks: ['The notes.'] }],
      collections: [{ username: 'alice', name: 'Docs', files: ['notes.txt'] }],
      history: HISTORY,
    });
    const alice = await harness.user('alice');
    // alice already has an assistant of that name in Keyway: the imported one gets a suffix.
    await harness.database.db
      .insertInto('chat_assistants')
      .values({ id: crypto.randomUUID(), owner_id: alice.id, name: 'librarian', model: 'openai/gpt-4o' })
      .execute();
    const plan = await planFrom(source.url);
    const before = await counts();
    // Items are users, credentials, then the history: fail once folders and assistants are written.
    const failAt = plan.users.length + plan.credentials.length + plan.history!.folders.length + 2;
    await expect(
      apply(plan, {
        onProgress: (done) => {
          if (done === failAt) throw new Error('injected failure in the middle of the history');
        },
      }),
    ).rejects.toThrow('injected failure in the middle of the history');
    expect(await counts()).toEqual(before);

    const dry = await apply(plan, { dryRun: true });
    expect(renderImportReport(dry, plan.notes)).toContain(
      'would create 1 user(s), 1 credential(s), 0 bot(s), 1 file(s), 1 knowledge base(s) (1 file(s) to queue for embedding), 4 folder(s), 3 conversation(s) with 8 message(s), 2 prompt(s), 1 preset(s), 1 assistant(s)',
    );
    expect(await counts()).toEqual(before);

    // Then it imports, once.
    const first = await apply(plan);
    expect(first.history?.created.conversation).toBe(3);
    const names = await harness.database.db
      .selectFrom('chat_assistants')
      .select('name')
      .where('owner_id', '=', alice.id)
      .execute();
    expect(names.map((row) => row.name.toLowerCase()).sort()).toEqual(['librarian', 'librarian-2']);
    const second = await apply(plan);
    expect(second.history?.created).toEqual({
      folder: 0,
      conversation: 0,
      prompt: 0,
      preset: 0,
      assistant: 0,
    });
  });

  it('a larger history: many chats and messages in a few statements, in one transaction', async () => {
    const chats = Array.from({ length: 300 }, (_, i) => ({
      username: 'alice',
      workspace: 'Home',
      name: `chat ${String(i).padStart(3, '0')}`,
      model: 'gpt-4-turbo-preview',
      messages: Array.from({ length: 10 }, (_, n) => ({
        role: n % 2 === 0 ? 'user' : 'assistant',
        content: `message ${n} of chat ${i}`,
      })),
    }));
    source = await chatbotUiFixture({
      profiles: [{ username: 'alice', values: { openai_api_key: fakeKey('sk-') } }],
      history: { workspaces: [{ username: 'alice', name: 'Home', isHome: true }], chats },
    });
    const plan = await planFrom(source.url);
    const started = performance.now();
    const result = await apply(plan);
    const seconds = (performance.now() - started) / 1000;
    expect(result.history?.created.conversation).toBe(300);
    expect(result.history?.messages).toBe(3000);
    console.log(`[${backend}] imported 300 chats with 3000 messages in ${seconds.toFixed(2)} s`);
    const last = await harness.database.db
      .selectFrom('chat_conversations')
      .innerJoin('chat_messages', 'chat_messages.id', 'chat_conversations.current_leaf_id')
      .select(['chat_conversations.title', 'chat_messages.content'])
      .where('chat_conversations.title', '=', 'chat 299')
      .executeTakeFirstOrThrow();
    expect(last.content).toBe('message 9 of chat 299');
    const again = await apply(plan);
    expect(again.history?.reused.conversation).toBe(300);
    expect(again.history?.messages).toBe(0);
  });

  it('a Chatbot-UI without the history tables: says which are missing, and imports the keys', async () => {
    source = await chatbotUiFixture({
      profiles: [{ username: 'alice', values: { openai_api_key: fakeKey('sk-') } }],
    });
    const plan = await planFrom(source.url);
    expect(plan.notes.map((note) => note.message).join('\n')).toContain(
      'this Chatbot-UI version has no table workspaces, folders, chats, messages, chat_files, prompts, presets, assistant_collections, assistants',
    );
    const result = await apply(plan);
    expect(renderImportReport(result, plan.notes)).toContain(
      'Created 1 user(s), 1 credential(s), 0 bot(s), 0 folder(s), 0 conversation(s) with 0 message(s)',
    );
  });
});
