import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { verifyWebhook } from '../src/bots/channels/webhook-signature.ts';
import { startFakeOpenAiChat, type FakeOpenAiChat } from './fakes/fake-openai-chat.ts';
import { startFakeWebhookReceiver, type FakeWebhookReceiver } from './fakes/fake-webhook-receiver.ts';
import { fakeKey } from './support/gateway-harness.ts';
import { ProcessPool } from './support/keyway-process.ts';
import { bootstrapAdmin, callServer, serveReady } from './support/process-keyway.ts';
import {
  BACKENDS,
  createTestDatabase,
  type Backend,
  type TestDatabaseTarget,
} from './support/test-database.ts';

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Each suite's fixture: a fake provider, a callback receiver, a fresh database, its processes. */
function deliveryFixture(backend: Backend) {
  const key = fakeKey();
  const state = {} as {
    upstream: FakeOpenAiChat;
    receiver: FakeWebhookReceiver;
    target: TestDatabaseTarget;
  };
  const pool = new ProcessPool();

  beforeAll(async () => {
    state.upstream = await startFakeOpenAiChat({ validKeys: [key] });
  });
  afterAll(async () => {
    await state.upstream.close();
  });
  beforeEach(async () => {
    state.target = await createTestDatabase(backend);
    state.receiver = await startFakeWebhookReceiver();
    state.upstream.requests.length = 0;
    state.upstream.setScript(() => ({ kind: 'text', text: 'Part one.\n\nPart two.' }));
  });
  afterEach(async () => {
    await pool.stopAll();
    await state.receiver.close();
    await state.target.dispose();
  });

  /** An admin token, a credential on the fake upstream and a webhook bot, through the API of `url`. */
  async function setUp(url: string, token: string, bot: Record<string, unknown>) {
    const credential = await callServer(url, 'POST', '/api/credentials', {
      token,
      body: { name: 'k', provider: 'openai', secret: key, settings: { baseUrl: state.upstream.url } },
    });
    expect(credential.status).toBe(201);
    const created = await callServer(url, 'POST', '/api/bots', {
      token,
      body: {
        name: 'hooked',
        credentialId: credential.body.id,
        model: 'gpt-4o-mini',
        channels: { webhook: { callbackUrl: state.receiver.url } },
        ...bot,
      },
    });
    expect(created.status).toBe(201);
    return created.body as { id: string; inboundSecret: string };
  }

  return { state, pool, setUp };
}

