import { APIError } from 'openai';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SseDecoder } from '../src/http/sse.ts';
import { startFakeOpenAiChat, type FakeOpenAiChat } from './fakes/fake-openai-chat.ts';
import { fakeKey, startGatewayHarness, type GatewayHarness } from './support/gateway-harness.ts';
import { BACKENDS } from './support/test-database.ts';

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Work in flight stops the moment its principal loses access: a revoked token's streams end, a
 * disabled user's streams and chat replies end, and the provider call is cut off at once.
 */
describe.each(BACKENDS)('running work of a principal that loses access [%s]', (backend) => {
  const key = fakeKey();
  let upstream: FakeOpenAiChat;
  let gateway: GatewayHarness;
  let admin: { id: string; token: string };
  let member: { id: string; token: string };

  beforeAll(async () => {
    upstream = await startFakeOpenAiChat({ validKeys: [key] });
  });
  afterAll(async () => {
    await upstream.close();
  });
  beforeEach(async () => {
    gateway = await startGatewayHarness(backend);
    admin = await gateway.user('root', 'admin');
    member = await gateway.user('mia');
    await gateway.credential(member.token, {
      name: 'work',
      provider: 'openai',
      secret: key,
      settings: { baseUrl: upstream.url },
    });
    upstream.requests.length = 0;
    // A long, slow answer: 200 pieces 20 ms apart (4 s), far longer than the test waits.
    upstream.setScript(() => ({ kind: 'text', text: 'word '.repeat(200), pieceSize: 5, delayMs: 20 }));
  });
  afterEach(async () => {
    await gateway.stop();
  });

  /** Starts a /v1 stream, reads its first chunk, and returns the rest of it as a promise. */
  async function openStream() {
    const stream = await gateway.client(member.token).chat.completions.create({
      model: 'work/gpt-4o-mini',
      messages: [{ role: 'user', content: 'Tell me a long story' }],
      stream: true,
    });
    const iterator = stream[Symbol.asyncIterator]();
    await iterator.next();
    const rest = (async () => {
      let chunks = 0;
      try {
        for (let next = await iterator.next(); !next.done; next = await iterator.next()) chunks++;
        return { chunks, error: null };
      } catch (error) {
        return { chunks, error: error as APIError };
      }
    })();
    return { rest };
  }

  const untilAborted = async () => {
    for (let i = 0; i < 100 && !upstream.requests[0]?.aborted; i++) await wait(20);
    return upstream.requests[0]?.aborted;
  };

  it('ends a stream whose token is revoked, with an access_revoked error, and stops the provider', async () => {
    const { rest } = await openStream();
    const tokens = await gateway.call('GET', '/api/tokens', { token: member.token });
    const revoked = await gateway.call('DELETE', `/api/tokens/${tokens.body[0].id}`, { token: member.token });
    expect(revoked.status).toBe(204);
    const outcome = await rest;
    expect(outcome.error?.message).toMatch(/access was revoked/);
    expect(outcome.chunks).toBeLessThan(150);
    expect(await untilAborted()).toBe(true);
  });

  it("ends a disabled user's /v1 stream and chat reply at once, and stops the provider", async () => {
    const { rest } = await openStream();
    // A chat reply from the same user, through the web API.
    const conversation = await gateway.call('POST', '/api/conversations', {
      token: member.token,
      body: { model: 'work/gpt-4o-mini' },
    });
    const reply = await gateway.keyway.app.request(`/api/conversations/${conversation.body.id}/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${member.token}` },
      body: JSON.stringify({ content: 'And another story' }),
    });
    const reader = reply.body!.getReader();
    await reader.read();

    const disabled = await gateway.call('PATCH', `/api/users/${member.id}`, {
      token: admin.token,
      body: { disabled: true },
    });
    expect(disabled.status).toBe(200);
    const outcome = await rest;
    expect(outcome.error?.message).toMatch(/access was revoked/);

    // The chat reply ends too (well before the provider's 4 s), and what arrived is kept as stopped.
    const decoder = new SseDecoder();
    const events: { type: string; [key: string]: unknown }[] = [];
    const startedAt = Date.now();
    for (let next = await reader.read(); !next.done; next = await reader.read())
      events.push(
        ...decoder.push(new TextDecoder().decode(next.value)).map((event) => JSON.parse(event.data)),
      );
    expect(Date.now() - startedAt).toBeLessThan(3_000);
    expect(events.at(-1)).toMatchObject({ type: 'error', code: 'access_revoked' });
    for (let i = 0; i < 100 && !upstream.requests.every((request) => request.aborted); i++) await wait(20);
    expect(upstream.requests.map((request) => request.aborted)).toEqual([true, true]);
  });
});
