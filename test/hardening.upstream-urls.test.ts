import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evolutionUpsert, startFakeEvolution, type FakeEvolution } from './fakes/fake-evolution.ts';
import { startFakeOpenAiChat, type FakeOpenAiChat } from './fakes/fake-openai-chat.ts';
import { startFakeWebhookReceiver, type FakeWebhookReceiver } from './fakes/fake-webhook-receiver.ts';
import { fakeKey } from './support/gateway-harness.ts';
import { BACKENDS } from './support/test-database.ts';
import { createTestKeyway, type TestKeyway } from './support/test-keyway.ts';

type User = { id: string; token: string };

const waitUntil = async (check: () => Promise<boolean>, what: string, timeoutMs = 20_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
};

/**
 * Issue 11, point 3, on the paths the credential tests do not take: the URLs a member's bot calls
 * (webhook callbacks, an Evolution API server) and a base URL with `?` or `#` in the middle. Built
 * with production's rule for members (public addresses only); admins may use loopback, as the
 * embedded default allows.
 */
describe.each(BACKENDS)('what a URL may reach, under the production member policy [%s]', (backend) => {
  const evolutionKey = fakeKey('evo-');
  const key = fakeKey();
  let upstream: FakeOpenAiChat;
  let receiver: FakeWebhookReceiver;
  let evolution: FakeEvolution;
  let kw: TestKeyway;
  let admin: User;
  let member: User;
  /** The member's own credential, on a public host (saving it calls nothing). */
  let memberCredential: string;
  /** An admin's credential on the loopback fake, shared with everyone: a member's bot can answer. */
  let sharedCredential: string;

  beforeAll(async () => {
    upstream = await startFakeOpenAiChat({ validKeys: [key] });
    upstream.setScript(() => ({ kind: 'text', text: 'Hello from the bot.' }));
    receiver = await startFakeWebhookReceiver();
    evolution = await startFakeEvolution({ instances: { shop: evolutionKey } });
    kw = await createTestKeyway(backend, {
      membersReachLoopback: false,
      env: { KEYWAY_UPSTREAM_RETRIES: '0' },
    });
    admin = await kw.user('root', 'admin');
    member = await kw.user('mallory');
    const own = await kw.call('POST', '/api/credentials', {
      token: member.token,
      body: {
        name: 'own',
        provider: 'openai-compatible',
        secret: fakeKey(),
        settings: { baseUrl: 'https://api.example.com/v1' },
      },
    });
    expect(own.status, own.text).toBe(201);
    memberCredential = own.body.id;
    const shared = await kw.call('POST', '/api/credentials', {
      token: admin.token,
      body: {
        name: 'company',
        provider: 'openai',
        secret: key,
        settings: { baseUrl: upstream.url },
        shared: true,
      },
    });
    expect(shared.status, shared.text).toBe(201);
    sharedCredential = shared.body.id;
  });
  afterAll(async () => {
    await kw?.close();
    await Promise.all([upstream?.close(), receiver?.close(), evolution?.close()]);
  });

  const createBot = (
    user: User,
    name: string,
    channels: Record<string, unknown>,
    credentialId = memberCredential,
  ) =>
    kw.call('POST', '/api/bots', {
      token: user.token,
      body: { name, credentialId, model: 'gpt-4o-mini', channels },
    });
  const webhook = (callbackUrl: string) => ({ webhook: { callbackUrl } });
  const evolutionAt = (serverUrl: string) => ({
    evolution: { serverUrl, instance: 'shop', apiKey: evolutionKey },
  });

  const LOOPBACK_AND_PRIVATE = [
    'http://127.0.0.1:9/hook',
    'http://127.0.0.2:9/hook',
    'http://[::1]:9/hook',
    'http://[::ffff:127.0.0.1]:9/hook',
    'http://10.1.2.3/hook',
    'http://192.168.1.1/hook',
  ];

  it("refuses a member's bot callback URL and Evolution server on loopback or a private address, on create and update", async () => {
    for (const url of LOOPBACK_AND_PRIVATE) {
      for (const [field, channels] of [
        ['channels.webhook.callbackUrl', webhook(url)],
        ['channels.evolution.serverUrl', evolutionAt(url)],
      ] as const) {
        const response = await createBot(member, 'b', channels);
        expect([url, field, response.status, response.body?.error?.code]).toEqual([
          url,
          field,
          400,
          'blocked_url',
        ]);
        expect(response.body.error.details).toEqual({ field });
      }
    }
    // The same bot on a public host is saved: the refusals above are the address's, not the form's.
    const saved = await createBot(member, 'public', {
      ...webhook('https://hooks.example.com/keyway'),
      ...evolutionAt('https://evolution.example.com'),
    });
    expect(saved.status, saved.text).toBe(201);
    for (const url of LOOPBACK_AND_PRIVATE) {
      for (const channels of [webhook(url), evolutionAt(url)]) {
        const patched = await kw.call('PATCH', `/api/bots/${saved.body.id}`, {
          token: member.token,
          body: { channels },
        });
        expect([url, patched.status, patched.body?.error?.code]).toEqual([url, 400, 'blocked_url']);
      }
    }
    const kept = await kw.call('GET', `/api/bots/${saved.body.id}`, { token: member.token });
    expect(kept.body.channels.webhook).toEqual({ callbackUrl: 'https://hooks.example.com/keyway' });
    expect(kept.body.channels.evolution.serverUrl).toBe('https://evolution.example.com');
  });

  it('lets an admin use loopback (allowed here), not a private address (off unless the operator allows it)', async () => {
    const loopback = await createBot(
      admin,
      'local',
      { ...webhook('http://127.0.0.1:9/hook'), ...evolutionAt('http://[::1]:9') },
      sharedCredential,
    );
    expect(loopback.status, loopback.text).toBe(201);
    const privateNet = await createBot(admin, 'lan', webhook('http://10.1.2.3/hook'), sharedCredential);
    expect([privateNet.status, privateNet.body.error.code]).toEqual([400, 'blocked_url']);
  });

  it("a member's bot whose callback or Evolution server is named localhost: replies are refused where the socket opens", async () => {
    // A host name is judged when it resolves (as for credentials): saved, but nothing reaches loopback.
    const viaLocalhost = (url: string) => url.replace('127.0.0.1', 'localhost');
    const hooked = await createBot(member, 'hooked', webhook(viaLocalhost(receiver.url)), sharedCredential);
    const evolved = await createBot(
      member,
      'evolved',
      evolutionAt(viaLocalhost(evolution.url)),
      sharedCredential,
    );
    expect([hooked.status, evolved.status]).toEqual([201, 201]);

    const accepted = await kw.call('POST', `/hooks/bots/${hooked.body.id}`, {
      body: { contact: 'c1', text: 'hi' },
      headers: { 'x-keyway-secret': hooked.body.inboundSecret },
    });
    expect(accepted.status).toBe(202);
    const upsert = await kw.call(
      'POST',
      `/hooks/evolution/${evolved.body.id}?secret=${evolved.body.inboundSecret}`,
      {
        body: evolutionUpsert({
          instance: 'shop',
          remoteJid: '5511000000001@s.whatsapp.net',
          text: 'hi',
          apikey: evolutionKey,
        }),
      },
    );
    expect(upsert.status).toBe(202);

    const failedDeliveries = () =>
      kw.database.db
        .selectFrom('bot_outbox')
        .select(['channel', 'last_error', 'delivered_at'])
        .where('last_error', 'is not', null)
        .orderBy('channel')
        .execute();
    await waitUntil(async () => (await failedDeliveries()).length === 2, 'both deliveries to fail');
    const failed = await failedDeliveries();
    expect(failed.map((row) => [row.channel, row.delivered_at])).toEqual([
      ['evolution', null],
      ['webhook', null],
    ]);
    for (const row of failed) expect(row.last_error).toMatch(/could not be reached \(UpstreamBlockedError\)/);
    expect(receiver.attempts).toHaveLength(0);
    expect(evolution.requests).toHaveLength(0);
  });

  it('refuses a base URL with ? or # in the middle, for a member and for an admin', async () => {
    for (const user of [member, admin]) {
      for (const baseUrl of ['http://example.com/v1?x=1/more', 'http://example.com/a#b/v1']) {
        const response = await kw.call('POST', '/api/credentials', {
          token: user.token,
          body: { name: 'odd', provider: 'openai-compatible', secret: fakeKey(), settings: { baseUrl } },
        });
        expect([baseUrl, response.status, response.body?.error?.code]).toEqual([
          baseUrl,
          400,
          'invalid_settings',
        ]);
        expect(response.text).toMatch(/query string or fragment/);
      }
      const good = await kw.call('POST', '/api/credentials', {
        token: user.token,
        body: {
          name: `plain-${user.id}`,
          provider: 'openai-compatible',
          secret: fakeKey(),
          settings: { baseUrl: 'http://example.com/v1' },
        },
      });
      expect(good.status, good.text).toBe(201);
      // An update is checked the same way.
      const patched = await kw.call('PATCH', `/api/credentials/${good.body.id}`, {
        token: user.token,
        body: { settings: { baseUrl: 'http://example.com/v1?x=1/more' } },
      });
      expect([patched.status, patched.body?.error?.code]).toEqual([400, 'invalid_settings']);
    }
  });
});
