import OpenAI from 'openai';
import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Principal } from '../../src/auth/principal.ts';
import { ChatAttachments } from '../../src/chat/chat-attachments.ts';
import { ConversationsRepository } from '../../src/chat/conversations.repository.ts';
import type { ChatEvent } from '../../src/chat/chat-views.ts';
import { ConversationsService } from '../../src/chat/conversations.service.ts';
import { KeywayError } from '../../src/errors.ts';
import { SseDecoder } from '../../src/http/sse.ts';
import type { Grounder, Grounding, GroundingRequest } from '../../src/knowledge/grounding.ts';
import { FAKE_ANTHROPIC_KEY, startFakeAnthropic, type FakeAnthropic } from '../fakes/fake-anthropic.ts';
import { FAKE_GEMINI_KEY, geminiScripts, startFakeGemini, type FakeGemini } from '../fakes/fake-gemini.ts';
import { startFakeOpenAiChat, type FakeOpenAiChat } from '../fakes/fake-openai-chat.ts';
import { fakeKey } from '../support/gateway-harness.ts';
import { BACKENDS } from '../support/test-database.ts';
import { createTestKeyway, type TestKeyway } from '../support/test-keyway.ts';

/** A 1×1 PNG's signature and header: what the upload's magic-byte check needs. */
const PNG = Uint8Array.from([
  0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0x49, 0x48, 0x44, 0x52, 0, 0, 0, 1, 0, 0, 0,
  1,
]);
const PNG_BASE64 = Buffer.from(PNG).toString('base64');
const PNG_URL = `data:image/png;base64,${PNG_BASE64}`;

/** Reads an SSE response to its end: every `data:` line as JSON. */
async function readEvents(response: Response): Promise<ChatEvent[]> {
  const decoder = new SseDecoder();
  const text = await response.text();
  return [...decoder.push(text), ...decoder.end()].map((event) => JSON.parse(event.data) as ChatEvent);
}

async function drain(stream: ReadableStream<ChatEvent>): Promise<ChatEvent[]> {
  const events: ChatEvent[] = [];
  for await (const event of stream) events.push(event);
  return events;
}

/** A Grounder that answers what the test sets, and remembers what it was asked. */
function fakeGrounder() {
  const asked: GroundingRequest[] = [];
  let answer: (request: GroundingRequest) => Grounding = () => ({ context: null, citations: [] });
  const grounder: Grounder = {
    async ground(_principal, request) {
      asked.push(request);
      return answer(request);
    },
    async passage() {
      return undefined;
    },
  };
  return { grounder, asked, answer: (next: typeof answer) => void (answer = next) };
}

