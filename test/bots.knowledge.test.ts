import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { evolutionUpsert, startFakeEvolution, type FakeEvolution } from './fakes/fake-evolution.ts';
import { FAKE_TRANSCRIPT, startFakeOpenAiExtras, type FakeOpenAiExtras } from './fakes/fake-openai-extras.ts';
import { startFakeOpenAiChat, type FakeOpenAiChat } from './fakes/fake-openai-chat.ts';
import { fakeKey, startGatewayHarness, type GatewayHarness } from './support/gateway-harness.ts';
import { BACKENDS } from './support/test-database.ts';

const DIMENSIONS = 16;
const LIMIT = 16 * 1024;
const handbook = [
  '# Shoe shop handbook',
  '## Returns',
  'Customers may return unworn shoes within 45 days of purchase, with the receipt, for a full refund.',
  '## Shipping',
  'Orders ship from the Porto warehouse and arrive in three business days; express costs nine euros.',
  '## Warranty',
  'Soles are guaranteed for two years against cracking; stitching for one year.',
].join('\n\n');

/** One base URL for the bot's credential: chat to the chat fake, embeddings and audio to the extras fake. */
async function startRouter(
  chatUrl: string,
  extrasUrl: string,
): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((request, response) => {
    const pieces: Buffer[] = [];
    request.on('data', (piece: Buffer) => pieces.push(piece));
    request.on('end', async () => {
      const path = (request.url ?? '/').replace(/^\/v1/, '');
      const target = path.startsWith('/chat/') ? chatUrl : extrasUrl;
      const headers: Record<string, string> = {};
      for (const name of ['authorization', 'content-type'])
        if (typeof request.headers[name] === 'string') headers[name] = request.headers[name];
      const answer = await fetch(target + path, {
        method: request.method ?? 'POST',
        headers,
        ...(pieces.length > 0 ? { body: Buffer.concat(pieces) } : {}),
      });
      response.writeHead(answer.status, {
        'content-type': answer.headers.get('content-type') ?? 'text/plain',
      });
      response.end(Buffer.from(await answer.arrayBuffer()));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

type Message = { role: string; content: unknown };

describe.each(BACKENDS)('bots with knowledge, images and voice notes [%s]', (backend) => {
  const key = fakeKey();
  const instanceKey = fakeKey('evo-');
  let chat: FakeOpenAiChat;
  let extras: FakeOpenAiExtras;
  let router: { url: string; close(): Promise<void> };
  let evolution: FakeEvolution;
  let kw: GatewayHarness;
  let alice: { id: string; token: string };
  let bob: { id: string; token: string };
  let credentialId: string;
  let kbId: string;

  const upload = async (token: string, name: string, content: string | Uint8Array) => {
    const form = new FormData();
    form.set(
      'file',
      new Blob([typeof content === 'string' ? new TextEncoder().encode(content) : content]),
      name,
    );
    const response = await kw.keyway.app.request('/api/files', {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
      body: form,
    });
    expect(response.status).toBe(201);
    return ((await response.json()) as { id: string }).id;
  };
  const knowledgeBase = async (token: string, name: string, files: [string, string][]) => {
    const created = await kw.call('POST', '/api/knowledge', {
      token,
      body: { name, embeddingModel: 'work/text-embedding-3-small' },
    });
    expect(created.status, created.text).toBe(201);
    for (const [fileName, text] of files) {
      const fileId = await upload(token, fileName, text);
      const added = await kw.call('POST', `/api/knowledge/${created.body.id}/files`, {
        token,
        body: { fileId },
      });
      expect(added.status, added.text).toBe(201);
    }
    await vi.waitFor(
      async () => {
        const listed = await kw.call('GET', `/api/knowledge/${created.body.id}/files`, { token });
        expect(listed.body.map((file: { status: string }) => file.status)).toEqual(files.map(() => 'ready'));
      },
      { timeout: 30_000, interval: 50 },
    );
    return created.body.id as string;
  };
  const createBot = async (body: Record<string, unknown>, token = alice.token) => {
    const created = await kw.call('POST', '/api/bots', {
      token,
      body: {
        credentialId,
        model: 'gpt-4o-mini',
        systemPrompt: 'You are the shoe shop assistant.',
        channels: { evolution: { serverUrl: evolution.url, instance: 'shop', apiKey: instanceKey } },
        ...body,
      },
    });
    expect(created.status, created.text).toBe(201);
    return created.body as { id: string; inboundSecret: string; name: string };
  };
  const hook = async (bot: { id: string; inboundSecret: string }, body: Record<string, unknown>) => {
    const response = await fetch(`${kw.server.url}/hooks/evolution/${bot.id}?secret=${bot.inboundSecret}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(response.status).toBe(202);
  };
  const contact = () => `55119${randomBytes(4).readUInt32BE() % 100_000_000}@s.whatsapp.net`;
  const promptOf = (index: number) => chat.requests[index]!.body.messages as Message[];
  /** The embedding calls that embedded this text (a question): retrieval searched with it. */
  const embeddingsOf = (text: string) =>
    extras.requests.filter(
      (request) => request.endpoint === 'embeddings' && [request.json?.input].flat().includes(text),
    );

  beforeAll(async () => {
    chat = await startFakeOpenAiChat({ validKeys: [key] });
    extras = await startFakeOpenAiExtras({ validKeys: [key], defaultDimensions: DIMENSIONS });
    router = await startRouter(chat.url, extras.url.replace(/\/v1$/, '') + '/v1');
    evolution = await startFakeEvolution({ instances: { shop: instanceKey } });
    kw = await startGatewayHarness(backend, {
      // Small, so that media over the file size limit is cheap to make.
      env: { KEYWAY_UPSTREAM_RETRIES: '0', KEYWAY_FILE_SIZE_LIMIT: String(LIMIT) },
    });
    alice = await kw.user('alice');
    bob = await kw.user('bob');
    credentialId = (
      await kw.credential(alice.token, {
        name: 'work',
        provider: 'openai',
        secret: key,
        settings: { baseUrl: router.url },
      })
    ).id;
    await kw.credential(bob.token, {
      name: 'work',
      provider: 'openai',
      secret: key,
      settings: { baseUrl: router.url },
    });
    kbId = await knowledgeBase(alice.token, 'Handbook', [['handbook.md', handbook]]);
  });
  afterAll(async () => {
    await kw?.stop();
    await evolution?.close();
    await router?.close();
    await extras?.close();
    await chat?.close();
    const logs = kw.logLines.join('\n');
    for (const secret of [key, instanceKey]) expect(logs.includes(secret)).toBe(false);
  });
  beforeEach(() => {
    chat.requests.length = 0;
    extras.requests.length = 0;
    evolution.sent.length = 0;
    chat.setScript(() => ({ kind: 'text', text: 'Within 45 days, with the receipt [1].' }));
  });

  it('answers a WhatsApp message from its knowledge base, as its owner, and names its sources', async () => {
    const bot = await createBot({ name: 'shop', knowledgeBaseIds: [kbId], citeSources: true });
    const view = await kw.call('GET', `/api/bots/${bot.id}`, { token: alice.token });
    expect(view.body).toMatchObject({
      knowledgeBaseIds: [kbId],
      citeSources: true,
      retrievalTokenBudget: null,
    });

    const customer = contact();
    await hook(
      bot,
      evolutionUpsert({
        instance: 'shop',
        remoteJid: customer,
        text: 'Can I return shoes, and within how many days?',
      }),
    );
    const [sent] = await evolution.waitForSent(1);
    expect(sent!.number).toBe(customer);
    // The reply cites [1], the Returns passage: the sources line names it.
    expect(sent!.text).toBe('Within 45 days, with the receipt [1].\n\nSources: [1] handbook.md (Returns)');

    // The passage reached the model, first, after the bot's system prompt and before the question.
    const prompt = promptOf(0);
    expect(prompt.map((message) => message.role)).toEqual(['system', 'system', 'user']);
    expect(prompt[0]!.content).toBe('You are the shoe shop assistant.');
    expect(prompt[1]!.content).toMatch(
      /\[1\] handbook\.md[^\n]*\n<<<\nCustomers may return unworn shoes within 45 days/,
    );
    expect(prompt[2]!.content).toBe('Can I return shoes, and within how many days?');
    // The question was embedded with the knowledge base's model, through the owner's credential.
    const embedded = embeddingsOf('Can I return shoes, and within how many days?');
    expect(embedded).toHaveLength(1);
    expect(embedded[0]!.headers.authorization).toBe(`Bearer ${key}`);
    expect(embedded[0]!.json!.model).toBe('text-embedding-3-small');
  });

  it("grounds bot:<name> on /v1 the same way, with the bot's own token budget", async () => {
    // Room for one passage (120 tokens of instructions, then each source).
    const bot = await createBot({ name: 'shop-api', knowledgeBaseIds: [kbId], retrievalTokenBudget: 170 });
    const completion = await kw.client(alice.token).chat.completions.create({
      model: 'bot:shop-api',
      messages: [{ role: 'user', content: 'When do orders from the warehouse arrive?' }],
    });
    expect(completion.choices[0]!.message.content).toBe('Within 45 days, with the receipt [1].');
    const prompt = promptOf(0);
    expect(prompt[1]!.role).toBe('system');
    expect(prompt[1]!.content).toContain('[1] handbook.md');
    expect(prompt[1]!.content).toContain('arrive in three business days');
    expect(prompt[1]!.content).not.toContain('[2]');
    expect(embeddingsOf('When do orders from the warehouse arrive?')).toHaveLength(1);

    // The HTTP channel too.
    const http = await kw.call('POST', `/api/bots/${bot.id}/messages`, {
      token: alice.token,
      body: { contact: 'web-visitor-1', text: 'How long are soles guaranteed against cracking?' },
    });
    // Without citeSources, no sources line.
    expect(http.body, http.text).toMatchObject({ replies: ['Within 45 days, with the receipt [1].'] });
    expect(promptOf(1)[1]!.content).toContain('guaranteed for two years');
    expect(promptOf(1)[1]!.content).not.toContain('[2]');
  });

  it("refuses another user's knowledge base (404 naming the field); a bot whose owner loses one stops using it", async () => {
    const refused = await kw.call('POST', '/api/bots', {
      token: bob.token,
      body: {
        name: 'thief',
        credentialId: (await kw.call('GET', '/api/credentials', { token: bob.token })).body[0].id,
        model: 'gpt-4o-mini',
        knowledgeBaseIds: [kbId],
      },
    });
    expect(refused.status).toBe(404);
    expect(refused.body.error).toMatchObject({ code: 'not_found', details: { field: 'knowledgeBaseIds.0' } });
    expect((await kw.call('GET', '/api/bots', { token: bob.token })).body).toEqual([]);

    const lost = await knowledgeBase(alice.token, 'Warranty', [
      ['warranty.md', '# Warranty\n\nSoles are guaranteed for two years.'],
    ]);
    const bot = await createBot({ name: 'shop-lost', knowledgeBaseIds: [lost] });
    const customer = contact();
    await hook(
      bot,
      evolutionUpsert({ instance: 'shop', remoteJid: customer, text: 'How long are soles guaranteed?' }),
    );
    await evolution.waitForSent(1);
    expect(promptOf(0)[1]!.content).toContain('guaranteed for two years');

    expect((await kw.call('DELETE', `/api/knowledge/${lost}`, { token: alice.token })).status).toBe(204);
    await hook(bot, evolutionUpsert({ instance: 'shop', remoteJid: customer, text: 'And the stitching?' }));
    await evolution.waitForSent(2);
    // Answered, without the knowledge base: no passage, no search in it.
    expect(promptOf(1).filter((message) => message.role === 'system')).toHaveLength(1);
    expect(embeddingsOf('And the stitching?')).toEqual([]);
    // Saving the bot again names the lost knowledge base.
    const patched = await kw.call('PATCH', `/api/bots/${bot.id}`, {
      token: alice.token,
      body: { systemPrompt: 'x' },
    });
    expect(patched.status).toBe(404);
    expect(patched.body.error.details).toEqual({ field: 'knowledgeBaseIds.0' });
  });

  it('transcribes a voice note with the bot credential, then answers the transcript from its knowledge', async () => {
    const bot = await createBot({ name: 'shop-voice', speechToText: true, knowledgeBaseIds: [kbId] });
    const voice = Buffer.concat([Buffer.from('OggS'), randomBytes(6_000)]);
    // Without "webhook base64": Keyway fetches the note from Evolution by the message id.
    evolution.media.set('VOICE-1', { kind: 'audio', mimetype: 'audio/ogg; codecs=opus', bytes: voice });
    const customer = contact();
    await hook(
      bot,
      evolutionUpsert({
        instance: 'shop',
        remoteJid: customer,
        id: 'VOICE-1',
        media: { kind: 'audio', mimetype: 'audio/ogg; codecs=opus', bytes: voice },
      }),
    );
    const [sent] = await evolution.waitForSent(1);
    expect(sent!.text).toBe('Within 45 days, with the receipt [1].');

    const fetched = evolution.requests.filter(
      (request) => request.path === '/chat/getBase64FromMediaMessage/shop',
    );
    expect(fetched).toHaveLength(1);
    expect(fetched[0]!.headers.apikey).toBe(instanceKey);
    expect(JSON.parse(fetched[0]!.body)).toEqual({
      message: { key: { id: 'VOICE-1' } },
      convertToMp4: false,
    });

    const transcriptions = extras.requests.filter((request) => request.endpoint === 'transcriptions');
    expect(transcriptions).toHaveLength(1);
    expect(transcriptions[0]!.headers.authorization).toBe(`Bearer ${key}`);
    expect(transcriptions[0]!.fields).toContainEqual(['model', 'whisper-1']);
    expect(transcriptions[0]!.files![0]!.bytes.equals(voice)).toBe(true);
    expect(transcriptions[0]!.files![0]!.name).toBe('voice-note.ogg');

    const prompt = promptOf(0);
    expect(prompt.at(-1)).toEqual({ role: 'user', content: FAKE_TRANSCRIPT });
    // The transcript is what the knowledge was searched with.
    expect(embeddingsOf(FAKE_TRANSCRIPT)).toHaveLength(1);
    expect(prompt[1]!.content).toContain('[1] handbook.md');
    // The session keeps what was said.
    const said = await kw.database.db
      .selectFrom('bot_messages')
      .innerJoin('bot_sessions', 'bot_sessions.id', 'bot_messages.session_id')
      .select(['role', 'content'])
      .where('bot_sessions.bot_id', '=', bot.id)
      .orderBy('bot_messages.id')
      .execute();
    expect(said).toEqual([
      { role: 'user', content: FAKE_TRANSCRIPT },
      { role: 'assistant', content: 'Within 45 days, with the receipt [1].' },
    ]);
  });

  it('answers a voice note with unknownMessage when the bot does not transcribe', async () => {
    const bot = await createBot({ name: 'shop-deaf', unknownMessage: 'Text only, please.' });
    const voice = Buffer.concat([Buffer.from('OggS'), randomBytes(3_000)]);
    const customer = contact();
    await hook(bot, evolutionUpsert({ instance: 'shop', remoteJid: customer, text: 'Hi' }));
    await evolution.waitForSent(1);
    await hook(
      bot,
      evolutionUpsert({
        instance: 'shop',
        remoteJid: customer,
        media: { kind: 'audio', mimetype: 'audio/ogg; codecs=opus', bytes: voice, inWebhook: true },
      }),
    );
    const sent = await evolution.waitForSent(2);
    expect(sent[1]!.text).toBe('Text only, please.');
    expect(extras.requests.filter((request) => request.endpoint === 'transcriptions')).toHaveLength(0);
    // Only the greeting reached the model.
    expect(chat.requests).toHaveLength(1);
  });

  it('sends an inbound image to the vision model as an image part; a disguised file is not an image', async () => {
    const bot = await createBot({ name: 'shop-eyes', images: true, unknownMessage: 'Text only, please.' });
    const png = Buffer.concat([
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      randomBytes(2_000),
    ]);
    const customer = contact();
    // With "webhook base64" on: the bytes come in the webhook.
    await hook(
      bot,
      evolutionUpsert({
        instance: 'shop',
        remoteJid: customer,
        text: 'Is this sole cracked?',
        media: { kind: 'image', mimetype: 'image/png', bytes: png, inWebhook: true },
      }),
    );
    await evolution.waitForSent(1);
    expect(promptOf(0).at(-1)).toEqual({
      role: 'user',
      content: [
        { type: 'text', text: 'Is this sole cracked?' },
        { type: 'image_url', image_url: { url: `data:image/png;base64,${png.toString('base64')}` } },
      ],
    });

    // Fetched from Evolution, and named a JPEG while it is a Windows executable: not sent to the model.
    const exe = Buffer.concat([Buffer.from('MZ'), Buffer.alloc(64), randomBytes(500)]);
    evolution.media.set('IMG-EXE', { kind: 'image', mimetype: 'image/jpeg', bytes: exe });
    await hook(
      bot,
      evolutionUpsert({
        instance: 'shop',
        remoteJid: customer,
        id: 'IMG-EXE',
        media: { kind: 'image', mimetype: 'image/jpeg', bytes: exe },
      }),
    );
    const sent = await evolution.waitForSent(2);
    expect(sent[1]!.text).toBe('Text only, please.');
    expect(chat.requests).toHaveLength(1);

    // A model known not to read images: the image is left out (the bot does not fail on it).
    const blind = await createBot({
      name: 'shop-blind',
      model: 'gpt-3.5-turbo',
      images: true,
      unknownMessage: 'Text only, please.',
    });
    await hook(blind, evolutionUpsert({ instance: 'shop', remoteJid: customer, text: 'Hi' }));
    await evolution.waitForSent(3);
    await hook(
      blind,
      evolutionUpsert({
        instance: 'shop',
        remoteJid: customer,
        media: { kind: 'image', mimetype: 'image/png', bytes: png, inWebhook: true },
      }),
    );
    expect((await evolution.waitForSent(4))[3]!.text).toBe('Text only, please.');
    // Only the greeting reached it.
    expect(chat.requests).toHaveLength(2);
  });

  it('answers media over the file size limit as unreadable, whether it came in the webhook or from Evolution', async () => {
    const bot = await createBot({
      name: 'shop-big',
      images: true,
      speechToText: true,
      unknownMessage: 'Too big.',
    });
    const customer = contact();
    await hook(bot, evolutionUpsert({ instance: 'shop', remoteJid: customer, text: 'Hi' }));
    await evolution.waitForSent(1);
    const png = Buffer.concat([
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      randomBytes(LIMIT),
    ]);
    await hook(
      bot,
      evolutionUpsert({
        instance: 'shop',
        remoteJid: customer,
        media: { kind: 'image', mimetype: 'image/png', bytes: png, inWebhook: true },
      }),
    );
    expect((await evolution.waitForSent(2))[1]!.text).toBe('Too big.');
    const voice = Buffer.concat([Buffer.from('OggS'), randomBytes(LIMIT)]);
    evolution.media.set('VOICE-BIG', { kind: 'audio', mimetype: 'audio/ogg; codecs=opus', bytes: voice });
    await hook(
      bot,
      evolutionUpsert({
        instance: 'shop',
        remoteJid: customer,
        id: 'VOICE-BIG',
        media: { kind: 'audio', mimetype: 'audio/ogg', bytes: voice },
      }),
    );
    expect((await evolution.waitForSent(3))[2]!.text).toBe('Too big.');
    expect(evolution.requests.filter((request) => request.body.includes('VOICE-BIG'))).toHaveLength(1);
    expect(extras.requests.filter((request) => request.endpoint === 'transcriptions')).toHaveLength(0);
    // Only the greeting reached the model.
    expect(chat.requests).toHaveLength(1);
  });

  it('in the web chat, bot:<name> with an attached image: the image reaches the model, the knowledge is searched once', async () => {
    await createBot({ name: 'shop-chat', knowledgeBaseIds: [kbId] });
    const png = Buffer.concat([
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      randomBytes(300),
    ]);
    const image = await upload(alice.token, 'sole.png', png);
    const conversation = await kw.call('POST', '/api/conversations', {
      token: alice.token,
      body: { model: 'bot:shop-chat' },
    });
    expect(conversation.status, conversation.text).toBe(201);
    const question = 'Is this cracked sole guaranteed?';
    const response = await kw.keyway.app.request(`/api/conversations/${conversation.body.id}/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${alice.token}` },
      body: JSON.stringify({ content: question, attachments: { fileIds: [image] } }),
    });
    expect(response.status).toBe(200);
    await response.text();
    expect(chat.requests).toHaveLength(1);
    const prompt = promptOf(0);
    expect(prompt[1]!.content).toContain('guaranteed for two years');
    expect(prompt.at(-1)).toEqual({
      role: 'user',
      content: [
        { type: 'text', text: question },
        { type: 'image_url', image_url: { url: `data:image/png;base64,${png.toString('base64')}` } },
      ],
    });
    // The vision check before the call asks for the bot's route only: one search, not two.
    expect(embeddingsOf(question)).toHaveLength(1);
  });
});
