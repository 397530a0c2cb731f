import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeOpenAiChat, type FakeOpenAiChat } from '../fakes/fake-openai-chat.ts';
import { fakeKey } from '../support/gateway-harness.ts';
import { BACKENDS } from '../support/test-database.ts';
import { createTestKeyway, type TestKeyway } from '../support/test-keyway.ts';
import { chatClient } from './chat-support.ts';

/** What the provider was sent, as role: content lines (system messages included). */
const sentTo = (upstream: FakeOpenAiChat, index: number) =>
  (upstream.requests[index]!.body.messages as { role: string; content: string }[]).map(
    (message) => `${message.role}: ${message.content}`,
  );

describe.each(BACKENDS)('chat branches [%s]', (backend) => {
  const key = fakeKey();
  let upstream: FakeOpenAiChat;
  let harness: TestKeyway;
  let alice: { id: string; token: string };
  let bob: { id: string; token: string };
  const chat = chatClient(() => harness);

  beforeAll(async () => {
    upstream = await startFakeOpenAiChat({ validKeys: [key] });
  });
  afterAll(async () => {
    await upstream.close();
  });
  beforeEach(async () => {
    harness = await createTestKeyway(backend, { env: { KEYWAY_UPSTREAM_RETRIES: '0' } });
    alice = await harness.user('alice');
    bob = await harness.user('bob');
    for (const user of [alice, bob]) {
      const credential = await harness.call('POST', '/api/credentials', {
        token: user.token,
        body: { name: 'work', provider: 'openai', secret: key, settings: { baseUrl: upstream.url } },
      });
      expect(credential.status).toBe(201);
    }
    upstream.requests.length = 0;
    upstream.setScript((_request, index) => ({ kind: 'text', text: `A${index + 1}` }));
  });
  afterEach(async () => {
    await harness.keyway.services.conversations.close();
    await harness.close();
  });

  it('edits and regenerates as siblings, switches branches, and sends the provider only the branch answered', async () => {
    const { id } = await chat.newConversation(alice.token);
    await chat.say(alice.token, id, { content: 'q1' });
    await chat.say(alice.token, id, { content: 'q2' });
    let shown = await chat.shown(alice.token, id);
    const [q1, a1, q2, a2] = shown;
    expect(shown.map((m) => [m.content, m.parentId])).toEqual([
      ['q1', null],
      ['A1', q1!.id],
      ['q2', a1!.id],
      ['A2', q2!.id],
    ]);

    // Regenerate: a second answer beside A2; A2 is kept.
    const regenerated = await chat.say(alice.token, id, { regenerate: true });
    expect(regenerated.at(-1)!.message).toMatchObject({
      content: 'A3',
      parentId: q2!.id,
      siblings: { ids: [a2!.id, expect.any(String)], index: 1 },
    });
    expect(sentTo(upstream, 2)).toEqual(['user: q1', 'assistant: A1', 'user: q2']);
    shown = await chat.shown(alice.token, id);
    expect(shown.map((m) => m.content)).toEqual(['q1', 'A1', 'q2', 'A3']);
    expect(shown[3]!.siblings).toEqual({ ids: [a2!.id, shown[3]!.id], index: 1 });
    const a3 = shown[3]!;

    // Edit q2: a new user message beside it; the answer sees only q1, A1 and the edit.
    const edited = await chat.say(alice.token, id, { content: 'q2 edited', editOf: q2!.id });
    expect(edited[0]).toMatchObject({
      type: 'user',
      message: { content: 'q2 edited', parentId: a1!.id, siblings: { index: 1 } },
    });
    expect(sentTo(upstream, 3)).toEqual(['user: q1', 'assistant: A1', 'user: q2 edited']);
    shown = await chat.shown(alice.token, id);
    expect(shown.map((m) => m.content)).toEqual(['q1', 'A1', 'q2 edited', 'A4']);
    const q2edited = shown[2]!;
    expect(q2edited.siblings).toEqual({ ids: [q2!.id, q2edited.id], index: 0 + 1 });

    // Back to the first version of q2: its newest branch (A3) shows, and the next message continues it.
    const switched = await harness.call('PUT', `/api/conversations/${id}/branch`, {
      token: alice.token,
      body: { messageId: q2!.id },
    });
    expect(switched.status).toBe(200);
    expect(switched.body.messages.map((m: { content: string }) => m.content)).toEqual([
      'q1',
      'A1',
      'q2',
      'A3',
    ]);
    expect(switched.body.messages[2].siblings).toEqual({ ids: [q2!.id, q2edited.id], index: 0 });
    // The choice is kept: a reload shows the same branch.
    expect((await chat.shown(alice.token, id)).map((m) => m.content)).toEqual(['q1', 'A1', 'q2', 'A3']);
    await chat.say(alice.token, id, { content: 'q3' });
    expect(sentTo(upstream, 4)).toEqual([
      'user: q1',
      'assistant: A1',
      'user: q2',
      'assistant: A3',
      'user: q3',
    ]);

    // parentId: answer after A1 whatever the branch on show: a third version of q2.
    await chat.say(alice.token, id, { content: 'q2 third', parentId: a1!.id });
    expect(sentTo(upstream, 5)).toEqual(['user: q1', 'assistant: A1', 'user: q2 third']);
    shown = await chat.shown(alice.token, id);
    expect(shown.map((m) => m.content)).toEqual(['q1', 'A1', 'q2 third', 'A6']);
    expect(shown[2]!.siblings).toEqual({ ids: [q2!.id, q2edited.id, shown[2]!.id], index: 2 });

    // Nothing was deleted along the way.
    const stored = await harness.database.db
      .selectFrom('chat_messages')
      .select('content')
      .where('conversation_id', '=', id)
      .execute();
    expect(stored.map((row) => row.content).sort()).toEqual(
      ['q1', 'A1', 'q2', 'A2', 'A3', 'q2 edited', 'A4', 'q3', 'A5', 'q2 third', 'A6'].sort(),
    );

    // Deleting the first q2 takes its replies with it; the branch on show (q2 third) stays.
    const deleted = await harness.call('DELETE', `/api/conversations/${id}/messages/${q2!.id}`, {
      token: alice.token,
    });
    expect(deleted.status).toBe(204);
    shown = await chat.shown(alice.token, id);
    expect(shown.map((m) => m.content)).toEqual(['q1', 'A1', 'q2 third', 'A6']);
    expect(shown[2]!.siblings.ids).toEqual([q2edited.id, shown[2]!.id]);
    expect(
      await harness.database.db
        .selectFrom('chat_messages')
        .select('id')
        .where('id', 'in', [a2!.id, a3.id])
        .execute(),
    ).toEqual([]);

    // Deleting the branch on show falls back to the newest remaining one.
    await harness.call('DELETE', `/api/conversations/${id}/messages/${shown[2]!.id}`, { token: alice.token });
    shown = await chat.shown(alice.token, id);
    expect(shown.map((m) => m.content)).toEqual(['q1', 'A1', 'q2 edited', 'A4']);
    expect(shown[2]!.siblings).toEqual({ ids: [q2edited.id], index: 0 });

    // Deleting the first message empties the conversation; it is kept, and starts again.
    await harness.call('DELETE', `/api/conversations/${id}/messages/${q1!.id}`, { token: alice.token });
    expect(await chat.shown(alice.token, id)).toEqual([]);
    await chat.say(alice.token, id, { content: 'again' });
    expect(sentTo(upstream, 6)).toEqual(['user: again']);
  });

  it('regenerates the first answer of a trailing question, and a failed answer beside it', async () => {
    const { id } = await chat.newConversation(alice.token);
    upstream.setScript(() => ({ kind: 'error', status: 500, message: 'down', type: 'server_error' }));
    await chat.send(alice.token, id, { content: 'hello' }).then((response) => response.text());
    upstream.setScript(() => ({ kind: 'text', text: 'fine now' }));
    await chat.say(alice.token, id, { regenerate: true });
    const shown = await chat.shown(alice.token, id);
    expect(shown.map((m) => [m.role, m.content])).toEqual([
      ['user', 'hello'],
      ['assistant', 'fine now'],
    ]);
    expect(shown[1]!.siblings.ids).toHaveLength(2);
    expect(sentTo(upstream, 1)).toEqual(['user: hello']);
  });

  it("keeps another user's messages out of reach: 404 on every branch route, and as editOf or parentId", async () => {
    const { id } = await chat.newConversation(alice.token);
    await chat.say(alice.token, id, { content: 'private' });
    const [question] = await chat.shown(alice.token, id);
    const bobs = await chat.newConversation(bob.token);
    const answers = [
      await harness.call('PUT', `/api/conversations/${id}/branch`, {
        token: bob.token,
        body: { messageId: question!.id },
      }),
      await harness.call('DELETE', `/api/conversations/${id}/messages/${question!.id}`, { token: bob.token }),
      // Bob's own conversation, Alice's message.
      await harness.call('PUT', `/api/conversations/${bobs.id}/branch`, {
        token: bob.token,
        body: { messageId: question!.id },
      }),
      await harness.call('DELETE', `/api/conversations/${bobs.id}/messages/${question!.id}`, {
        token: bob.token,
      }),
      await harness.call('POST', `/api/conversations/${bobs.id}/messages`, {
        token: bob.token,
        body: { content: 'x', editOf: question!.id },
      }),
      await harness.call('POST', `/api/conversations/${bobs.id}/messages`, {
        token: bob.token,
        body: { content: 'x', parentId: question!.id },
      }),
    ];
    for (const answer of answers) expect([answer.status, answer.body.error.code]).toEqual([404, 'not_found']);
    expect(await chat.shown(alice.token, id)).toHaveLength(2);
    expect(await chat.shown(bob.token, bobs.id)).toEqual([]);
    expect(upstream.requests).toHaveLength(1);
  });

  it('answers bad ids and contradictory requests with stable codes, storing nothing', async () => {
    const { id } = await chat.newConversation(alice.token);
    await chat.say(alice.token, id, { content: 'q1' });
    const [q1] = await chat.shown(alice.token, id);
    const cases: [string, string, unknown, number, string][] = [
      ['PUT', `/api/conversations/${id}/branch`, { messageId: 'nope' }, 404, 'not_found'],
      ['PUT', `/api/conversations/${id}/branch`, { messageId: 'x'.repeat(101) }, 400, 'validation_failed'],
      ['PUT', `/api/conversations/${id}/branch`, {}, 400, 'validation_failed'],
      ['PUT', `/api/conversations/12/branch`, { messageId: q1!.id }, 404, 'not_found'],
      ['DELETE', `/api/conversations/${id}/messages/nope`, undefined, 404, 'not_found'],
      ['DELETE', `/api/conversations/${id}/messages/${crypto.randomUUID()}`, undefined, 404, 'not_found'],
      ['POST', `/api/conversations/${id}/messages`, { content: 'x', editOf: 'nope' }, 404, 'not_found'],
      ['POST', `/api/conversations/${id}/messages`, { content: 'x', parentId: 'nope' }, 404, 'not_found'],
      [
        'POST',
        `/api/conversations/${id}/messages`,
        { content: 'x', editOf: q1!.id, parentId: q1!.id },
        400,
        'validation_failed',
      ],
      [
        'POST',
        `/api/conversations/${id}/messages`,
        { regenerate: true, editOf: q1!.id },
        400,
        'validation_failed',
      ],
    ];
    for (const [method, path, body, status, code] of cases) {
      const answer = await harness.call(method, path, { token: alice.token, ...(body ? { body } : {}) });
      expect([answer.status, answer.body.error.code], `${method} ${path} ${JSON.stringify(body)}`).toEqual([
        status,
        code,
      ]);
    }
    expect((await chat.shown(alice.token, id)).map((m) => m.content)).toEqual(['q1', 'A1']);
    expect(upstream.requests).toHaveLength(1);
  });
});
