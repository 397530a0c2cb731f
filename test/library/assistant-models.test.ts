import { randomBytes } from 'node:crypto';
import { APIError } from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { startFakeOpenAiChat, type FakeOpenAiChat } from '../fakes/fake-openai-chat.ts';
import { startFakeOpenAiExtras, type FakeOpenAiExtras } from '../fakes/fake-openai-extras.ts';
import { startGatewayHarness, type GatewayHarness } from '../support/gateway-harness.ts';
import { BACKENDS } from '../support/test-database.ts';

type User = { id: string; token: string };
type Message = { role: string; content: string };

const QUESTION = 'Can I return shoes, and within how many days?';
const INSTRUCTIONS = 'You are the returns desk of the shoe shop. Answer in one sentence.';
const handbook = [
  '# Shoe shop handbook',
  '## Returns',
  'Customers may return unworn shoes within 45 days of purchase, with the receipt, for a full refund.',
  '## Shipping',
  'Orders ship from the Porto warehouse and arrive in three business days; express costs nine euros.',
].join('\n\n');

/** `assistant:<name>` on /v1, driven by the official OpenAI SDK against fake upstreams. */
describe.each(BACKENDS)('assistant:<name> on /v1 [%s]', (backend) => {
  const key = `sk-canary-${randomBytes(16).toString('hex')}`;
  let chat: FakeOpenAiChat;
  let embeddings: FakeOpenAiExtras;
  let kw: GatewayHarness;
  let root: User;
  let alice: User;
  let bob: User;
  let carol: User;
  let team: string;
  let kbId: string;

  const upstreamMessages = (index = 0) => chat.requests[index]!.body.messages as Message[];

  beforeAll(async () => {
    [chat, embeddings] = await Promise.all([
      startFakeOpenAiChat({ validKeys: [key] }),
      startFakeOpenAiExtras({ validKeys: [key], defaultDimensions: 32 }),
    ]);
    kw = await startGatewayHarness(backend, { env: { KEYWAY_UPSTREAM_RETRIES: '0' } });
    root = await kw.user('root', 'admin');
    alice = await kw.user('alice');
    bob = await kw.user('bob');
    carol = await kw.user('carol');
    await kw.credential(alice.token, {
      name: 'emb',
      provider: 'openai',
      secret: key,
      settings: { baseUrl: embeddings.url },
    });
    for (const user of [alice, bob, carol])
      await kw.credential(user.token, {
        name: 'work',
        provider: 'openai',
        secret: key,
        settings: { baseUrl: chat.url },
      });
    const created = await kw.call('POST', '/api/teams', { token: root.token, body: { name: 'shop' } });
    team = created.body.id;
    for (const user of [alice, carol])
      expect(
        (
          await kw.call('PUT', `/api/teams/${team}/members/${user.id}`, {
            token: root.token,
            body: { role: 'member' },
          })
        ).status,
      ).toBe(200);

    // A knowledge base of alice's, embedded by the fake (hashed bag of words), ready before any test.
    const form = new FormData();
    form.set('file', new Blob([new TextEncoder().encode(handbook)]), 'handbook.md');
    const uploaded = await kw.keyway.app.request('/api/files', {
      method: 'POST',
      headers: { authorization: `Bearer ${alice.token}` },
      body: form,
    });
    expect(uploaded.status).toBe(201);
    const fileId = ((await uploaded.json()) as { id: string }).id;
    const base = await kw.call('POST', '/api/knowledge', {
      token: alice.token,
      body: { name: 'Handbook', embeddingModel: 'emb/text-embedding-3-small' },
    });
    expect(base.status, base.text).toBe(201);
    kbId = base.body.id;
    expect(
      (await kw.call('POST', `/api/knowledge/${kbId}/files`, { token: alice.token, body: { fileId } }))
        .status,
    ).toBe(201);
    await vi.waitFor(
      async () => {
        const files = await kw.call('GET', `/api/knowledge/${kbId}/files`, { token: alice.token });
        if (files.body[0]?.status !== 'ready') throw new Error(`still ${files.body[0]?.status}`);
      },
      { timeout: 30_000, interval: 50 },
    );

    const assistant = await kw.call('POST', '/api/assistants', {
      token: alice.token,
      body: {
        name: 'Returns',
        model: 'work/gpt-4o-mini',
        instructions: INSTRUCTIONS,
        settings: { temperature: 0.3, maxTokens: 200 },
        knowledgeBaseIds: [kbId],
      },
    });
    expect(assistant.status, assistant.text).toBe(201);
  });
  afterAll(async () => {
    await kw?.stop();
    await Promise.all([chat?.close(), embeddings?.close()]);
    expect(kw.logLines.join('\n').includes(key)).toBe(false);
  });
  beforeEach(() => {
    chat.requests.length = 0;
    chat.setScript(() => ({ kind: 'text', text: 'Yes, within 45 days with the receipt [1].' }));
  });

  it('sends the assistant’s model, instructions first, its knowledge and its temperature upstream', async () => {
    const answer = await kw.client(alice.token).chat.completions.create({
      model: 'assistant:Returns',
      messages: [{ role: 'user', content: QUESTION }],
    });
    expect(answer.choices[0]!.message.content).toBe('Yes, within 45 days with the receipt [1].');

    expect(chat.requests).toHaveLength(1);
    const sent = chat.requests[0]!.body;
    expect(sent.model).toBe('gpt-4o-mini');
    expect(sent.temperature).toBe(0.3);
    expect(sent.max_tokens).toBe(200);
    const messages = upstreamMessages();
    expect(messages.map((message) => message.role)).toEqual(['system', 'system', 'user']);
    expect(messages[0]!.content).toBe(INSTRUCTIONS);
    // Retrieval: the returns passage, numbered for citation.
    expect(messages[1]!.content).toContain('within 45 days of purchase');
    expect(messages[1]!.content).toContain('[1]');
    expect(messages[1]!.content).toContain('handbook.md');
    expect(messages[2]!.content).toBe(QUESTION);
  });

  it('streams, and the caller’s own temperature and output limit win over the assistant’s', async () => {
    const stream = await kw.client(alice.token).chat.completions.create({
      model: 'assistant:returns',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: QUESTION },
      ],
      temperature: 1.1,
      max_completion_tokens: 50,
      stream: true,
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe('Yes, within 45 days with the receipt [1].');
    const sent = chat.requests[0]!.body;
    expect(sent.temperature).toBe(1.1);
    expect(sent.max_completion_tokens).toBe(50);
    expect(sent.max_tokens).toBeUndefined();
    const messages = upstreamMessages();
    expect(messages[0]).toEqual({ role: 'system', content: INSTRUCTIONS });
    expect(messages.slice(-2)).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: QUESTION },
    ]);
  });

  it('is listed in /v1/models and the chat’s model picker for its owner and its team, not for others', async () => {
    const listed = async (user: User) =>
      (await kw.client(user.token).models.list()).data.map((model) => model.id);
    expect(await listed(alice)).toContain('assistant:Returns');
    expect(await listed(bob)).not.toContain('assistant:Returns');
    const picker = await kw.call('GET', '/api/models', { token: alice.token });
    expect(picker.body).toContainEqual(
      expect.objectContaining({ id: 'assistant:Returns', kind: 'assistant' }),
    );
    const bobsPicker = await kw.call('GET', '/api/models', { token: bob.token });
    expect(bobsPicker.body.map((model: { id: string }) => model.id)).not.toContain('assistant:Returns');

    const assistantId = (await kw.call('GET', '/api/assistants', { token: alice.token })).body.find(
      (found: { name: string }) => found.name === 'Returns',
    ).id;
    await kw.call('PUT', `/api/assistants/${assistantId}/teams`, {
      token: alice.token,
      body: { teamIds: [team] },
    });
    try {
      expect(await listed(carol)).toContain('assistant:Returns');
    } finally {
      await kw.call('PUT', `/api/assistants/${assistantId}/teams`, {
        token: alice.token,
        body: { teamIds: [] },
      });
    }
  });

  it('another user’s assistant is 404 model_not_found in OpenAI’s envelope, and nothing goes upstream', async () => {
    for (const stream of [false, true]) {
      const error = await kw
        .client(bob.token)
        .chat.completions.create({
          model: 'assistant:Returns',
          messages: [{ role: 'user', content: 'hi' }],
          stream,
        })
        .then(
          () => null,
          (failure: unknown) => failure,
        );
      expect(error).toBeInstanceOf(APIError);
      expect((error as APIError).status).toBe(404);
      expect((error as APIError).code).toBe('model_not_found');
    }
    expect(chat.requests).toHaveLength(0);
    const raw = await fetch(`${kw.server.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${bob.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'assistant:Returns', messages: [{ role: 'user', content: 'hi' }] }),
    });
    const body = (await raw.json()) as { error: { code: string; type: string; param: string } };
    expect(body.error).toMatchObject({ code: 'model_not_found', param: 'model' });
  });

  it('a team member uses a shared assistant as themselves (their usage) until they leave the team', async () => {
    const assistantId = (await kw.call('GET', '/api/assistants', { token: alice.token })).body.find(
      (found: { name: string }) => found.name === 'Returns',
    ).id;
    await kw.call('PUT', `/api/assistants/${assistantId}/teams`, {
      token: alice.token,
      body: { teamIds: [team] },
    });
    try {
      const before = await usageRequests(carol);
      const answer = await kw.client(carol.token).chat.completions.create({
        model: 'assistant:Returns',
        messages: [{ role: 'user', content: QUESTION }],
      });
      expect(answer.choices[0]!.message.content).toContain('45 days');
      const messages = upstreamMessages();
      expect(messages[0]).toEqual({ role: 'system', content: INSTRUCTIONS });
      expect(chat.requests[0]!.body.temperature).toBe(0.3);
      // Alice's handbook is not shared with carol: she gets the assistant, not alice's private knowledge.
      expect(messages.map((message) => message.content).join('\n')).not.toContain('45 days of purchase');
      await vi.waitFor(async () => expect(await usageRequests(carol)).toBe(before + 1), { timeout: 5_000 });

      // With the knowledge base shared with the team too, its passages reach her as well.
      await kw.call('PUT', `/api/knowledge/${kbId}/teams`, { token: alice.token, body: { teamIds: [team] } });
      chat.requests.length = 0;
      await kw.client(carol.token).chat.completions.create({
        model: 'assistant:Returns',
        messages: [{ role: 'user', content: QUESTION }],
      });
      expect(upstreamMessages()[1]!.content).toContain('within 45 days of purchase');

      expect(
        (await kw.call('DELETE', `/api/teams/${team}/members/${carol.id}`, { token: root.token })).status,
      ).toBe(204);
      const error = await kw
        .client(carol.token)
        .chat.completions.create({ model: 'assistant:Returns', messages: [{ role: 'user', content: 'hi' }] })
        .catch((failure: unknown) => failure);
      expect((error as APIError).status).toBe(404);
      expect((error as APIError).code).toBe('model_not_found');
    } finally {
      await kw.call('PUT', `/api/teams/${team}/members/${carol.id}`, {
        token: root.token,
        body: { role: 'member' },
      });
      await kw.call('PUT', `/api/knowledge/${kbId}/teams`, { token: alice.token, body: { teamIds: [] } });
      await kw.call('PUT', `/api/assistants/${assistantId}/teams`, {
        token: alice.token,
        body: { teamIds: [] },
      });
    }
  });

  it('answers on /v1/messages too, translated, with the assistant’s instructions', async () => {
    const response = await fetch(`${kw.server.url}/v1/messages`, {
      method: 'POST',
      headers: {
        'x-api-key': alice.token,
        'content-type': 'application/json',
        'anthropic-version': '2023-06-01',
      },
      body: JSON.stringify({
        model: 'assistant:Returns',
        max_tokens: 100,
        messages: [{ role: 'user', content: QUESTION }],
      }),
    });
    const body = (await response.json()) as { content: { type: string; text: string }[] };
    expect(response.status, JSON.stringify(body)).toBe(200);
    expect(body.content[0]!.text).toContain('45 days');
    expect(upstreamMessages()[0]).toEqual({ role: 'system', content: INSTRUCTIONS });
    expect(chat.requests[0]!.body.temperature).toBe(0.3);
  });

  it('a name of the caller’s own reaches theirs before one shared with them, and is listed once', async () => {
    const assistantId = (await kw.call('GET', '/api/assistants', { token: alice.token })).body.find(
      (found: { name: string }) => found.name === 'Returns',
    ).id;
    const own = await kw.call('POST', '/api/assistants', {
      token: carol.token,
      body: { name: 'RETURNS', model: 'work/gpt-4o-mini', instructions: 'Carol’s own desk.' },
    });
    expect(own.status, own.text).toBe(201);
    await kw.call('PUT', `/api/assistants/${assistantId}/teams`, {
      token: alice.token,
      body: { teamIds: [team] },
    });
    try {
      const listed = (await kw.client(carol.token).models.list()).data
        .map((model) => model.id)
        .filter((id) => id.toLowerCase() === 'assistant:returns');
      expect(listed).toEqual(['assistant:RETURNS']);
      await kw.client(carol.token).chat.completions.create({
        model: 'assistant:Returns',
        messages: [{ role: 'user', content: 'hi' }],
      });
      expect(upstreamMessages()[0]).toEqual({ role: 'system', content: 'Carol’s own desk.' });
    } finally {
      await kw.call('PUT', `/api/assistants/${assistantId}/teams`, {
        token: alice.token,
        body: { teamIds: [] },
      });
      await kw.call('DELETE', `/api/assistants/${own.body.id}`, { token: carol.token });
    }
  });

  it('refuses an assistant on endpoints that are not chat (embeddings)', async () => {
    const error = await kw
      .client(alice.token)
      .embeddings.create({ model: 'assistant:Returns', input: 'hi' })
      .catch((failure: unknown) => failure);
    expect((error as APIError).status).toBe(400);
  });

  async function usageRequests(user: User): Promise<number> {
    const usage = await kw.call('GET', '/api/usage?groupBy=model', { token: user.token });
    return (usage.body.rows as { key: string; requests: number }[])
      .filter((row) => row.key.includes('gpt-4o-mini'))
      .reduce((sum, row) => sum + row.requests, 0);
  }
});
