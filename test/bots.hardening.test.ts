import { monitorEventLoopDelay } from 'node:perf_hooks';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeOpenAiChat, type FakeOpenAiChat } from './fakes/fake-openai-chat.ts';
import { startFakeWebhookReceiver, type FakeWebhookReceiver } from './fakes/fake-webhook-receiver.ts';
import { fakeKey } from './support/gateway-harness.ts';
import { BACKENDS } from './support/test-database.ts';
import { createTestKeyway, type TestKeyway } from './support/test-keyway.ts';

type User = { id: string; token: string };

const waitUntil = async (check: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
};

/** The longest the event loop was blocked while `work` ran, in ms: what every other request waited. */
async function longestStall<T>(work: () => Promise<T>): Promise<{ result: T; stallMs: number }> {
  const histogram = monitorEventLoopDelay({ resolution: 5 });
  histogram.enable();
  try {
    const result = await work();
    return { result, stallMs: histogram.max / 1e6 };
  } finally {
    histogram.disable();
  }
}

/** Issue 11: what a member, a contact or a provider could do to the bots of everyone. */
describe.each(BACKENDS)('bots hardening [%s]', (backend) => {
  const key = fakeKey();
  let upstream: FakeOpenAiChat;
  let receiver: FakeWebhookReceiver;
  let kw: TestKeyway;
  let admin: User;
  let alice: User;
  let credentialId: string;

  beforeAll(async () => {
    upstream = await startFakeOpenAiChat({ validKeys: [key] });
  });
  afterAll(async () => {
    await upstream.close();
  });
  beforeEach(async () => {
    receiver = await startFakeWebhookReceiver();
    kw = await createTestKeyway(backend, { env: { KEYWAY_UPSTREAM_RETRIES: '0' } });
    admin = await kw.user('root', 'admin');
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
    await receiver.close();
  });

  const createBot = async (body: Record<string, unknown>) => {
    const response = await kw.call('POST', '/api/bots', {
      token: alice.token,
      body: { credentialId, model: 'gpt-4o-mini', ...body },
    });
    if (response.status !== 201) throw new Error(`create bot: ${response.status} ${response.text}`);
    return response.body as { id: string; inboundSecret: string };
  };
  const hookBot = (extra: Record<string, unknown> = {}) =>
    createBot({ name: 'hooked', channels: { webhook: { callbackUrl: receiver.url } }, ...extra });
  const hook = (bot: { id: string; inboundSecret: string }, body: Record<string, unknown>) =>
    kw.call('POST', `/hooks/bots/${bot.id}`, { body, headers: { 'x-keyway-secret': bot.inboundSecret } });
  const say = async (botId: string, contact: string, text: string) => {
    const response = await kw.call('POST', `/api/bots/${botId}/messages`, {
      token: alice.token,
      body: { contact, text },
    });
    expect(response.status, response.text).toBe(200);
    return response.body as { replies: string[]; reason?: string; failed?: boolean };
  };
  const setDisabled = async (user: User, disabled: boolean) => {
    const response = await kw.call('PATCH', `/api/users/${user.id}`, {
      token: admin.token,
      body: { disabled },
    });
    expect([response.status, response.body.disabled]).toEqual([200, disabled]);
  };

  it('runs ReDoS triggers and ignore globs in linear time: no message stalls the server', async () => {
    // Each exponential on a backtracking engine: the regex doubles per character (25: seconds), the
    // glob with seven wildcards takes seconds on 60 characters and far longer on 200.
    const bot = await createBot({
      name: 'redos',
      trigger: { type: 'keyword', operator: 'regex', value: '^(a+)+$' },
      ignore: ['*a*a*a*a*a*a*a*b'],
    });
    const hostile: [string, string][] = [
      ['a'.repeat(60), 'a'.repeat(25) + '!'],
      ['a'.repeat(200), 'a'.repeat(49_999) + '!'],
    ];
    for (const [contact, text] of hostile) {
      const { result, stallMs } = await longestStall(() => say(bot.id, contact, text));
      expect(result.reason).toBe('no_trigger');
      // The matchers themselves take < 50 ms on these inputs (bot-rules.test.ts); here the whole request
      // is measured on two shared cores, where a garbage collection alone can pause the loop ~70 ms.
      expect(stallMs, `event loop blocked for ${stallMs} ms`).toBeLessThan(200);
    }
    // The patterns still mean what they say.
    expect((await say(bot.id, 'someone', 'AAAA')).replies).toEqual(['Hello from the bot.']);
    expect((await say(bot.id, 'xaaaaaaab', 'aaaa')).reason).toBe('ignored');
    expect(upstream.requests).toHaveLength(1);
  });

  it('refuses at save, by name, a regex only a backtracking engine can run', async () => {
    const cases: [string, RegExp][] = [
      ['(a)\\1', /backreference/],
      ['(?<w>a)\\k<w>', /backreference/],
      ['order(?=\\d)', /lookahead/],
      ['^(?!spam)', /lookahead/],
      ['(?<=#)help', /lookbehind/],
      ['(.*a){400}', /too complex/],
    ];
    for (const [value, named] of cases) {
      const response = await kw.call('POST', '/api/bots', {
        token: alice.token,
        body: { name: 'r', credentialId, model: 'm', trigger: { type: 'keyword', operator: 'regex', value } },
      });
      expect([value, response.status, response.body.error.code]).toEqual([value, 400, 'unsupported_regex']);
      expect(response.body.error.message).toMatch(named);
    }
    const bot = await createBot({ name: 'ok' });
    const patched = await kw.call('PATCH', `/api/bots/${bot.id}`, {
      token: alice.token,
      body: { trigger: { type: 'keyword', operator: 'regex', value: '(?<!x)y' } },
    });
    expect([patched.status, patched.body.error.code]).toEqual([400, 'unsupported_regex']);
    // JavaScript syntax RE2 can run is translated, not refused.
    const js = await createBot({
      name: 'js',
      trigger: { type: 'keyword', operator: 'regex', value: '^caf\\u00e9 (?<n>\\d+)$' },
    });
    expect((await say(js.id, 'c', 'CAFÉ 2')).replies).toEqual(['Hello from the bot.']);
  });

  it('refuses U+0000 anywhere in a bot or a session change with a 400, never a 500', async () => {
    const bodies: Record<string, unknown>[] = [
      { name: 'n', systemPrompt: 'be\u0000nice' },
      { name: 'n', model: 'gpt\u0000' },
      { name: 'n', seedMessages: [{ role: 'user', content: '\u0000' }] },
      { name: 'n', trigger: { type: 'keyword', operator: 'contains', value: 'hi\u0000' } },
      { name: 'n', keywordFinish: '#stop\u0000' },
      { name: 'n', ignore: ['*\u0000'] },
      { name: 'n', failureMessage: 'sorry\u0000' },
      { name: 'n', params: { stop: ['\u0000'] } },
      { name: 'n', channels: { webhook: { callbackUrl: 'http://127.0.0.1:9/\u0000' } } },
      { name: 'n\u0000' },
    ];
    for (const body of bodies) {
      const response = await kw.call('POST', '/api/bots', {
        token: alice.token,
        body: { credentialId, model: 'm', ...body },
      });
      expect([JSON.stringify(body), response.status]).toEqual([JSON.stringify(body), 400]);
      expect(response.body.error.code).not.toBe('internal_error');
    }
    expect((await kw.call('GET', '/api/bots', { token: alice.token })).body).toEqual([]);
    const bot = await createBot({ name: 'b' });
    const patched = await kw.call('PATCH', `/api/bots/${bot.id}`, {
      token: alice.token,
      body: { systemPrompt: '\u0000' },
    });
    expect(patched.status).toBe(400);
    const status = await kw.call('POST', `/api/bots/${bot.id}/sessions/a%00b/status`, {
      token: alice.token,
      body: { status: 'opened' },
    });
    expect([status.status, status.body.error.code]).toEqual([400, 'validation_failed']);
    // A contact id holding "%" is one contact, not decoded twice (and "%zz" is no 500).
    const percent = await kw.call(
      'POST',
      `/api/bots/${bot.id}/sessions/${encodeURIComponent('50%zz')}/status`,
      {
        token: alice.token,
        body: { status: 'opened' },
      },
    );
    expect([percent.status, percent.body.contact]).toEqual([200, '50%zz']);
  });

  it("stops a disabled user's bots at once: hooks refused, pending turns and replies held, all resumed on enable", async () => {
    const bot = await hookBot({ debounceSeconds: 1 });
    // A reply whose delivery failed once, waiting for its retry.
    await receiver.setMode('error');
    expect((await hook(bot, { contact: 'c1', text: 'one' })).status).toBe(202);
    await waitUntil(() => receiver.attempts.length >= 1, 'the first delivery attempt');
    // A message accepted, its debounce window still open.
    expect((await hook(bot, { contact: 'c2', text: 'two' })).status).toBe(202);
    await setDisabled(alice, true);
    await receiver.setMode('ok');

    const refused = await hook(bot, { contact: 'c3', text: 'three' });
    expect(refused.status).toBeGreaterThanOrEqual(400);
    expect(refused.status).toBeLessThan(500);
    expect(refused.body.error.code).toBe('bot_owner_disabled');
    // Past the debounce window and the delivery retry (1 s): nothing happens while disabled.
    const since = Date.now();
    await waitUntil(() => Date.now() - since > 2_500, 'the disabled period');
    expect(upstream.requests).toHaveLength(1);
    expect(receiver.received).toHaveLength(0);
    const inbox = await kw.database.db.selectFrom('bot_inbox').select('contact').execute();
    expect(inbox.map((row) => row.contact).sort()).toEqual(['c1', 'c2']); // "three" was not stored

    await setDisabled(alice, false);
    await receiver.waitFor(2, 20_000);
    expect(receiver.received.map((call) => [call.json.contact, call.json.text]).sort()).toEqual([
      ['c1', 'Hello from the bot.'],
      ['c2', 'Hello from the bot.'],
    ]);
    expect(upstream.requests).toHaveLength(2);
  });

  it('disabling the owner aborts a turn already waiting on its provider: the call is cut, no reply is sent', async () => {
    // The first call hangs (the provider is thinking); later ones answer.
    upstream.setScript((_, index) =>
      index === 0 ? { kind: 'stall' } : { kind: 'text', text: 'Hello from the bot.' },
    );
    const bot = await hookBot();
    expect((await hook(bot, { contact: 'c', text: 'hi' })).status).toBe(202);
    await waitUntil(() => upstream.requests.length === 1, 'the provider call');
    await setDisabled(alice, true);
    await waitUntil(() => upstream.requests[0]!.aborted, 'the provider to see its connection closed');

    // The turn ended without an answer: no reply (not even the failure text) queued, no failure
    // recorded or counted, and the message still waits in the inbox.
    const { db } = kw.database;
    const contactRow = () =>
      db
        .selectFrom('bot_contacts')
        .select(['busy_until', 'failures'])
        .where('bot_id', '=', bot.id)
        .where('contact', '=', 'c')
        .executeTakeFirstOrThrow();
    await waitUntil(async () => (await contactRow()).busy_until === null, 'the turn to end');
    expect((await contactRow()).failures).toBe(0);
    expect(await db.selectFrom('bot_outbox').select('payload').execute()).toEqual([]);
    expect(await db.selectFrom('bot_inbox').select(['text', 'handled_at']).execute()).toEqual([
      { text: 'hi', handled_at: null },
    ]);
    const sessions = await db.selectFrom('bot_sessions').select('last_failure').execute();
    expect(sessions.filter((session) => session.last_failure !== null)).toEqual([]);

    // Enabled again, the message is answered as any held one is: once, with a real reply.
    await setDisabled(alice, false);
    const [reply] = await receiver.waitFor(1, 20_000);
    expect(reply!.json.text).toBe('Hello from the bot.');
    expect(upstream.requests).toHaveLength(2);
    expect(receiver.received).toHaveLength(1);
  });

  it('strips U+0000 from what contacts and providers send: stored, answered once, delivered', async () => {
    upstream.setScript(() => ({ kind: 'text', text: 'Hel\u0000lo\u0000 there.' }));
    const bot = await hookBot();
    const accepted = await hook(bot, {
      contact: '5511\u0000',
      name: 'Ann\u0000',
      text: 'hi\u0000 bot',
      messageId: 'm\u00001',
    });
    expect([accepted.status, accepted.body.accepted]).toEqual([202, true]);
    const [reply] = await receiver.waitFor(1, 10_000);
    expect([reply!.json.contact, reply!.json.text]).toEqual(['5511', 'Hello there.']);
    expect(upstream.requests).toHaveLength(1);
    expect((upstream.requests[0]!.body.messages as { content: string }[]).at(-1)!.content).toBe('hi bot');
    const sessions = await kw.call('GET', `/api/bots/${bot.id}/sessions`, { token: alice.token });
    expect(sessions.body[0]).toMatchObject({ contact: '5511', contactName: 'Ann', messages: 2 });
  });

  it('backs off a turn that keeps failing, then sends the failure text; the contact is not stuck', async () => {
    // Stands in for any failure after the provider answered: this reply cannot be stored.
    await sql`ALTER TABLE bot_messages ADD CONSTRAINT test_unstorable CHECK (position('poison' in content) = 0)`.execute(
      kw.database.db,
    );
    const calledAt: number[] = [];
    upstream.setScript(() => {
      calledAt.push(Date.now());
      return { kind: 'text', text: 'poison' };
    });
    const bot = await hookBot({ failureMessage: 'Sorry, try later.' });
    expect((await hook(bot, { contact: 'c', text: 'hi' })).status).toBe(202);
    const [failure] = await receiver.waitFor(1, 20_000);
    expect(failure!.json.text).toBe('Sorry, try later.');
    // The second failure sends the failure text: 2 paid calls, one back-off of 1 s between them.
    expect(upstream.requests).toHaveLength(2);
    expect(calledAt[1]! - calledAt[0]!).toBeGreaterThanOrEqual(1_000);

    // The HTTP channel gets the failure text too, not a 500, after the same single back-off.
    const started = Date.now();
    expect(await say(bot.id, 'h', 'hi')).toMatchObject({ replies: ['Sorry, try later.'], failed: true });
    const waited = Date.now() - started;
    expect(waited).toBeGreaterThanOrEqual(1_000);
    expect(waited).toBeLessThan(4_000); // no second back-off
    expect(upstream.requests).toHaveLength(4);

    // Once replies can be stored, the same contact is answered normally, and a later failure of that
    // contact starts counting from zero again (it is retried, not answered with the failure text).
    upstream.setScript(() => ({ kind: 'text', text: 'All good.' }));
    expect((await hook(bot, { contact: 'c', text: 'again' })).status).toBe(202);
    await receiver.waitFor(2, 10_000);
    expect(receiver.received[1]!.json.text).toBe('All good.');
    expect(upstream.requests).toHaveLength(5);
    upstream.setScript((_, index) => ({ kind: 'text', text: index === 5 ? 'poison' : 'Fine now.' }));
    expect((await hook(bot, { contact: 'c', text: 'once more' })).status).toBe(202);
    await receiver.waitFor(3, 10_000);
    expect(receiver.received[2]!.json.text).toBe('Fine now.');
    expect(upstream.requests).toHaveLength(7);
  });
});
