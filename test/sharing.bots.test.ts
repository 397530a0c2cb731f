import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeOpenAiChat, type FakeOpenAiChat } from './fakes/fake-openai-chat.ts';
import { fakeKey } from './support/gateway-harness.ts';
import { BACKENDS } from './support/test-database.ts';
import { createTestKeyway, type TestKeyway } from './support/test-keyway.ts';

/**
 * A bot's own limits hold its replies, on every channel: a refused turn answers the contact with the
 * bot's failure text (never the limit's words) and the session tells the owner why.
 */
describe.each(BACKENDS)('a bot within its limits [%s]', (backend) => {
  const key = fakeKey();
  let upstream: FakeOpenAiChat;
  let kw: TestKeyway;

  beforeAll(async () => {
    upstream = await startFakeOpenAiChat({ validKeys: [key] });
  });
  afterAll(async () => {
    await upstream.close();
  });
  beforeEach(async () => {
    kw = await createTestKeyway(backend, { env: { KEYWAY_UPSTREAM_RETRIES: '0' } });
    upstream.setScript(() => ({ kind: 'text', text: 'Hello from the bot.' }));
  });
  afterEach(async () => {
    await kw.close();
  });

  it('answers one message a minute when limited to one request per minute, and says why on the session', async () => {
    const alice = await kw.user('alice');
    const credential = await kw.call('POST', '/api/credentials', {
      token: alice.token,
      body: { name: 'work', provider: 'openai', secret: key, settings: { baseUrl: upstream.url } },
    });
    expect(credential.status).toBe(201);
    const bot = await kw.call('POST', '/api/bots', {
      token: alice.token,
      body: {
        name: 'support',
        credentialId: credential.body.id,
        model: 'gpt-4o-mini',
        limits: { requestsPerMinute: 1 },
        failureMessage: 'Sorry, try again later.',
      },
    });
    expect(bot.status, bot.text).toBe(201);
    expect(bot.body.limits).toEqual({ requestsPerMinute: 1 });
    const say = (text: string) =>
      kw.call('POST', `/api/bots/${bot.body.id}/messages`, {
        token: alice.token,
        body: { contact: '+15550001', text },
      });
    // Both inside one calendar minute: retried if the first lands in the minute's last second.
    let second: Awaited<ReturnType<typeof say>>;
    for (;;) {
      const startedIn = Math.floor(Date.now() / 60_000);
      const first = await say('hi');
      expect(first.body.replies).toEqual(['Hello from the bot.']);
      second = await say('and again');
      if (Math.floor(Date.now() / 60_000) === startedIn) break;
      await new Promise((resolve) => setTimeout(resolve, 1_100));
    }
    expect(second.status).toBe(200);
    expect(second.body.replies).toEqual(['Sorry, try again later.']);

    const sessions = await kw.call('GET', `/api/bots/${bot.body.id}/sessions`, { token: alice.token });
    expect(sessions.status).toBe(200);
    expect(sessions.body[0].lastFailure).toMatchObject({
      code: 'rate_limited',
      message: expect.stringMatching(/^Bot support’s limit of 1 requests per minute is reached/),
    });
    // The same limit shows among the owner's limits.
    const mine = await kw.call('GET', '/api/me/limits', { token: alice.token });
    expect(mine.body.limits).toContainEqual(
      expect.objectContaining({ scope: 'bot', label: 'bot support', kind: 'requestsPerMinute', amount: 1 }),
    );
  });
});
