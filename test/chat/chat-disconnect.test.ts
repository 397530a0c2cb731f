import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeOpenAiChat, type FakeOpenAiChat } from '../fakes/fake-openai-chat.ts';
import { fakeKey, startGatewayHarness, type GatewayHarness } from '../support/gateway-harness.ts';
import { BACKENDS } from '../support/test-database.ts';

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Over a real socket: a browser that goes away mid-answer (tab closed, Stop pressed) on the Node server. */
describe.each(BACKENDS)('chat reply when the client disconnects, on a real socket [%s]', (backend) => {
  const key = fakeKey();
  let upstream: FakeOpenAiChat;
  let keyway: GatewayHarness;
  let alice: { id: string; token: string };

  beforeAll(async () => {
    upstream = await startFakeOpenAiChat({ validKeys: [key] });
  });
  afterAll(async () => {
    await upstream.close();
  });
  beforeEach(async () => {
    keyway = await startGatewayHarness(backend);
    alice = await keyway.user('alice');
    await keyway.credential(alice.token, {
      name: 'work',
      provider: 'openai',
      secret: key,
      settings: { baseUrl: upstream.url },
    });
    upstream.requests.length = 0;
  });
  afterEach(async () => {
    await keyway.stop();
  });

  it('stops the provider and stores the partial answer as stopped', async () => {
    upstream.setScript(() => ({
      kind: 'text',
      text: 'alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu',
      pieceSize: 6,
      delayMs: 100,
    }));
    const created = await keyway.call('POST', '/api/conversations', {
      token: alice.token,
      body: { model: 'work/gpt-4o-mini' },
    });
    const id = created.body.id as string;
    const controller = new AbortController();
    const response = await fetch(`${keyway.server.url}/api/conversations/${id}/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${alice.token}` },
      body: JSON.stringify({ content: 'recite' }),
      signal: controller.signal,
    });
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = response.body!.getReader();
    let received = '';
    while (!received.includes('"type":"delta"')) {
      const next = await reader.read();
      if (next.done) break;
      received += new TextDecoder().decode(next.value);
    }
    controller.abort();

    let messages: { role: string; status: string; content: string }[] = [];
    for (let i = 0; i < 100 && messages.length < 2; i++) {
      await wait(50);
      messages = (await keyway.call('GET', `/api/conversations/${id}`, { token: alice.token })).body.messages;
    }
    expect(messages[1]).toMatchObject({ role: 'assistant', status: 'stopped' });
    expect(messages[1]!.content.startsWith('alpha')).toBe(true);
    expect(messages[1]!.content.length).toBeLessThan(30);
    for (let i = 0; i < 50 && !upstream.requests[0]!.aborted; i++) await wait(20);
    expect(upstream.requests[0]!.aborted).toBe(true);
  });
});
