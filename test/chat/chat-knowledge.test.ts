import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ChatEvent } from '../../src/chat/chat-views.ts';
import { SseDecoder } from '../../src/http/sse.ts';
import { startFakeOpenAiChat, type FakeOpenAiChat } from '../fakes/fake-openai-chat.ts';
import { startFakeOpenAiExtras, type FakeOpenAiExtras } from '../fakes/fake-openai-extras.ts';
import { buildPdf } from '../support/documents.ts';
import { BACKENDS } from '../support/test-database.ts';
import { createTestKeyway, type TestKeyway } from '../support/test-keyway.ts';

const QUESTION = 'What is the warranty period of the Zephyr pump?';
const ANSWER = 'The Zephyr pump carries a warranty period of five years from the date of purchase.';
const PUMPS = ['Boreas', 'Notus', 'Eurus', 'Aquilo', 'Favonius'];
/** 40 pages about pumps; page 37 alone says what the Zephyr's warranty is. */
const manualPages = Array.from({ length: 40 }, (_, index) => {
  const page = index + 1;
  if (page === 37) return `Section ${page}. ${ANSWER}`;
  const pump = PUMPS[page % PUMPS.length]!;
  return `Section ${page}. The ${pump} pump needs its filter cleaned every ${page * 10} hours of service and its seals checked yearly.`;
});

async function readEvents(response: Response): Promise<ChatEvent[]> {
  const decoder = new SseDecoder();
  const text = await response.text();
  return [...decoder.push(text), ...decoder.end()].map((event) => JSON.parse(event.data) as ChatEvent);
}

/**
 * The whole way, as a user does it: upload a PDF, make a knowledge base embedded by the fake embedding
 * upstream (hashed bag-of-words), attach it to a conversation, ask. The real Grounder retrieves.
 */
describe.each(BACKENDS)('chat grounded in a knowledge base, end to end [%s]', (backend) => {
  const key = `sk-canary-${randomBytes(16).toString('hex')}`;
  let embeddings: FakeOpenAiExtras;
  let chat: FakeOpenAiChat;
  let harness: TestKeyway;
  let alice: { id: string; token: string };
  let bob: { id: string; token: string };

  beforeAll(async () => {
    [embeddings, chat] = await Promise.all([
      startFakeOpenAiExtras({ validKeys: [key], defaultDimensions: 64 }),
      startFakeOpenAiChat({ validKeys: [key] }),
    ]);
    harness = await createTestKeyway(backend, { env: { KEYWAY_UPSTREAM_RETRIES: '0' } });
    alice = await harness.user('alice');
    bob = await harness.user('bob');
    for (const [user, name, url] of [
      [alice, 'emb', embeddings.url],
      [alice, 'work', chat.url],
      [bob, 'work', chat.url],
    ] as const) {
      const created = await harness.call('POST', '/api/credentials', {
        token: user.token,
        body: { name, provider: 'openai', secret: key, settings: { baseUrl: url } },
      });
      expect(created.status).toBe(201);
    }
  });
  afterAll(async () => {
    await harness?.keyway.services.conversations.close();
    await harness?.close();
    await Promise.all([embeddings?.close(), chat?.close()]);
  });

  it('answers from page 37 of a 40-page PDF: the prompt holds that page, the answer cites it', async () => {
    const form = new FormData();
    form.set('file', new Blob([await buildPdf(manualPages)]), 'pump-manual.pdf');
    const uploaded = await harness.keyway.app.request('/api/files', {
      method: 'POST',
      headers: { authorization: `Bearer ${alice.token}` },
      body: form,
    });
    expect(uploaded.status).toBe(201);
    const fileId = ((await uploaded.json()) as { id: string }).id;
    const base = await harness.call('POST', '/api/knowledge', {
      token: alice.token,
      body: { name: 'Pumps', embeddingModel: 'emb/text-embedding-3-small' },
    });
    expect(base.status, base.text).toBe(201);
    const kbId = base.body.id as string;
    const added = await harness.call('POST', `/api/knowledge/${kbId}/files`, {
      token: alice.token,
      body: { fileId },
    });
    expect(added.status, added.text).toBe(201);
    await vi.waitFor(
      async () => {
        const files = await harness.call('GET', `/api/knowledge/${kbId}/files`, { token: alice.token });
        if (files.body[0]?.status !== 'ready') throw new Error(`still ${files.body[0]?.status}`);
      },
      { timeout: 60_000, interval: 50 },
    );

    const created = await harness.call('POST', '/api/conversations', {
      token: alice.token,
      body: { model: 'work/gpt-4o-mini', knowledgeBaseIds: [kbId] },
    });
    expect(created.body.knowledgeBaseIds).toEqual([kbId]);
    chat.setScript(() => ({ kind: 'text', text: 'Five years [1].' }));
    const events = await readEvents(
      await harness.keyway.app.request(`/api/conversations/${created.body.id}/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${alice.token}` },
        body: JSON.stringify({ content: QUESTION }),
      }),
    );

    // The prompt that reached the chat upstream: page 37's text in a system message before the question.
    const sent = chat.requests[0]!.body.messages as { role: string; content: string }[];
    expect(sent.map((message) => message.role)).toEqual(['system', 'user']);
    expect(sent[0]!.content).toContain(ANSWER);
    expect(sent[0]!.content).toContain('pump-manual.pdf, page 37');
    expect(sent[1]!.content).toBe(QUESTION);

    const done = events.at(-1)!;
    expect(done.type).toBe('done');
    const citations = (done as Extract<ChatEvent, { type: 'done' }>).message.citations;
    expect(citations[0]).toMatchObject({
      n: 1,
      knowledgeBaseId: kbId,
      fileId,
      fileName: 'pump-manual.pdf',
      page: 37,
    });

    const stored = await harness.call('GET', `/api/conversations/${created.body.id}`, { token: alice.token });
    expect(stored.body.messages[1]).toMatchObject({ content: 'Five years [1].', citations });
    const opened = await harness.call('GET', `/api/knowledge/passages/${citations[0]!.passageId}`, {
      token: alice.token,
    });
    expect(opened.body).toMatchObject({ page: 37, fileName: 'pump-manual.pdf' });
    expect(opened.body.text).toContain(ANSWER);

    // Bob cannot attach alice's knowledge base, nor open her citation.
    const bobs = await harness.call('POST', '/api/conversations', {
      token: bob.token,
      body: { model: 'work/gpt-4o-mini', knowledgeBaseIds: [kbId] },
    });
    expect(bobs.status).toBe(404);
    const peek = await harness.call('GET', `/api/knowledge/passages/${citations[0]!.passageId}`, {
      token: bob.token,
    });
    expect(peek.status).toBe(404);
  });
});
