import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BACKENDS } from '../support/test-database.ts';
import { createTestKeyway, type TestKeyway } from '../support/test-keyway.ts';
import { seedConversation } from './seed.ts';

describe.each(BACKENDS)('conversation search [%s]', (backend) => {
  let harness: TestKeyway;
  let alice: { id: string; token: string };
  let bob: { id: string; token: string };

  beforeEach(async () => {
    harness = await createTestKeyway(backend);
    alice = await harness.user('alice');
    bob = await harness.user('bob');
  });
  afterEach(() => harness.close());

  const titlesFound = async (token: string, q: string) => {
    const response = await harness.call('GET', `/api/conversations?q=${encodeURIComponent(q)}`, { token });
    expect(response.status).toBe(200);
    return (response.body as { title: string }[]).map((conversation) => conversation.title).sort();
  };

  it('finds words and word prefixes in titles and message text, case aside, never across users', async () => {
    const db = harness.database.db;
    await seedConversation(db, alice.id, {
      title: 'Kubernetes rollout',
      messages: [{ key: 'u', parent: null, role: 'user', content: 'How do I roll back?' }],
    });
    await seedConversation(db, alice.id, {
      title: 'Weekend plans',
      messages: [
        { key: 'u', parent: null, role: 'user', content: 'We deployed the Helm chart to staging yesterday.' },
        {
          key: 'a',
          parent: 'u',
          role: 'assistant',
          content: 'Great — mail me at ops@example.com if it breaks.',
        },
      ],
    });
    await seedConversation(db, alice.id, {
      title: 'Budget: 100% sure_thing',
      messages: [{ key: 'u', parent: null, role: 'user', content: 'Numbers only.' }],
    });
    await seedConversation(db, bob.id, {
      title: 'Bob and Helm',
      messages: [{ key: 'u', parent: null, role: 'user', content: 'helm install kubernetes dashboard' }],
    });

    // A word in a message, any case; a word's beginning; several words (all of them, in one message).
    expect(await titlesFound(alice.token, 'HELM')).toEqual(['Weekend plans']);
    expect(await titlesFound(alice.token, 'deploy')).toEqual(['Weekend plans']);
    expect(await titlesFound(alice.token, 'staging helm')).toEqual(['Weekend plans']);
    expect(await titlesFound(alice.token, 'staging kubernetes')).toEqual([]);
    // Words of different messages of one conversation.
    expect(await titlesFound(alice.token, 'staging ops')).toEqual(['Weekend plans']);
    expect(await titlesFound(alice.token, 'ops@example.com')).toEqual(['Weekend plans']);
    expect(await titlesFound(alice.token, 'ops')).toEqual(['Weekend plans']);
    // Titles: by word prefix and as typed.
    expect(await titlesFound(alice.token, 'kube')).toEqual(['Kubernetes rollout']);
    expect(await titlesFound(alice.token, 'ernetes roll')).toEqual(['Kubernetes rollout']);
    // `%` and `_` are characters, not wildcards.
    expect(await titlesFound(alice.token, '%')).toEqual(['Budget: 100% sure_thing']);
    expect(await titlesFound(alice.token, 'e_t')).toEqual(['Budget: 100% sure_thing']);
    expect(await titlesFound(alice.token, "'\\:*&|!")).toEqual([]);
    // Nothing to look for: everything.
    expect(await titlesFound(alice.token, '   ')).toHaveLength(3);
    // Bob's words are not Alice's results, and Alice's are not Bob's.
    expect(await titlesFound(alice.token, 'dashboard')).toEqual([]);
    expect(await titlesFound(bob.token, 'staging')).toEqual([]);
    expect(await titlesFound(bob.token, 'helm')).toEqual(['Bob and Helm']);
  });

  it('forgets the words of a deleted message, and learns those of a message that grows', async () => {
    const db = harness.database.db;
    const seeded = await seedConversation(db, alice.id, {
      title: 'Notes',
      messages: [
        { key: 'u', parent: null, role: 'user', content: 'Tell me about quokkas' },
        { key: 'a', parent: 'u', role: 'assistant', content: 'Quokkas live on Rottnest' },
      ],
    });
    expect(await titlesFound(alice.token, 'rottnest')).toEqual(['Notes']);
    await db.deleteFrom('chat_messages').where('id', '=', seeded.ids.a!).execute();
    expect(await titlesFound(alice.token, 'rottnest')).toEqual([]);
    expect(await titlesFound(alice.token, 'quokkas')).toEqual(['Notes']);
    // A streamed answer is written as it grows.
    await db
      .updateTable('chat_messages')
      .set({ content: 'Tell me about quokkas and wallabies' })
      .where('id', '=', seeded.ids.u!)
      .execute();
    expect(await titlesFound(alice.token, 'wallab')).toEqual(['Notes']);
  });

  it('stores a 3 MB message and still finds it by its words', async () => {
    const huge = `Quarterly zanzibar report. ${'lorem ipsum dolor sit amet '.repeat(120_000)}`;
    expect(huge.length).toBeGreaterThan(3_000_000);
    await seedConversation(harness.database.db, alice.id, {
      title: 'Pasted report',
      messages: [{ key: 'u', parent: null, role: 'user', content: huge }],
    });
    expect(await titlesFound(alice.token, 'zanzibar')).toEqual(['Pasted report']);
  });

  it('answers message searches from the index, whatever the table holds', async () => {
    const plan = await harness.database.withSession(async (session) => {
      // With so few rows the planner would rather read the table: asked not to, it must find the index.
      await session.query('SET enable_seqscan = off');
      try {
        return await session.query<{ 'QUERY PLAN': string }>(
          `EXPLAIN SELECT 1 FROM chat_conversation_search s WHERE s.words @@ 'helm:*'::tsquery`,
        );
      } finally {
        await session.query('RESET enable_seqscan');
      }
    });
    expect(plan.map((row) => row['QUERY PLAN']).join('\n')).toContain('chat_conversation_search_words_idx');
  });
});
