import fs from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BACKENDS } from '../support/test-database.ts';
import { createTestKeyway, type TestKeyway } from '../support/test-keyway.ts';
import { seedConversation, type SeedMessage } from './seed.ts';

const chatGptFixture = fs.readFileSync(new URL('./fixtures/chatgpt-branched.json', import.meta.url), 'utf8');

interface ExportedMessage {
  id: string;
  parentId: string | null;
  role: string;
  content: string;
  model: string;
  status: string;
  createdAt: string;
}
interface ExportedConversation {
  id: string;
  title: string;
  folder: string | null;
  settings: Record<string, unknown>;
  currentLeafId: string | null;
  messages: ExportedMessage[];
  [key: string]: unknown;
}

/** A conversation with ids replaced by positions: what two copies of one conversation share. */
function shape(conversation: ExportedConversation) {
  const index = new Map(conversation.messages.map((message, position) => [message.id, position]));
  const { id: _id, messages, currentLeafId, ...rest } = conversation;
  return {
    ...rest,
    currentLeaf: currentLeafId === null ? null : index.get(currentLeafId),
    messages: messages.map(({ id: _messageId, parentId, ...message }) => ({
      ...message,
      parent: parentId === null ? null : index.get(parentId),
    })),
  };
}

/** A branch: user question edited once (two siblings), the second answered twice (regenerated). */
const branched: SeedMessage[] = [
  { key: 'q1', parent: null, role: 'user', content: 'Plan a trip to Porto' },
  { key: 'a1', parent: 'q1', role: 'assistant', content: 'Day 1: Ribeira.' },
  { key: 'q1b', parent: null, role: 'user', content: 'Plan a trip to Lisbon' },
  { key: 'a1b', parent: 'q1b', role: 'assistant', content: 'Day 1: Alfama, tram 28.' },
  { key: 'a1c', parent: 'q1b', role: 'assistant', content: 'Day 1: Belém & pastéis <b>de</b> nata.' },
  { key: 'q2', parent: 'a1c', role: 'user', content: 'And day 2?\n\n```\ncode block\n```' },
];

