import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeOpenAiChat, type FakeOpenAiChat } from '../fakes/fake-openai-chat.ts';
import { fakeKey } from '../support/gateway-harness.ts';
import { BACKENDS } from '../support/test-database.ts';
import { createTestKeyway, type TestKeyway } from '../support/test-keyway.ts';

type User = { id: string; token: string };

describe.each(BACKENDS)("a bot session's transcript [%s]", (backend) => {
  const key = fakeKey();
  let upstream: FakeOpenAiChat;
  let kw: TestKeyway;
  let alice: User;
  let botId: string;
  let credentialId: string;

  beforeAll(async () => {
    upstream = await startFakeOpenAiChat({ validKeys: [key] });
  });
  afterAll(async () => {
    await upstream.close();
  });
  beforeEach(async () => {
    kw = await createTestKeyway(backend);
    alice = await kw.user('alice');
    const credential = await kw.call('POST', '/api/credentials', {
      token: alice.token,
      body: { name: 'work', provider: 'openai', secret: key, settings: { baseUrl: upstream.url } },
    });
    credentialId = credential.body.id;
    const bot = await kw.call('POST', '/api/bots', {
      token: alice.token,
      body: { name: 'support', credentialId, model: 'gpt-4o-mini' },
    });
    expect(bot.status).toBe(201);
    botId = bot.body.id;
    let turn = 0;
    upstream.setScript(() => ({ kind: 'text', text: `Answer ${++turn}` }));
  });
  afterEach(async () => {
    await kw.close();
  });

  const say = async (contact: string, text: string) => {
    const response = await kw.call('POST', `/api/bots/${botId}/messages`, {
      token: alice.token,
      body: { contact, text },
    });
    expect(response.status).toBe(200);
    return response.body.session.id as string;
  };
  const transcript = (sessionId: string, query = '', user: User = alice, bot = botId) =>
    kw.call('GET', `/api/bots/${bot}/sessions/${sessionId}/messages${query}`, { token: user.token });

  it('shows what the contact and the bot said, oldest first, and pages back', async () => {
    const sessionId = await say('+4915100000001', 'Hello?');
    await say('+4915100000001', 'Are you open on Sunday?');
    await say('+4915100000002', 'Another contact entirely');
    const shown = await transcript(sessionId);
    expect(shown.status).toBe(200);
    expect(shown.body.session).toMatchObject({ id: sessionId, contact: '+4915100000001', messages: 4 });
    expect(
      shown.body.messages.map((m: { role: string; content: string }) => `${m.role}: ${m.content}`),
    ).toEqual([
      'user: Hello?',
      'assistant: Answer 1',
      'user: Are you open on Sunday?',
      'assistant: Answer 2',
    ]);
    expect(shown.body.hasMore).toBe(false);
    expect(Number.isNaN(Date.parse(shown.body.messages[0].at))).toBe(false);

    const newest = await transcript(sessionId, '?limit=2');
    expect(newest.body.messages.map((m: { content: string }) => m.content)).toEqual([
      'Are you open on Sunday?',
      'Answer 2',
    ]);
    expect(newest.body.hasMore).toBe(true);
    const older = await transcript(sessionId, `?limit=2&before=${newest.body.messages[0].id}`);
    expect(older.body.messages.map((m: { content: string }) => m.content)).toEqual(['Hello?', 'Answer 1']);
    expect(older.body.hasMore).toBe(false);
  });

  it("keeps a closed session's transcript readable", async () => {
    const sessionId = await say('c1', 'First words');
    const closed = await kw.call('POST', `/api/bots/${botId}/sessions/c1/status`, {
      token: alice.token,
      body: { status: 'closed' },
    });
    expect(closed.status).toBe(200);
    const shown = await transcript(sessionId);
    expect(shown.body.session.status).toBe('closed');
    expect(shown.body.messages.map((m: { content: string }) => m.content)).toEqual([
      'First words',
      'Answer 1',
    ]);
  });

  it("is 404 for another user's bot session, and for a session of another bot", async () => {
    const sessionId = await say('c1', 'Private words');
    const mallory = await kw.user('mallory');
    const theirs = await transcript(sessionId, '', mallory);
    expect([theirs.status, theirs.body.error.code]).toEqual([404, 'not_found']);
    expect(theirs.text.includes('Private words')).toBe(false);
    // Mallory's own bot cannot reach Alice's session through its id either.
    const credential = await kw.call('POST', '/api/credentials', {
      token: mallory.token,
      body: { name: 'm', provider: 'openai', secret: fakeKey(), settings: { baseUrl: upstream.url } },
    });
    const malloryBot = await kw.call('POST', '/api/bots', {
      token: mallory.token,
      body: { name: 'mine', credentialId: credential.body.id, model: 'gpt-4o-mini' },
    });
    const crossed = await transcript(sessionId, '', mallory, malloryBot.body.id);
    expect([crossed.status, crossed.body.error.code]).toEqual([404, 'not_found']);
    // Alice's other bot does not show it either.
    const other = await kw.call('POST', '/api/bots', {
      token: alice.token,
      body: { name: 'other', credentialId: credential.body.id, model: 'gpt-4o-mini' },
    });
    if (other.status === 201)
      expect((await transcript(sessionId, '', alice, other.body.id)).status).toBe(404);
    expect((await kw.call('GET', `/api/bots/${botId}/sessions/${sessionId}/messages`)).status).toBe(401);
  });

  it('refuses hostile ids and paging with clear 4xx', async () => {
    await say('c1', 'Hi');
    for (const id of ['not-a-uuid', '%00', crypto.randomUUID(), `${'a'.repeat(5000)}`]) {
      const response = await transcript(encodeURIComponent(id));
      expect([response.status, response.body.error.code], id.slice(0, 20)).toEqual([404, 'not_found']);
    }
    const sessionId = (await kw.call('GET', `/api/bots/${botId}/sessions`, { token: alice.token })).body[0]
      .id;
    for (const query of [
      '?limit=0',
      '?limit=501',
      '?limit=abc',
      '?before=-1',
      '?before=1e400',
      '?before=1.5',
    ]) {
      const response = await transcript(sessionId, query);
      expect([response.status, response.body.error.code], query).toEqual([400, 'validation_failed']);
    }
    expect((await transcript(sessionId, '', alice, 'not-a-bot')).status).toBe(404);
  });
});
