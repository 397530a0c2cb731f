import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeOpenAiChat, type FakeOpenAiChat } from '../../test/fakes/fake-openai-chat.ts';
import { fakeKey } from '../../test/support/gateway-harness.ts';
import { BACKENDS } from '../../test/support/test-database.ts';
import { createTestKeyway, type TestKeyway } from '../../test/support/test-keyway.ts';

type User = { id: string; token: string };

describe.each(BACKENDS)('bots [%s]', (backend) => {
  const key = fakeKey();
  const backupKey = fakeKey();
  const brokenKey = fakeKey();
  let upstream: FakeOpenAiChat;
  let kw: TestKeyway;
  let alice: User;
  let credentialId: string;

  beforeAll(async () => {
    upstream = await startFakeOpenAiChat({ validKeys: [key, backupKey, brokenKey] });
  });
  afterAll(async () => {
    await upstream.close();
  });
  beforeEach(async () => {
    kw = await createTestKeyway(backend, { env: { KEYWAY_UPSTREAM_RETRIES: '0' } });
    alice = await kw.user('alice');
    const created = await kw.call('POST', '/api/credentials', {
      token: alice.token,
      body: { name: 'work', provider: 'openai', secret: key, settings: { baseUrl: upstream.url } },
    });
    expect(created.status).toBe(201);
    credentialId = created.body.id;
    upstream.requests.length = 0;
    upstream.setScript(() => ({ kind: 'text', text: 'Hello from the bot.' }));
  });
  afterEach(async () => {
    await kw.close();
    expect(kw.logLines.join('\n').includes(key)).toBe(false);
  });

  const createBot = async (body: Record<string, unknown>, user: User = alice) => {
    const response = await kw.call('POST', '/api/bots', {
      token: user.token,
      body: { credentialId, model: 'gpt-4o-mini', ...body },
    });
    if (response.status !== 201) throw new Error(`create bot: ${response.status} ${response.text}`);
    return response.body as { id: string; inboundSecret: string; name: string };
  };
  const say = async (
    botId: string,
    contact: string,
    text: string | null,
    extra: Record<string, unknown> = {},
  ) => {
    const response = await kw.call('POST', `/api/bots/${botId}/messages`, {
      token: alice.token,
      body: { contact, text, ...extra },
    });
    expect(response.status).toBe(200);
    return response.body as {
      replies: string[];
      session: { id: string; status: string } | null;
      reason?: string;
    };
  };
  const sentMessages = (index: number) =>
    (upstream.requests[index]!.body.messages as { role: string; content: string }[]).map(
      (message) => `${message.role}: ${message.content}`,
    );

  it('creates, shows, changes and deletes a bot; the inbound secret is shown once', async () => {
    const bot = await createBot({ name: 'support', systemPrompt: 'Be brief.' });
    expect(bot.inboundSecret).toMatch(/^kwh_/);
    const shown = await kw.call('GET', `/api/bots/${bot.id}`, { token: alice.token });
    expect(shown.status).toBe(200);
    expect(shown.body.inboundSecret).toBeUndefined();
    expect(shown.text.includes(bot.inboundSecret)).toBe(false);
    expect(shown.body.trigger).toEqual({ type: 'all' });
    expect(shown.body.hooks).toEqual({
      webhook: `/hooks/bots/${bot.id}`,
      evolution: `/hooks/evolution/${bot.id}`,
    });
    const patched = await kw.call('PATCH', `/api/bots/${bot.id}`, {
      token: alice.token,
      body: {
        systemPrompt: 'Be very brief.',
        trigger: { type: 'keyword', operator: 'contains', value: 'help' },
      },
    });
    expect(patched.status).toBe(200);
    expect(patched.body.systemPrompt).toBe('Be very brief.');
    expect(patched.body.trigger).toEqual({
      type: 'keyword',
      operator: 'contains',
      value: 'help',
      caseSensitive: false,
    });
    expect(patched.body.version).toBe(2);
    expect(
      (await kw.call('GET', '/api/bots', { token: alice.token })).body.map((b: { name: string }) => b.name),
    ).toEqual(['support']);
    expect((await kw.call('DELETE', `/api/bots/${bot.id}`, { token: alice.token })).status).toBe(204);
    expect((await kw.call('GET', `/api/bots/${bot.id}`, { token: alice.token })).status).toBe(404);
  });

  it('refuses bad bots with clear 4xx errors and stores nothing', async () => {
    const bob = await kw.user('bob');
    const bobsCredential = (
      await kw.call('POST', '/api/credentials', {
        token: bob.token,
        body: { name: 'bobs', provider: 'openai', secret: fakeKey(), settings: { baseUrl: upstream.url } },
      })
    ).body.id;
    const cases: [Record<string, unknown>, number, string][] = [
      [
        { name: 'r', trigger: { type: 'keyword', operator: 'regex', value: '(unclosed' } },
        400,
        'validation_failed',
      ],
      [{ name: 'c', credentialId: bobsCredential }, 400, 'validation_failed'],
      [{ name: 'c2', credentialId: crypto.randomUUID() }, 400, 'validation_failed'],
      [
        { name: 'u', channels: { webhook: { callbackUrl: 'http://169.254.169.254/latest' } } },
        400,
        'blocked_url',
      ],
      [
        { name: 'e', channels: { evolution: { serverUrl: 'http://127.0.0.1:1', instance: 'x' } } },
        400,
        'validation_failed',
      ],
      [{ name: 'bad name!' }, 400, 'validation_failed'],
      [{ name: 'x', trigger: { type: 'sometimes' } }, 400, 'validation_failed'],
      [{ name: 'x', debounceSeconds: -1 }, 400, 'validation_failed'],
      [{ name: 'x', unknownField: 1 }, 400, 'validation_failed'],
      [{ name: 'i', ignore: ['*'] }, 400, 'validation_failed'],
    ];
    for (const [body, status, code] of cases) {
      const response = await kw.call('POST', '/api/bots', {
        token: alice.token,
        body: { credentialId, model: 'm', ...body },
      });
      expect([response.status, response.body.error.code], JSON.stringify(body)).toEqual([status, code]);
      expect(response.text).not.toMatch(/at .*\.ts:\d+/);
    }
    expect((await kw.call('GET', '/api/bots', { token: alice.token })).body).toEqual([]);
    await createBot({ name: 'taken' });
    const clash = await kw.call('POST', '/api/bots', {
      token: alice.token,
      body: { name: 'TAKEN', credentialId, model: 'm' },
    });
    expect([clash.status, clash.body.error.code]).toEqual([409, 'name_taken']);
  });

  it('keeps bots to their owner: another member gets 404 everywhere and cannot use them on /v1', async () => {
    const bot = await createBot({ name: 'private' });
    const bob = await kw.user('bob');
    const calls: [string, string, unknown?][] = [
      ['GET', `/api/bots/${bot.id}`],
      ['PATCH', `/api/bots/${bot.id}`, { model: 'x' }],
      ['DELETE', `/api/bots/${bot.id}`],
      ['POST', `/api/bots/${bot.id}/messages`, { contact: 'c', text: 'hi' }],
      ['GET', `/api/bots/${bot.id}/sessions`],
      ['POST', `/api/bots/${bot.id}/sessions/c/status`, { status: 'opened' }],
    ];
    for (const [method, path, body] of calls) {
      const response = await kw.call(method, path, { token: bob.token, body });
      expect([method, path, response.status]).toEqual([method, path, 404]);
    }
    expect((await kw.call('GET', '/api/bots', { token: bob.token })).body).toEqual([]);
    const v1 = await kw.call('POST', '/v1/chat/completions', {
      token: bob.token,
      body: { model: 'bot:private', messages: [{ role: 'user', content: 'hi' }] },
    });
    expect(v1.status).toBe(404);
    expect(upstream.requests).toHaveLength(0);
  });

  it('serves model "bot:<name>" on /v1 with the bot prompt, parameters and credential', async () => {
    await createBot({
      name: 'support',
      systemPrompt: 'You are support.',
      seedMessages: [{ role: 'assistant', content: 'How can I help?' }],
      params: { temperature: 0.2, maxTokens: 50 },
    });
    const response = await kw.call('POST', '/v1/chat/completions', {
      token: alice.token,
      body: { model: 'bot:support', messages: [{ role: 'user', content: 'Hi' }] },
    });
    expect(response.status).toBe(200);
    expect(response.body.choices[0].message.content).toBe('Hello from the bot.');
    expect(sentMessages(0)).toEqual(['system: You are support.', 'assistant: How can I help?', 'user: Hi']);
    expect(upstream.requests[0]!.body).toMatchObject({
      model: 'gpt-4o-mini',
      temperature: 0.2,
      max_tokens: 50,
    });
    await kw.keyway.services.usageRecorder.flush();
    const usage = await kw.database.db
      .selectFrom('usage_events')
      .select(['bot_id', 'credential_id'])
      .execute();
    expect(usage).toHaveLength(1);
    expect(usage[0]!.credential_id).toBe(credentialId);
    expect(usage[0]!.bot_id).not.toBeNull();
  });

  it('answers through the HTTP channel with system prompt, seed messages and the history window', async () => {
    const bot = await createBot({
      name: 'support',
      systemPrompt: 'Be brief.',
      seedMessages: [{ role: 'user', content: 'Seed question' }],
      historyWindow: 2,
    });
    const first = await say(bot.id, '5511', 'one');
    expect(first.replies).toEqual(['Hello from the bot.']);
    expect(first.session?.status).toBe('opened');
    await say(bot.id, '5511', 'two');
    await say(bot.id, '5511', 'three');
    // History window 2: the last two stored messages (the previous question and its answer).
    expect(sentMessages(2)).toEqual([
      'system: Be brief.',
      'user: Seed question',
      'user: two',
      'assistant: Hello from the bot.',
      'user: three',
    ]);
    const sessions = await kw.call('GET', `/api/bots/${bot.id}/sessions`, { token: alice.token });
    expect(sessions.body).toHaveLength(1);
    expect(sessions.body[0]).toMatchObject({ contact: '5511', status: 'opened', messages: 6 });
  });

  it('starts sessions only on its trigger, and a bot with trigger none only by an explicit start', async () => {
    const keyword = await createBot({
      name: 'kw',
      trigger: { type: 'keyword', operator: 'startsWith', value: 'hello' },
    });
    expect(await say(keyword.id, 'c1', 'what?')).toMatchObject({
      replies: [],
      reason: 'no_trigger',
      session: null,
    });
    expect((await say(keyword.id, 'c1', 'Hello bot')).replies).toEqual(['Hello from the bot.']);
    // Inside the session, any message is answered.
    expect((await say(keyword.id, 'c1', 'what?')).replies).toEqual(['Hello from the bot.']);

    const none = await createBot({ name: 'none', trigger: { type: 'none' } });
    expect((await say(none.id, 'c2', 'hello')).reason).toBe('no_trigger');
    const opened = await kw.call('POST', `/api/bots/${none.id}/sessions/c2/status`, {
      token: alice.token,
      body: { status: 'opened' },
    });
    expect(opened.status).toBe(200);
    expect(opened.body).toMatchObject({ contact: 'c2', status: 'opened' });
    expect((await say(none.id, 'c2', 'hello')).replies).toEqual(['Hello from the bot.']);
  });

  it('closes the session on keywordFinish and after the expiry; the next message starts a new one', async () => {
    const bot = await createBot({ name: 'b', keywordFinish: '#stop', expireMinutes: 5 });
    const first = await say(bot.id, 'c', 'hi');
    const finished = await say(bot.id, 'c', '#STOP');
    expect(finished).toMatchObject({
      replies: [],
      reason: 'finished',
      session: { id: first.session!.id, status: 'closed' },
    });
    const second = await say(bot.id, 'c', 'hi again');
    expect(second.session!.id).not.toBe(first.session!.id);
    // Ten minutes of silence (moved back in the database) expire the session.
    await sql`UPDATE bot_sessions SET last_activity_at = now() - interval '10 minutes' WHERE id = ${second.session!.id}`.execute(
      kw.database.db,
    );
    const third = await say(bot.id, 'c', 'later');
    expect(third.session!.id).not.toBe(second.session!.id);
    const sessions = await kw.call('GET', `/api/bots/${bot.id}/sessions?status=closed`, {
      token: alice.token,
    });
    expect(sessions.body.map((s: { closeReason: string }) => s.closeReason).sort()).toEqual([
      'expired',
      'keyword_finish',
    ]);
    // Only the new message reached the provider for the new session: no history carried over.
    expect(sentMessages(upstream.requests.length - 1)).toEqual(['user: later']);
  });

  it('merges a burst within the debounce window into one prompt with one reply', async () => {
    const bot = await createBot({ name: 'b', debounceSeconds: 1 });
    const burst = ['I need', 'a price', 'for two'];
    const outcomes = await Promise.all(
      burst.map(async (text, index) => {
        await new Promise((resolve) => setTimeout(resolve, index * 200));
        return say(bot.id, 'c', text);
      }),
    );
    expect(outcomes.map((outcome) => outcome.reason ?? 'answered')).toEqual([
      'debounced',
      'debounced',
      'answered',
    ]);
    expect(outcomes[2]!.replies).toEqual(['Hello from the bot.']);
    expect(upstream.requests).toHaveLength(1);
    expect(sentMessages(0)).toEqual(['user: I need\na price\nfor two']);
  });

  it('ignores listed contacts and wildcards without storing anything', async () => {
    const bot = await createBot({ name: 'b', ignore: ['*@g.us', 'blocked@s.whatsapp.net'] });
    expect((await say(bot.id, '120363@g.us', 'hi')).reason).toBe('ignored');
    expect((await say(bot.id, 'blocked@s.whatsapp.net', 'hi')).reason).toBe('ignored');
    expect((await say(bot.id, 'ok@s.whatsapp.net', 'hi')).replies).toHaveLength(1);
    const inbox = await kw.database.db.selectFrom('bot_inbox').select('contact').execute();
    expect(inbox.map((row) => row.contact)).toEqual(['ok@s.whatsapp.net']);
    expect(upstream.requests).toHaveLength(1);
  });

  it('hands messages no trigger matches to the fallback bot', async () => {
    const fallback = await createBot({
      name: 'fallback',
      systemPrompt: 'I am the fallback.',
      trigger: { type: 'none' },
    });
    const main = await createBot({
      name: 'main',
      systemPrompt: 'I am main.',
      trigger: { type: 'keyword', operator: 'equals', value: 'sales' },
      fallbackBotId: fallback.id,
    });
    expect((await say(main.id, 'c', 'random question')).replies).toEqual(['Hello from the bot.']);
    expect(sentMessages(0)[0]).toBe('system: I am the fallback.');
    expect((await say(main.id, 'c', 'sales')).replies).toHaveLength(1);
    expect(sentMessages(1)[0]).toBe('system: I am main.');
  });

  it('pauses on an operator message (human takeover) and resumes by a status change', async () => {
    const bot = await createBot({ name: 'b' });
    const first = await say(bot.id, 'c', 'hi');
    expect((await say(bot.id, 'c', 'I am a human, I take it from here', { fromMe: true })).reason).toBe(
      'paused_by_operator',
    );
    const paused = await say(bot.id, 'c', 'thanks human');
    expect(paused).toMatchObject({
      replies: [],
      reason: 'paused',
      session: { id: first.session!.id, status: 'paused' },
    });
    expect(upstream.requests).toHaveLength(1);
    const resumed = await kw.call('POST', `/api/bots/${bot.id}/sessions/${encodeURIComponent('c')}/status`, {
      token: alice.token,
      body: { status: 'opened' },
    });
    expect(resumed.body.status).toBe('opened');
    expect((await say(bot.id, 'c', 'bot again?')).replies).toEqual(['Hello from the bot.']);
    // The message sent while paused is part of the history the bot sees after resuming.
    expect(sentMessages(1)).toContain('user: thanks human');
  });

  it('splits replies on blank lines, answers unreadable content with unknownMessage', async () => {
    upstream.setScript(() => ({ kind: 'text', text: 'First part.\n\nSecond part.' }));
    const bot = await createBot({
      name: 'b',
      split: { enabled: true, delayMs: 10 },
      unknownMessage: 'I only read text.',
    });
    expect((await say(bot.id, 'c', 'hi')).replies).toEqual(['First part.', 'Second part.']);
    expect(await say(bot.id, 'c', null)).toMatchObject({
      replies: ['I only read text.'],
      reason: 'unknown_content',
    });
  });

  it("sends the bot's failure text on a provider failure, never the provider's message, and no body in info logs", async () => {
    upstream.setScript(() => ({ kind: 'error', status: 500, message: 'internal provider detail xyz' }));
    const bot = await createBot({ name: 'b', failureMessage: 'Sorry, try later.' });
    const outcome = await say(bot.id, 'c', 'my private question');
    expect(outcome).toMatchObject({ replies: ['Sorry, try later.'], failed: true });
    expect(JSON.stringify(outcome)).not.toContain('xyz');
    const info = kw.logLines
      .filter((line) => !['debug', 'trace', 10, 20].includes(JSON.parse(line).level))
      .join('\n');
    expect(info).not.toContain('my private question');
    expect(info).toContain('bot reply failed');
  });

  it('falls back to its fallback credentials when its credential fails before answering', async () => {
    upstream.setScript((request) =>
      request.headers.authorization === `Bearer ${brokenKey}`
        ? { kind: 'error', status: 503, message: 'overloaded' }
        : { kind: 'text', text: 'Answered by the backup.' },
    );
    const make = async (name: string, secret: string) =>
      (
        await kw.call('POST', '/api/credentials', {
          token: alice.token,
          body: { name, provider: 'openai', secret, settings: { baseUrl: upstream.url } },
        })
      ).body.id as string;
    const broken = await make('broken', brokenKey);
    const backup = await make('backup', backupKey);
    const bot = await createBot({ name: 'b', credentialId: broken, fallbackCredentialIds: [backup] });
    expect((await say(bot.id, 'c', 'hi')).replies).toEqual(['Answered by the backup.']);
    expect(upstream.requests.map((request) => request.headers.authorization)).toEqual([
      `Bearer ${brokenKey}`,
      `Bearer ${backupKey}`,
    ]);
  });

  it('lets fifty bots share one credential; deleting it names them, detach stops them', async () => {
    const names = Array.from({ length: 50 }, (_, index) => `bot-${index}`);
    for (const name of names) await createBot({ name });
    const credential = await kw.call('GET', `/api/credentials/${credentialId}`, { token: alice.token });
    expect(credential.body.usedBy).toEqual({ bots: 50 });
    const refused = await kw.call('DELETE', `/api/credentials/${credentialId}`, { token: alice.token });
    expect([refused.status, refused.body.error.code]).toEqual([409, 'credential_in_use']);
    const detached = await kw.call('DELETE', `/api/credentials/${credentialId}?detach=true`, {
      token: alice.token,
    });
    expect(detached.status).toBe(204);
    const bots = (await kw.call('GET', '/api/bots', { token: alice.token })).body as {
      credentialId: string | null;
    }[];
    expect(bots.every((bot) => bot.credentialId === null)).toBe(true);
  });

  it('refuses bad webhook calls (unknown bot, wrong secret, malformed body) and stores nothing', async () => {
    const bot = await createBot({ name: 'b' });
    const hook = (path: string, body: unknown, headers: Record<string, string> = {}) =>
      kw.call('POST', path, { body, headers });
    const good = { contact: 'c', text: 'hi' };
    const secret = { 'x-keyway-secret': bot.inboundSecret };
    expect((await hook(`/hooks/bots/${crypto.randomUUID()}`, good, secret)).status).toBe(404);
    expect((await hook(`/hooks/bots/not-a-uuid`, good, secret)).status).toBe(404);
    const wrong = await hook(`/hooks/bots/${bot.id}`, good, { 'x-keyway-secret': 'kwh_wrong' });
    expect([wrong.status, wrong.body.error.code]).toEqual([401, 'invalid_secret']);
    expect((await hook(`/hooks/bots/${bot.id}`, good)).status).toBe(401);
    const malformed = await hook(`/hooks/bots/${bot.id}`, { contact: 5 }, secret);
    expect([malformed.status, malformed.body.error.code]).toEqual([400, 'invalid_payload']);
    const notJson = await hook(`/hooks/bots/${bot.id}`, '{nope', secret);
    expect([notJson.status, notJson.body.error.code]).toEqual([400, 'invalid_json']);
    const evolution = await hook(`/hooks/evolution/${bot.id}?secret=${bot.inboundSecret}`, {
      event: 'messages.upsert',
      data: {},
    });
    expect(evolution.status).toBe(409); // no Evolution connection on this bot
    expect(await kw.database.db.selectFrom('bot_inbox').select('id').execute()).toEqual([]);
    expect(kw.logLines.join('\n').includes(bot.inboundSecret)).toBe(false);
  });
});