describe.each(BACKENDS)('conversation export and import [%s]', (backend) => {
  let harness: TestKeyway;
  let alice: { id: string; token: string };
  let bob: { id: string; token: string };

  beforeEach(async () => {
    harness = await createTestKeyway(backend);
    alice = await harness.user('alice');
    bob = await harness.user('bob');
  });
  afterEach(() => harness.close());

  const exportJson = async (token: string, id: string) => {
    const response = await harness.call('GET', `/api/conversations/${id}/export?format=json`, { token });
    expect(response.status).toBe(200);
    return response.body as { format: string; version: number; conversations: ExportedConversation[] };
  };

  it('imports ChatGPT conversations.json with both branches, hidden and tool messages left out, current_node on show', async () => {
    const imported = await harness.call('POST', '/api/import/conversations', {
      token: alice.token,
      body: chatGptFixture,
    });
    expect(imported.status).toBe(201);
    expect(imported.body.imported).toBe(1);
    const [id] = imported.body.conversationIds as string[];

    const { conversations } = await exportJson(alice.token, id!);
    const conversation = conversations[0]!;
    expect(conversation.title).toBe('Jokes about pets');
    const byContent = new Map(conversation.messages.map((message) => [message.content, message]));
    expect([...byContent.keys()]).toEqual([
      'Tell me a joke about cats',
      'Why did the cat sit on the computer? To keep an eye on the mouse.',
      'Tell me a joke about dogs',
      'What do you call a dog magician? A labracadabrador.',
      'Find the weather in Lisbon',
      'It is sunny in Lisbon, 24 °C.',
    ]);
    // The edited question: two first messages, siblings (the hidden system message is gone).
    expect(byContent.get('Tell me a joke about cats')!.parentId).toBeNull();
    expect(byContent.get('Tell me a joke about dogs')!.parentId).toBeNull();
    // The answer after the browsing tool follows the question directly.
    const lastAnswer = byContent.get('It is sunny in Lisbon, 24 °C.')!;
    expect(lastAnswer.parentId).toBe(byContent.get('Find the weather in Lisbon')!.id);
    expect(lastAnswer.model).toBe('gpt-4o-mini');
    expect(lastAnswer.createdAt).toBe('2024-04-24T23:10:03.000Z');
    expect(conversation.currentLeafId).toBe(lastAnswer.id);

    // What the user sees: the dogs branch, to the weather answer.
    const markdown = await harness.call('GET', `/api/conversations/${id}/export?format=markdown`, {
      token: alice.token,
    });
    expect(markdown.text).toContain('Tell me a joke about dogs');
    expect(markdown.text).toContain('It is sunny in Lisbon');
    expect(markdown.text).not.toContain('cats');
    expect(markdown.text).not.toContain('weather Lisbon")');
    // And it is Alice's, in her list; not Bob's.
    const list = await harness.call('GET', '/api/conversations', { token: alice.token });
    expect(list.body.map((c: { id: string }) => c.id)).toContain(id);
    expect((await harness.call('GET', `/api/conversations/${id}/export`, { token: bob.token })).status).toBe(
      404,
    );
  });

  it('exports every branch and imports it back as an equal conversation with new ids', async () => {
    const seeded = await seedConversation(harness.database.db, alice.id, {
      title: 'Portugal trip',
      messages: branched,
      currentLeaf: 'q2',
      folder: 'Travel',
      systemPrompt: 'Be brief.',
      temperature: 0.3,
      contextMessages: 6,
    });
    const original = (await exportJson(alice.token, seeded.id)).conversations[0]!;
    expect(original.messages).toHaveLength(6);
    expect(original.folder).toBe('Travel');
    expect(original.settings).toEqual({
      systemPrompt: 'Be brief.',
      temperature: 0.3,
      maxTokens: null,
      contextMessages: 6,
      contextTokens: null,
    });
    expect(original.currentLeafId).toBe(seeded.ids.q2);

    const download = await harness.call('GET', `/api/conversations/${seeded.id}/export?format=json`, {
      token: alice.token,
    });
    expect(download.headers.get('content-disposition')).toMatch(
      /^attachment; filename="portugal-trip\.json"/,
    );
    const imported = await harness.call('POST', '/api/import/conversations', {
      token: alice.token,
      body: download.text,
    });
    expect(imported.status).toBe(201);
    const [copyId] = imported.body.conversationIds as string[];
    expect(copyId).not.toBe(seeded.id);
    const copy = (await exportJson(alice.token, copyId!)).conversations[0]!;
    expect(shape(copy)).toEqual(shape(original));
    expect(copy.messages.map((message) => message.id)).not.toContain(seeded.ids.q1);

    // Bob imports Alice's file: his own copy, with ids of its own again.
    const bobs = await harness.call('POST', '/api/import/conversations', {
      token: bob.token,
      body: download.text,
    });
    expect(bobs.status).toBe(201);
    const bobCopy = (await exportJson(bob.token, bobs.body.conversationIds[0])).conversations[0]!;
    expect(shape(bobCopy)).toEqual(shape(original));
  });

  it('exports all of your conversations as JSON and as readable Markdown of the branch on show', async () => {
    await seedConversation(harness.database.db, alice.id, {
      title: 'Portugal trip',
      messages: branched,
      currentLeaf: 'q2',
    });
    await seedConversation(harness.database.db, alice.id, {
      title: 'Second',
      messages: [{ key: 'u', parent: null, role: 'user', content: 'Hello there' }],
    });
    await seedConversation(harness.database.db, bob.id, {
      title: 'Bob private',
      messages: [{ key: 'u', parent: null, role: 'user', content: 'Bob secret' }],
    });
    const json = await harness.call('GET', '/api/export/conversations?format=json', { token: alice.token });
    expect(json.status).toBe(200);
    expect(json.headers.get('content-disposition')).toMatch(
      /^attachment; filename="keyway-conversations-\d{4}-\d\d-\d\d\.json"/,
    );
    expect(json.body.format).toBe('keyway.conversations');
    expect(json.body.version).toBe(1);
    expect(json.body.conversations.map((c: { title: string }) => c.title).sort()).toEqual([
      'Portugal trip',
      'Second',
    ]);

    const markdown = await harness.call('GET', '/api/export/conversations?format=markdown', {
      token: alice.token,
    });
    expect(markdown.headers.get('content-type')).toMatch(/^text\/markdown/);
    expect(markdown.headers.get('content-disposition')).toMatch(/\.md"/);
    expect(markdown.text).toContain('# Portugal trip');
    expect(markdown.text).toContain('### You');
    expect(markdown.text).toContain('Day 1: Belém & pastéis <b>de</b> nata.');
    expect(markdown.text).toContain('```\ncode block\n```');
    expect(markdown.text).not.toContain('Porto');
    expect(markdown.text).not.toContain('Alfama');
    expect(markdown.text).toContain('Hello there');
    expect(markdown.text).not.toContain('Bob secret');
  });

  it('refuses what it cannot read with a clear code, and drops NUL characters', async () => {
    const post = (body: unknown, token = alice.token) =>
      harness.call('POST', '/api/import/conversations', { token, body });
    expect((await post({ hello: 'world' })).body.error.code).toBe('source_not_recognised');
    expect(
      (await post({ format: 'keyway.conversations', version: 1, conversations: [{ title: 3 }] })).body.error
        .code,
    ).toBe('validation_failed');
    expect((await post('{"format": ')).body.error.code).toBe('invalid_json');
    const deep = `${'['.repeat(10_000)}${']'.repeat(10_000)}`;
    expect((await post(deep)).body.error.code).toBe('json_too_deep');
    expect((await harness.call('POST', '/api/import/conversations', { body: chatGptFixture })).status).toBe(
      401,
    );

    const withNul = chatGptFixture.replace('Tell me a joke about dogs', 'Tell me a joke\\u0000 about dogs');
    const imported = await post(withNul);
    expect(imported.status).toBe(201);
    const { conversations } = await exportJson(alice.token, imported.body.conversationIds[0]);
    expect(conversations[0]!.messages.map((message) => message.content)).toContain(
      'Tell me a joke about dogs',
    );
  });

  it('refuses an import over the size limit with 413', async () => {
    const big = JSON.stringify({
      format: 'keyway.conversations',
      version: 1,
      conversations: [],
      pad: 'x'.repeat(51 * 1024 * 1024),
    });
    const response = await harness.call('POST', '/api/import/conversations', {
      token: alice.token,
      body: big,
    });
    expect(response.status).toBe(413);
    expect(response.body.error.code).toBe('payload_too_large');
  });
});