describe.each(BACKENDS)('chat with attached files, images and knowledge bases [%s]', (backend) => {
  const key = fakeKey();
  let openai: FakeOpenAiChat;
  let anthropic: FakeAnthropic;
  let gemini: FakeGemini;
  let harness: TestKeyway;
  let alice: { id: string; token: string };
  let bob: { id: string; token: string };

  beforeAll(async () => {
    [openai, anthropic, gemini] = await Promise.all([
      startFakeOpenAiChat({ validKeys: [key] }),
      startFakeAnthropic(),
      startFakeGemini(),
    ]);
    harness = await createTestKeyway(backend, { env: { KEYWAY_UPSTREAM_RETRIES: '0' } });
    alice = await harness.user('alice');
    bob = await harness.user('bob');
    const credentials = [
      [alice, { name: 'work', provider: 'openai', secret: key, settings: { baseUrl: openai.url } }],
      [bob, { name: 'work', provider: 'openai', secret: key, settings: { baseUrl: openai.url } }],
      [
        alice,
        {
          name: 'claude',
          provider: 'anthropic',
          secret: FAKE_ANTHROPIC_KEY,
          settings: { baseUrl: anthropic.url },
        },
      ],
      [
        alice,
        { name: 'gemini', provider: 'google', secret: FAKE_GEMINI_KEY, settings: { baseUrl: gemini.url } },
      ],
    ] as const;
    for (const [user, body] of credentials) {
      const created = await harness.call('POST', '/api/credentials', { token: user.token, body });
      expect(created.status).toBe(201);
    }
  });
  afterAll(async () => {
    await harness?.keyway.services.conversations.close();
    await harness?.close();
    await Promise.all([openai?.close(), anthropic?.close(), gemini?.close()]);
  });
  beforeEach(() => {
    openai.requests.length = 0;
    anthropic.requests.length = 0;
    gemini.requests.length = 0;
    openai.setScript((_request, index) => ({ kind: 'text', text: `Answer number ${index + 1}.` }));
  });

  async function upload(token: string, name: string, bytes: Uint8Array): Promise<string> {
    const form = new FormData();
    form.set('file', new Blob([bytes]), name);
    const response = await harness.keyway.app.request('/api/files', {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
      body: form,
    });
    expect(response.status).toBe(201);
    return ((await response.json()) as { id: string }).id;
  }

  async function knowledgeBase(token: string, name: string): Promise<string> {
    const created = await harness.call('POST', '/api/knowledge', {
      token,
      body: { name, embeddingModel: 'work/text-embedding-3-small' },
    });
    expect(created.status).toBe(201);
    return created.body.id as string;
  }

  const newConversation = async (token: string, body: Record<string, unknown> = {}) => {
    const created = await harness.call('POST', '/api/conversations', {
      token,
      body: { model: 'work/gpt-4o-mini', ...body },
    });
    expect(created.status).toBe(201);
    return created.body as { id: string; fileIds: string[]; knowledgeBaseIds: string[] };
  };

  const send = (token: string, id: string, body: Record<string, unknown>) =>
    harness.keyway.app.request(`/api/conversations/${id}/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify(body),
    });

  const conversation = async (token: string, id: string) =>
    (await harness.call('GET', `/api/conversations/${id}`, { token })).body;

  it('sends an attached image as an image_url part, keeps it in the history, and Anthropic and Gemini get their own image blocks', async () => {
    const image = await upload(alice.token, 'cat.png', PNG);
    const chat = await newConversation(alice.token);
    const first = await readEvents(
      await send(alice.token, chat.id, {
        content: 'What is in this picture?',
        attachments: { fileIds: [image] },
      }),
    );
    expect([first[0]!.type, first.at(-1)!.type]).toEqual(['user', 'done']);
    const user = first[0] as Extract<ChatEvent, { type: 'user' }>;
    expect(user.message.attachments).toEqual({
      files: [{ id: image, name: 'cat.png', mediaType: 'image/png' }],
      knowledgeBases: [],
    });
    expect(openai.requests[0]!.body.messages).toEqual([
      {
        role: 'user',
        content: [
          { type: 'text', text: 'What is in this picture?' },
          { type: 'image_url', image_url: { url: PNG_URL } },
        ],
      },
    ]);

    // The next message: the image is still part of what was said.
    await readEvents(await send(alice.token, chat.id, { content: 'And its colour?' }));
    const history = openai.requests[1]!.body.messages as { role: string; content: unknown }[];
    expect(history.map((message) => message.role)).toEqual(['user', 'assistant', 'user']);
    expect(history[0]).toEqual((openai.requests[0]!.body.messages as unknown[])[0]);
    expect(history[2]!.content).toBe('And its colour?');

    // The same conversation through Anthropic: a base64 image block.
    anthropic.setScript({ type: 'message', content: [{ type: 'text', text: 'A cat.' }] });
    const viaClaude = await readEvents(
      await send(alice.token, chat.id, { content: 'Once more', model: 'claude/claude-sonnet-4-5' }),
    );
    expect(viaClaude.at(-1)).toMatchObject({ type: 'done', message: { content: 'A cat.' } });
    const sentToClaude = anthropic.requests[0]!.body as { messages: { role: string; content: unknown }[] };
    expect(sentToClaude.messages[0]!.content).toEqual([
      { type: 'text', text: 'What is in this picture?' },
      { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG_BASE64 } },
    ]);

    // And through Gemini: inline data.
    gemini.setScript(() => geminiScripts.text('Still a cat.'));
    const viaGemini = await readEvents(
      await send(alice.token, chat.id, { content: 'Last time', model: 'gemini/gemini-2.5-flash' }),
    );
    expect(viaGemini.at(-1)).toMatchObject({ type: 'done', message: { content: 'Still a cat.' } });
    const sentToGemini = gemini.requests[0]!.body as { contents: { parts: unknown[] }[] };
    expect(sentToGemini.contents[0]!.parts).toEqual([
      { text: 'What is in this picture?' },
      { inlineData: { mimeType: 'image/png', data: PNG_BASE64 } },
    ]);

    const stored = await conversation(alice.token, chat.id);
    expect(stored.messages[0].attachments.files).toEqual([
      { id: image, name: 'cat.png', mediaType: 'image/png' },
    ]);
    expect(stored.messages[1].attachments).toEqual({ files: [], knowledgeBases: [] });
  });

  it('refuses images for a model without vision before anything is stored, in the chat and on /v1', async () => {
    const image = await upload(alice.token, 'chart.png', PNG);
    const chat = await newConversation(alice.token, { model: 'work/gpt-3.5-turbo' });
    const refused = await harness.call('POST', `/api/conversations/${chat.id}/messages`, {
      token: alice.token,
      body: { content: 'Read this chart', attachments: { fileIds: [image] } },
    });
    expect(refused.status).toBe(400);
    expect(refused.body.error.code).toBe('model_without_vision');
    expect(refused.body.error.message).toMatch(
      /^work\/gpt-3\.5-turbo cannot read images; pick a vision model such as gpt-4o/,
    );
    expect((await conversation(alice.token, chat.id)).messages).toEqual([]);

    // An image attached to the conversation is refused the same way, and text alone still works.
    const patched = await harness.call('PATCH', `/api/conversations/${chat.id}`, {
      token: alice.token,
      body: { fileIds: [image] },
    });
    expect(patched.body.fileIds).toEqual([image]);
    const again = await harness.call('POST', `/api/conversations/${chat.id}/messages`, {
      token: alice.token,
      body: { content: 'And now?' },
    });
    expect(again.body.error.code).toBe('model_without_vision');
    expect(openai.requests).toEqual([]);

    // /v1 with the official SDK: OpenAI's error envelope, no call made.
    const client = new OpenAI({
      apiKey: alice.token,
      baseURL: 'http://keyway.test/v1',
      // In-process: the SDK's requests go straight to the app.
      fetch: (url: string | URL | Request, init?: RequestInit) =>
        Promise.resolve(harness.keyway.app.request(String(url), init)),
      maxRetries: 0,
    });
    const error = await client.chat.completions
      .create({
        model: 'work/gpt-3.5-turbo',
        messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: PNG_URL } }] }],
      })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as InstanceType<typeof OpenAI.BadRequestError>).code).toBe('model_without_vision');
    expect(openai.requests).toEqual([]);
  });

  it("answers 404 for another user's file or knowledge base, and stores nothing", async () => {
    const bobsFile = await upload(bob.token, 'private.png', PNG);
    const bobsBase = await knowledgeBase(bob.token, 'Private');
    const ownFile = await upload(alice.token, 'mine.png', PNG);
    const chat = await newConversation(alice.token, { fileIds: [ownFile] });
    expect(chat.fileIds).toEqual([ownFile]);

    for (const attachments of [
      { fileIds: [bobsFile] },
      { knowledgeBaseIds: [bobsBase] },
      { fileIds: ['nope'] },
    ]) {
      const refused = await harness.call('POST', `/api/conversations/${chat.id}/messages`, {
        token: alice.token,
        body: { content: 'Tell me', attachments },
      });
      expect(refused.status).toBe(404);
      expect(refused.body.error.code).toBe('not_found');
      const patched = await harness.call('PATCH', `/api/conversations/${chat.id}`, {
        token: alice.token,
        body: { title: 'Changed', ...attachments },
      });
      expect(patched.status).toBe(404);
      const created = await harness.call('POST', '/api/conversations', {
        token: alice.token,
        body: { model: 'work/gpt-4o-mini', title: 'Should not exist', ...attachments },
      });
      expect(created.status).toBe(404);
    }
    const after = await conversation(alice.token, chat.id);
    expect(after).toMatchObject({
      title: 'New chat',
      fileIds: [ownFile],
      knowledgeBaseIds: [],
      messages: [],
    });
    const listed = await harness.call('GET', '/api/conversations?q=Should%20not', { token: alice.token });
    expect(listed.body).toEqual([]);
    expect(openai.requests).toEqual([]);
  });

  it('goes on without a file deleted after it was attached', async () => {
    const image = await upload(alice.token, 'gone.png', PNG);
    const chat = await newConversation(alice.token, { fileIds: [image] });
    await readEvents(
      await send(alice.token, chat.id, { content: 'Look', attachments: { fileIds: [image] } }),
    );
    expect(JSON.stringify(openai.requests[0]!.body.messages)).toContain(PNG_BASE64);

    expect((await harness.call('DELETE', `/api/files/${image}`, { token: alice.token })).status).toBe(204);
    const after = await conversation(alice.token, chat.id);
    expect(after.fileIds).toEqual([]);
    expect(after.messages[0]).toMatchObject({
      content: 'Look',
      attachments: { files: [], knowledgeBases: [] },
    });
    const events = await readEvents(await send(alice.token, chat.id, { content: 'Still there?' }));
    expect(events.at(-1)!.type).toBe('done');
    expect(JSON.stringify(openai.requests[1]!.body.messages)).not.toContain(PNG_BASE64);
  });

  describe('with a Grounder', () => {
    const principal = (): Principal => ({
      userId: alice.id,
      username: 'alice',
      role: 'member',
      via: 'token',
    });
    const service = (grounder: Grounder) =>
      new ConversationsService({
        repository: new ConversationsRepository(harness.database.db),
        gateway: harness.keyway.services.gateway,
        models: { list: async () => [], check: async () => {} },
        attachments: new ChatAttachments({
          files: harness.keyway.services.files,
          knowledgeBases: harness.keyway.services.knowledge,
        }),
        grounder,
        assistants: harness.keyway.services.assistants,
        // No title model here: these tests are about attachments.
        titles: { generate: async () => {} },
        tokenBudget: 1234,
        logger: pino({ level: 'silent' }),
      });

    it('puts the context before the history, asks with the union of attachments, and keeps the citations', async () => {
      const fake = fakeGrounder();
      const chat = service(fake.grounder);
      const handbook = await knowledgeBase(alice.token, 'Handbook');
      const policies = await knowledgeBase(alice.token, 'Policies');
      const notes = await upload(
        alice.token,
        'notes.md',
        new TextEncoder().encode('# Notes\n\nShort notes.'),
      );
      const photo = await upload(alice.token, 'photo.png', PNG);
      const citation = {
        n: 1,
        passageId: '42',
        knowledgeBaseId: handbook,
        fileId: notes,
        fileName: 'handbook.pdf',
        page: 37,
        headings: ['Leave', 'Parental leave'],
      };
      fake.answer(() => ({
        context: 'Sources:\n[1] handbook.pdf, page 37: sixteen weeks',
        citations: [citation],
      }));
      const created = await newConversation(alice.token, { knowledgeBaseIds: [handbook] });

      const events = await drain(
        await chat.reply(principal(), created.id, {
          content: 'How long is parental leave?',
          attachments: { knowledgeBaseIds: [policies, handbook], fileIds: [notes, photo] },
        }),
      );
      expect(events.at(-1)).toMatchObject({ type: 'done', message: { citations: [citation] } });
      expect(fake.asked).toEqual([
        {
          knowledgeBaseIds: [handbook, policies],
          fileIds: [notes],
          question: 'How long is parental leave?',
          tokenBudget: 1234,
        },
      ]);
      const sent = openai.requests[0]!.body.messages as { role: string; content: unknown }[];
      expect(sent[0]).toEqual({
        role: 'system',
        content: 'Sources:\n[1] handbook.pdf, page 37: sixteen weeks',
      });
      expect(sent.map((message) => message.role)).toEqual(['system', 'user']);

      // Stored with the answer, shown by GET; the context is not a chat message.
      const stored = await conversation(alice.token, created.id);
      expect(stored.messages.map((message: { role: string }) => message.role)).toEqual(['user', 'assistant']);
      expect(stored.messages[0].attachments).toEqual({
        files: [
          { id: notes, name: 'notes.md', mediaType: 'text/markdown' },
          { id: photo, name: 'photo.png', mediaType: 'image/png' },
        ],
        knowledgeBases: [
          { id: policies, name: 'Policies' },
          { id: handbook, name: 'Handbook' },
        ],
      });
      expect(stored.messages[0].citations).toEqual([]);
      expect(stored.messages[1].citations).toEqual([citation]);

      // Regenerating asks again with the last message's own attachments.
      await drain(await chat.reply(principal(), created.id, { regenerate: true }));
      expect(fake.asked[1]).toEqual(fake.asked[0]);
    });

    it('uses a knowledge base shared through a team, and goes on without it once the share ends', async () => {
      const fake = fakeGrounder();
      const carol = await harness.user(`carol-${backend}`, 'admin');
      const team = await harness.call('POST', '/api/teams', {
        token: carol.token,
        body: { name: `Support ${backend}` },
      });
      expect(team.status, team.text).toBe(201);
      for (const member of [alice, bob]) {
        const added = await harness.call('PUT', `/api/teams/${team.body.id}/members/${member.id}`, {
          token: carol.token,
          body: {},
        });
        expect(added.status, added.text).toBeLessThan(300);
      }
      const shared = await knowledgeBase(alice.token, `Shared ${backend}`);
      const share = await harness.call('PUT', `/api/knowledge/${shared}/teams`, {
        token: alice.token,
        body: { teamIds: [team.body.id] },
      });
      expect(share.status, share.text).toBe(200);

      const bobsChat = await newConversation(bob.token, { knowledgeBaseIds: [shared] });
      expect(bobsChat.knowledgeBaseIds).toEqual([shared]);
      const asBob: Principal = { userId: bob.id, username: 'bob', role: 'member', via: 'token' };
      await drain(await service(fake.grounder).reply(asBob, bobsChat.id, { content: 'First?' }));
      expect(fake.asked.at(-1)!.knowledgeBaseIds).toEqual([shared]);

      await harness.call('PUT', `/api/knowledge/${shared}/teams`, {
        token: alice.token,
        body: { teamIds: [] },
      });
      const events = await drain(
        await service(fake.grounder).reply(asBob, bobsChat.id, { content: 'Second?' }),
      );
      expect(events.at(-1)!.type).toBe('done');
      // Nothing left to search: the Grounder is not asked at all.
      expect(fake.asked).toHaveLength(1);
    });

    it("searches the conversation's assistant's knowledge bases with its own, skipping one the user may not read", async () => {
      const fake = fakeGrounder();
      const chat = service(fake.grounder);
      const own = await knowledgeBase(alice.token, `Own ${backend}`);
      const guide = await knowledgeBase(alice.token, `Guide ${backend}`);
      const bobs = await knowledgeBase(bob.token, `Bob's ${backend}`);
      const assistantId = crypto.randomUUID();
      await harness.database.db
        .insertInto('chat_assistants')
        .values({ id: assistantId, owner_id: alice.id, name: 'Guide', model: 'work/gpt-4o-mini' })
        .execute();
      // Written straight into the table: the library would refuse Bob's knowledge base for Alice.
      await harness.database.db
        .insertInto('chat_assistant_knowledge_bases')
        .values([
          { assistant_id: assistantId, kb_id: guide },
          { assistant_id: assistantId, kb_id: bobs },
        ])
        .execute();
      const created = await newConversation(alice.token, { knowledgeBaseIds: [own] });
      const changed = await harness.call('PATCH', `/api/conversations/${created.id}`, {
        token: alice.token,
        body: { assistantId },
      });
      expect(changed.status, changed.text).toBe(200);
      await drain(await chat.reply(principal(), created.id, { content: 'Where is the guide?' }));
      expect(fake.asked[0]!.knowledgeBaseIds).toEqual([own, guide]);
    });

    it('answers 404 with nothing stored when the Grounder cannot find a source, and fails the answer but keeps the message on any other failure', async () => {
      const fake = fakeGrounder();
      const chat = service(fake.grounder);
      const base = await knowledgeBase(alice.token, `Manual ${backend}`);
      const created = await newConversation(alice.token, { knowledgeBaseIds: [base] });

      fake.answer(() => {
        throw new KeywayError('not_found', 'No such knowledge base.');
      });
      await expect(chat.reply(principal(), created.id, { content: 'Hello?' })).rejects.toMatchObject({
        code: 'not_found',
      });
      expect((await conversation(alice.token, created.id)).messages).toEqual([]);

      fake.answer(() => {
        throw new KeywayError('budget_exceeded', 'The monthly budget of your team is spent.');
      });
      const events = await drain(await chat.reply(principal(), created.id, { content: 'Hello again?' }));
      expect(events.map((event) => event.type)).toEqual(['user', 'error']);
      expect(events[1]).toMatchObject({
        code: 'budget_exceeded',
        message: 'Could not search the attached documents: The monthly budget of your team is spent.',
      });
      const stored = await conversation(alice.token, created.id);
      expect(stored.messages).toMatchObject([
        { role: 'user', content: 'Hello again?', status: 'complete' },
        { role: 'assistant', status: 'failed', error: { code: 'budget_exceeded' }, citations: [] },
      ]);
      expect(openai.requests).toEqual([]);
    });
  });
});