const inbound = (url: string, bot: { id: string; inboundSecret: string }, body: Record<string, unknown>) =>
  fetch(`${url}/hooks/bots/${bot.id}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-keyway-secret': bot.inboundSecret },
    body: JSON.stringify(body),
  });

describe.each(BACKENDS)('bot replies through the webhook outbox, across restarts [%s]', (backend) => {
  const fixture = deliveryFixture(backend);

  it('keeps replies while the receiver is down, across a restart, then delivers each exactly once, signed and in order', async () => {
    const { pool, setUp } = fixture;
    const { upstream, receiver, target } = fixture.state;
    const token = await bootstrapAdmin(target.flags, target.env);
    let { server, url } = await serveReady(pool, target.flags, target.env);
    const bot = await setUp(url, token, { split: { enabled: true, delayMs: 0 } });
    await receiver.setMode('closed');
    expect((await inbound(url, bot, { contact: 'c1', text: 'hello', messageId: 'm-1' })).status).toBe(202);
    // The turn runs and the replies wait in the outbox; the receiver refuses connections meanwhile.
    const deadline = Date.now() + 15_000;
    while (upstream.requests.length === 0 && Date.now() < deadline) await wait(50);
    expect(upstream.requests).toHaveLength(1);
    await wait(1_500);
    await server.stop();

    await receiver.setMode('ok');
    ({ server, url } = await serveReady(pool, target.flags, target.env));
    await receiver.waitFor(2, 30_000);
    await wait(2_000); // anything delivered twice would arrive by now
    expect(receiver.received).toHaveLength(2);
    expect(receiver.received.map((delivery) => delivery.json.text)).toEqual(['Part one.', 'Part two.']);
    expect(new Set(receiver.received.map((delivery) => delivery.headers['x-keyway-delivery'])).size).toBe(2);
    for (const delivery of receiver.received) {
      expect(
        verifyWebhook(
          bot.inboundSecret,
          {
            signature: delivery.headers['x-keyway-signature'] as string,
            timestamp: delivery.headers['x-keyway-timestamp'] as string,
          },
          delivery.body,
        ),
      ).toBe(true);
      // A tampered body no longer verifies.
      expect(
        verifyWebhook(
          bot.inboundSecret,
          {
            signature: delivery.headers['x-keyway-signature'] as string,
            timestamp: delivery.headers['x-keyway-timestamp'] as string,
          },
          delivery.body.replace('Part', 'Tart'),
        ),
      ).toBe(false);
    }
    expect(receiver.received[0]!.json).toMatchObject({
      type: 'bot.reply',
      contact: 'c1',
      part: 1,
      parts: 2,
    });
    expect(upstream.requests).toHaveLength(1);
    await server.stop();
  });
  it('a graceful stop abandons a turn waiting for its provider; the restart answers it, once', async () => {
    const { pool, setUp } = fixture;
    const { upstream, receiver, target } = fixture.state;
    upstream.setScript((_request, index) =>
      index === 0 ? { kind: 'stall' } : { kind: 'text', text: 'Answered after the restart.' },
    );
    const token = await bootstrapAdmin(target.flags, target.env);
    let { server, url } = await serveReady(pool, target.flags, target.env);
    const bot = await setUp(url, token, {});
    expect((await inbound(url, bot, { contact: 'c1', text: 'hello' })).status).toBe(202);
    const deadline = Date.now() + 15_000;
    while (upstream.requests.length === 0 && Date.now() < deadline) await wait(50);
    expect(upstream.requests).toHaveLength(1);

    const stoppedAt = Date.now();
    server.kill('SIGTERM');
    expect((await server.exited).code).toBe(0);
    // It does not wait for the stalled provider (up to the lease, minutes).
    expect(Date.now() - stoppedAt).toBeLessThan(15_000);
    expect(receiver.received).toHaveLength(0);

    ({ server, url } = await serveReady(pool, target.flags, target.env));
    await receiver.waitFor(1, 30_000);
    await wait(1_500);
    expect(receiver.received.map((delivery) => delivery.json.text)).toEqual(['Answered after the restart.']);
    expect(upstream.requests).toHaveLength(2);
  });
});

// Several nodes share one database only on PostgreSQL (an embedded data dir has one owner).
describe('bots on two nodes [postgres]', () => {
  const fixture = deliveryFixture('postgres');

  it('two nodes receive a burst for one contact alternately: one merged prompt, one reply, in order', async () => {
    const { pool, setUp } = fixture;
    const { upstream, receiver, target } = fixture.state;
    const token = await bootstrapAdmin(target.flags, target.env);
    const [a, b] = await Promise.all([
      serveReady(pool, target.flags, target.env),
      serveReady(pool, target.flags, target.env),
    ]);
    const bot = await setUp(a.url, token, { debounceSeconds: 2, split: { enabled: true, delayMs: 200 } });
    const burst = ['I want', 'to order', 'two pizzas', 'with cheese'];
    for (const [index, text] of burst.entries()) {
      const node = index % 2 === 0 ? a.url : b.url;
      expect((await inbound(node, bot, { contact: '5511777', text })).status).toBe(202);
      await wait(300);
    }
    await receiver.waitFor(2, 30_000);
    await wait(2_500);
    expect(upstream.requests).toHaveLength(1);
    const prompt = (upstream.requests[0]!.body.messages as { role: string; content: string }[]).at(-1)!;
    expect(prompt).toEqual({ role: 'user', content: burst.join('\n') });
    expect(receiver.received.map((delivery) => delivery.json.text)).toEqual(['Part one.', 'Part two.']);

    // A second burst, answered after the first: replies never overtake each other.
    upstream.setScript(() => ({ kind: 'text', text: 'Second answer.' }));
    await inbound(b.url, bot, { contact: '5511777', text: 'and a drink' });
    await receiver.waitFor(3, 30_000);
    expect(receiver.received.map((delivery) => delivery.json.text)).toEqual([
      'Part one.',
      'Part two.',
      'Second answer.',
    ]);
    const sessions = await callServer(a.url, 'GET', `/api/bots/${bot.id}/sessions`, { token });
    expect(sessions.body).toHaveLength(1);
    expect(sessions.body[0].messages).toBe(4);
  });
});
