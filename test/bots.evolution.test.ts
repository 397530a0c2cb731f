import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { evolutionUpsert, startFakeEvolution, type FakeEvolution } from './fakes/fake-evolution.ts';
import { startFakeOpenAiChat, type FakeOpenAiChat } from './fakes/fake-openai-chat.ts';
import { fakeKey, startGatewayHarness, type GatewayHarness } from './support/gateway-harness.ts';
import { BACKENDS } from './support/test-database.ts';

const waitUntil = async (check: () => boolean | Promise<boolean>, timeoutMs = 15_000) => {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('timed out waiting');
};

describe.each(BACKENDS)('bots on Evolution API instances [%s]', (backend) => {
  const key = fakeKey();
  const rotatedKey = fakeKey();
  const instanceKeys = {
    'sales-1': fakeKey('evo-'),
    'sales-2': fakeKey('evo-'),
    'support-1': fakeKey('evo-'),
  };
  let upstream: FakeOpenAiChat;
  let evolution: FakeEvolution;
  let kw: GatewayHarness;
  let alice: { id: string; token: string };

  beforeAll(async () => {
    upstream = await startFakeOpenAiChat({ validKeys: [key, rotatedKey] });
  });
  afterAll(async () => {
    await upstream.close();
  });
  beforeEach(async () => {
    evolution = await startFakeEvolution({ instances: instanceKeys });
    kw = await startGatewayHarness(backend, { env: { KEYWAY_UPSTREAM_RETRIES: '0' } });
    alice = await kw.user('alice');
    upstream.requests.length = 0;
    // The reply names the bot, from its system prompt, so each contact's reply is traceable.
    upstream.setScript((request) => {
      const system = (request.body.messages as { role: string; content: string }[])[0]!.content;
      return { kind: 'text', text: `${system} answering` };
    });
  });
  afterEach(async () => {
    await kw.stop();
    await evolution.close();
    const logs = kw.logLines.join('\n');
    for (const secret of [key, rotatedKey, ...Object.values(instanceKeys)])
      expect(logs.includes(secret)).toBe(false);
  });

  const post = async (path: string, body: unknown) => {
    const response = await fetch(kw.server.url + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  it('three bots on three instances share one credential; replies go through the right instance; a rotation moves all three', async () => {
    const credential = await kw.credential(alice.token, {
      name: 'shared-key',
      provider: 'openai',
      secret: key,
      settings: { baseUrl: upstream.url },
    });
    const bots: Record<string, { id: string; inboundSecret: string }> = {};
    for (const instance of Object.keys(instanceKeys) as (keyof typeof instanceKeys)[]) {
      const created = await kw.call('POST', '/api/bots', {
        token: alice.token,
        body: {
          name: `bot-${instance}`,
          credentialId: credential.id,
          model: 'gpt-4o-mini',
          systemPrompt: `bot-${instance}`,
          channels: { evolution: { serverUrl: evolution.url, instance, apiKey: instanceKeys[instance] } },
        },
      });
      expect(created.status).toBe(201);
      expect(created.text.includes(instanceKeys[instance])).toBe(false);
      expect(created.body.channels.evolution.apiKeyHint).not.toBe(instanceKeys[instance]);
      bots[instance] = created.body;
    }
    const credentialView = await kw.call('GET', `/api/credentials/${credential.id}`, { token: alice.token });
    expect(credentialView.body.usedBy).toEqual({ bots: 3 });

    const contacts = {
      'sales-1': '5511000000001@s.whatsapp.net',
      'sales-2': '5511000000002@s.whatsapp.net',
      'support-1': '5511000000003@s.whatsapp.net',
    };
    for (const [instance, bot] of Object.entries(bots)) {
      const response = await post(
        `/hooks/evolution/${bot.id}?secret=${bot.inboundSecret}`,
        evolutionUpsert({
          instance,
          remoteJid: contacts[instance as keyof typeof contacts],
          text: 'hello',
          apikey: instanceKeys[instance as keyof typeof instanceKeys],
        }),
      );
      expect(response.status).toBe(202);
      expect(response.body.accepted).toBe(true);
    }
    await waitUntil(() => evolution.sent.length === 3);
    for (const sent of evolution.sent) {
      expect(sent.number).toBe(contacts[sent.instance as keyof typeof contacts]);
      expect(sent.text).toBe(`bot-${sent.instance} answering`);
    }
    expect(upstream.requests.map((request) => request.headers.authorization)).toEqual(
      Array(3).fill(`Bearer ${key}`),
    );

    // Rotating the one credential moves every bot to the new key at once.
    const rotated = await kw.call('POST', `/api/credentials/${credential.id}/rotate`, {
      token: alice.token,
      body: { secret: rotatedKey },
    });
    expect(rotated.status).toBe(200);
    for (const [instance, bot] of Object.entries(bots)) {
      await post(
        `/hooks/evolution/${bot.id}?secret=${bot.inboundSecret}`,
        evolutionUpsert({ instance, remoteJid: contacts[instance as keyof typeof contacts], text: 'again' }),
      );
    }
    await waitUntil(() => evolution.sent.length === 6);
    expect(upstream.requests.slice(3).map((request) => request.headers.authorization)).toEqual(
      Array(3).fill(`Bearer ${rotatedKey}`),
    );
  });

  it('follows Evolution semantics: fromMe pauses, groups ignored, redelivery answered once, images get unknownMessage, other events skipped', async () => {
    const credential = await kw.credential(alice.token, {
      name: 'k',
      provider: 'openai',
      secret: key,
      settings: { baseUrl: upstream.url },
    });
    const created = await kw.call('POST', '/api/bots', {
      token: alice.token,
      body: {
        name: 'b',
        credentialId: credential.id,
        model: 'gpt-4o-mini',
        systemPrompt: 'b',
        ignore: ['*@g.us'],
        unknownMessage: 'Text only, please.',
        channels: {
          evolution: { serverUrl: evolution.url, instance: 'sales-1', apiKey: instanceKeys['sales-1'] },
        },
      },
    });
    const bot = created.body as { id: string; inboundSecret: string };
    const hook = (body: unknown) =>
      fetch(`${kw.server.url}/hooks/evolution/${bot.id}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-keyway-secret': bot.inboundSecret },
        body: JSON.stringify(body),
      }).then(async (response) => ({
        status: response.status,
        body: (await response.json()) as Record<string, unknown>,
      }));
    const contact = '5511000000009@s.whatsapp.net';

    const first = evolutionUpsert({ instance: 'sales-1', remoteJid: contact, text: 'hi', id: 'MSG-1' });
    expect((await hook(first)).status).toBe(202);
    expect((await hook(first)).body.reason).toBe('duplicate');
    await waitUntil(() => evolution.sent.length === 1);

    expect(
      (await hook(evolutionUpsert({ instance: 'sales-1', remoteJid: '120363@g.us', text: 'hi all' }))).body
        .reason,
    ).toBe('ignored');
    expect(
      (await hook(evolutionUpsert({ instance: 'sales-1', remoteJid: contact, imageOnly: true }))).status,
    ).toBe(202);
    await waitUntil(() => evolution.sent.length === 2);
    expect(evolution.sent[1]!.text).toBe('Text only, please.');

    // Evolution reports the bot's own replies back as fromMe messages: they are not a takeover.
    expect(
      (
        await hook(
          evolutionUpsert({ instance: 'sales-1', remoteJid: contact, text: 'b answering', fromMe: true }),
        )
      ).body.reason,
    ).toBe('own_reply');
    // The operator writes from the phone: the session pauses and the bot stops answering.
    expect(
      (
        await hook(
          evolutionUpsert({ instance: 'sales-1', remoteJid: contact, text: 'human here', fromMe: true }),
        )
      ).body.reason,
    ).toBe('paused_by_operator');
    await hook(evolutionUpsert({ instance: 'sales-1', remoteJid: contact, text: 'thanks' }));
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(evolution.sent).toHaveLength(2);

    const other = await hook({ event: 'connection.update', instance: 'sales-1', data: { state: 'open' } });
    expect([other.status, other.body.accepted]).toEqual([200, false]);
    const wrongInstance = await hook(evolutionUpsert({ instance: 'sales-2', remoteJid: contact, text: 'x' }));
    expect([wrongInstance.status, (wrongInstance.body.error as { code: string }).code]).toEqual([
      409,
      'instance_mismatch',
    ]);
    const malformed = await hook({ event: 'messages.upsert', instance: 'sales-1', data: { key: {} } });
    expect(malformed.status).toBe(400);
    expect(upstream.requests).toHaveLength(1);
  });
});
