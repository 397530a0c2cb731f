import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConversationsRepository } from '../../src/chat/conversations.repository.ts';
import { startFakeOpenAiChat, type FakeOpenAiChat } from '../fakes/fake-openai-chat.ts';
import { fakeKey } from '../support/gateway-harness.ts';
import { BACKENDS } from '../support/test-database.ts';
import { createTestKeyway, type TestKeyway } from '../support/test-keyway.ts';
import { chatClient } from './chat-support.ts';

type Sent = { role: string; content: string };

describe.each(BACKENDS)('chat settings, assistants and titles [%s]', (backend) => {
  const key = fakeKey();
  let upstream: FakeOpenAiChat;
  let harness: TestKeyway;
  let alice: { id: string; token: string };
  let bob: { id: string; token: string };
  const chat = chatClient(() => harness);
  const last = () => upstream.requests.at(-1)!.body;
  const lines = (body: Record<string, unknown>) =>
    (body.messages as Sent[]).map((message) => `${message.role}: ${message.content}`);

  beforeAll(async () => {
    upstream = await startFakeOpenAiChat({ validKeys: [key] });
  });
  afterAll(async () => {
    await upstream.close();
  });
  beforeEach(async () => {
    harness = await createTestKeyway(backend, { env: { KEYWAY_UPSTREAM_RETRIES: '0' } });
    alice = await harness.user('alice');
    bob = await harness.user('bob');
    const credential = await harness.call('POST', '/api/credentials', {
      token: alice.token,
      body: { name: 'work', provider: 'openai', secret: key, settings: { baseUrl: upstream.url } },
    });
    expect(credential.status).toBe(201);
    upstream.requests.length = 0;
    // Chat answers stream; the title request does not.
    upstream.setScript((request, index) =>
      request.body.stream === true
        ? { kind: 'text', text: `A${index + 1}` }
        : { kind: 'text', text: '"Weekend in Lisbon."' },
    );
  });
  afterEach(async () => {
    await harness.keyway.services.conversations.close();
    await harness.close();
  });

  const patch = (token: string, id: string, body: unknown) =>
    harness.call('PATCH', `/api/conversations/${id}`, { token, body });

  it("sends a conversation's system prompt, temperature, max tokens and context window to the provider", async () => {
    const { id } = await chat.newConversation(alice.token);
    const changed = await patch(alice.token, id, {
      settings: { systemPrompt: 'Be terse.', temperature: 0.3, maxTokens: 100, contextMessages: 3 },
    });
    expect(changed.status).toBe(200);
    expect(changed.body.settings).toEqual({
      systemPrompt: 'Be terse.',
      temperature: 0.3,
      maxTokens: 100,
      contextMessages: 3,
      contextTokens: null,
    });
    await chat.say(alice.token, id, { content: 'q1' });
    expect(last()).toMatchObject({ temperature: 0.3, max_tokens: 100 });
    expect(lines(last())).toEqual(['system: Be terse.', 'user: q1']);
    await chat.say(alice.token, id, { content: 'q2' });
    await chat.say(alice.token, id, { content: 'q3' });
    // The last three messages of the branch, after the system prompt.
    expect(lines(last())).toEqual(['system: Be terse.', 'user: q2', 'assistant: A2', 'user: q3']);

    // A partial change keeps the rest; null clears a setting back to the default.
    await patch(alice.token, id, {
      settings: { systemPrompt: null, contextMessages: null, contextTokens: 1 },
    });
    await chat.say(alice.token, id, { content: 'q4' });
    // One token of history: only the message being answered (which always goes).
    expect(lines(last())).toEqual(['user: q4']);
    expect(last()).toMatchObject({ temperature: 0.3, max_tokens: 100 });
    await patch(alice.token, id, { settings: { temperature: null, maxTokens: null, contextTokens: null } });
    await chat.say(alice.token, id, { content: 'q5' });
    expect(last()).not.toHaveProperty('temperature');
    expect(last()).not.toHaveProperty('max_tokens');
    expect(lines(last())).toHaveLength(9);
    const got = await harness.call('GET', `/api/conversations/${id}`, { token: alice.token });
    expect(got.body.settings).toEqual({
      systemPrompt: null,
      temperature: null,
      maxTokens: null,
      contextMessages: null,
      contextTokens: null,
    });
  });

  it("answers with an assistant: its instructions first, its model and settings unless the conversation's override them", async () => {
    const assistantId = crypto.randomUUID();
    await harness.database.db
      .insertInto('chat_assistants')
      .values({
        id: assistantId,
        owner_id: alice.id,
        name: 'Tutor',
        model: 'work/gpt-4o',
        instructions: 'You are a patient tutor.',
        temperature: 0.9,
        max_tokens: 50,
      })
      .execute();
    const { id } = await chat.newConversation(alice.token);
    const changed = await patch(alice.token, id, {
      assistantId,
      settings: { systemPrompt: 'Answer in French.', temperature: 0.2 },
    });
    expect(changed.body).toMatchObject({ assistantId });
    await chat.say(alice.token, id, { content: 'hello' });
    expect(last()).toMatchObject({ model: 'gpt-4o', temperature: 0.2, max_tokens: 50 });
    expect(lines(last())).toEqual([
      'system: You are a patient tutor.',
      'system: Answer in French.',
      'user: hello',
    ]);
    // A model named by the request wins over the assistant's.
    await chat.say(alice.token, id, { content: 'again', model: 'work/gpt-4o-mini' });
    expect(last()).toMatchObject({ model: 'gpt-4o-mini' });
    // Created with the assistant directly.
    const withAssistant = await chat.newConversation(alice.token, { assistantId });
    expect(withAssistant).toMatchObject({ assistantId });

    // Another user cannot use it (404 naming the field), and nothing changed.
    const bobs = await chat.newConversation(bob.token);
    for (const answer of [
      await patch(bob.token, bobs.id, { assistantId }),
      await harness.call('POST', '/api/conversations', {
        token: bob.token,
        body: { model: 'work/gpt-4o-mini', assistantId },
      }),
      await patch(alice.token, id, { assistantId: crypto.randomUUID() }),
      await patch(alice.token, id, { assistantId: 'not-a-uuid' }),
    ])
      expect([answer.status, answer.body.error.code, answer.body.error.details]).toEqual([
        404,
        'not_found',
        { field: 'assistantId' },
      ]);
    expect(
      (await harness.call('GET', `/api/conversations/${bobs.id}`, { token: bob.token })).body.assistantId,
    ).toBe(null);

    // Without it again: no instructions.
    await patch(alice.token, id, { assistantId: null });
    await chat.say(alice.token, id, { content: 'plain' });
    expect(lines(last())[0]).toBe('system: Answer in French.');
  });

  it('refuses settings out of range or too large with 400, changing nothing', async () => {
    const { id } = await chat.newConversation(alice.token);
    const cases: [unknown, number, string][] = [
      [{ settings: { temperature: 2.5 } }, 400, 'validation_failed'],
      [{ settings: { temperature: -0.1 } }, 400, 'validation_failed'],
      [{ settings: { temperature: '1' } }, 400, 'validation_failed'],
      [{ settings: { maxTokens: 0 } }, 400, 'validation_failed'],
      [{ settings: { maxTokens: 1.5 } }, 400, 'validation_failed'],
      [{ settings: { maxTokens: 10_000_000 } }, 400, 'validation_failed'],
      [{ settings: { contextMessages: -1 } }, 400, 'validation_failed'],
      [{ settings: { systemPrompt: 'x'.repeat(100_001) } }, 400, 'validation_failed'],
      [{ settings: { systemPrompt: 'a\u0000b' } }, 400, 'invalid_text'],
      [{ settings: { unknown: 1 } }, 400, 'validation_failed'],
      [{ pinned: 'yes' }, 400, 'validation_failed'],
    ];
    for (const [body, status, code] of cases) {
      const answer = await patch(alice.token, id, body);
      expect([answer.status, answer.body.error.code], JSON.stringify(body).slice(0, 80)).toEqual([
        status,
        code,
      ]);
    }
    const got = await harness.call('GET', `/api/conversations/${id}`, { token: alice.token });
    expect(got.body.settings).toEqual({
      systemPrompt: null,
      temperature: null,
      maxTokens: null,
      contextMessages: null,
      contextTokens: null,
    });
    // The edges are allowed.
    expect((await patch(alice.token, id, { settings: { temperature: 2, maxTokens: 1 } })).status).toBe(200);
    expect((await patch(alice.token, id, { settings: { temperature: 0 } })).body.settings.temperature).toBe(
      0,
    );
  });

  it('titles a conversation after its first exchange with the title model, through the gateway as the user', async () => {
    // A model the user cannot use is refused when picked.
    const refused = await harness.call('PATCH', '/api/me/chat-preferences', {
      token: alice.token,
      body: { titleModel: 'nowhere/model' },
    });
    expect([refused.status, refused.body.error.code]).toEqual([404, 'model_not_found']);
    const picked = await harness.call('PATCH', '/api/me/chat-preferences', {
      token: alice.token,
      body: { titleModel: 'work/gpt-4o-mini' },
    });
    expect(picked.body).toEqual({ titleModel: 'work/gpt-4o-mini', defaultTitleModel: null });

    const { id } = await chat.newConversation(alice.token);
    await chat.say(alice.token, id, { content: 'Plan a weekend in Lisbon for me, with a tram ride' });
    // The title is named in the background, after the answer; close() waits for that work.
    await harness.keyway.services.conversations.close();
    const got = await harness.call('GET', `/api/conversations/${id}`, { token: alice.token });
    expect(got.body).toMatchObject({ title: 'Weekend in Lisbon', titleSource: 'generated' });
    expect(upstream.requests).toHaveLength(2);
    const titleRequest = upstream.requests[1]!.body;
    expect(titleRequest).toMatchObject({ model: 'gpt-4o-mini' });
    expect(titleRequest.stream).not.toBe(true);
    expect(JSON.stringify(titleRequest.messages)).toContain('Plan a weekend in Lisbon');
    // Usage is recorded for the title request as for any call of the user's.
    const usage = await harness.call('GET', '/api/usage?groupBy=model', { token: alice.token });
    expect(usage.body.rows).toEqual([expect.objectContaining({ key: 'gpt-4o-mini', requests: 2 })]);

    // Later messages, and conversations the user named, are not titled again.
    await chat.say(alice.token, id, { content: 'And on Sunday?' });
    const named = await chat.newConversation(alice.token, { title: 'My own title' });
    await chat.say(alice.token, named.id, { content: 'hello' });
    await harness.keyway.services.conversations.close();
    expect(upstream.requests).toHaveLength(4);
    expect(
      (await harness.call('GET', `/api/conversations/${named.id}`, { token: alice.token })).body,
    ).toMatchObject({
      title: 'My own title',
      titleSource: 'user',
    });
    // A title given by PATCH is the user's.
    expect((await patch(alice.token, id, { title: 'Lisbon' })).body).toMatchObject({
      title: 'Lisbon',
      titleSource: 'user',
    });
    // A generated title arriving after the user named the conversation leaves the user's title.
    const repository = new ConversationsRepository(harness.database.db);
    expect(await repository.setGeneratedTitle(alice.id, id, 'Late title')).toBe(false);
    const untitled = await chat.newConversation(alice.token);
    expect(await repository.setGeneratedTitle(bob.id, untitled.id, 'Not yours')).toBe(false);
    expect(await repository.setGeneratedTitle(alice.id, untitled.id, 'In time')).toBe(true);
    expect((await harness.call('GET', `/api/conversations/${id}`, { token: alice.token })).body.title).toBe(
      'Lisbon',
    );
    expect(
      (await harness.call('GET', `/api/conversations/${untitled.id}`, { token: alice.token })).body,
    ).toMatchObject({ title: 'In time', titleSource: 'generated' });
  });

  it('calls no title model when the user has none and the admin set no default; the admin default applies otherwise', async () => {
    const { id } = await chat.newConversation(alice.token);
    await chat.say(alice.token, id, { content: 'What is the capital of Portugal?' });
    await harness.keyway.services.conversations.close();
    expect(upstream.requests).toHaveLength(1);
    expect(
      (await harness.call('GET', `/api/conversations/${id}`, { token: alice.token })).body,
    ).toMatchObject({
      title: 'What is the capital of Portugal?',
      titleSource: 'auto',
    });

    const member = await harness.call('PATCH', '/api/settings/chat', {
      token: alice.token,
      body: { defaultTitleModel: 'work/gpt-4o-mini' },
    });
    expect([member.status, member.body.error.code]).toEqual([403, 'forbidden']);
    const root = await harness.user('root', 'admin');
    const set = await harness.call('PATCH', '/api/settings/chat', {
      token: root.token,
      body: { defaultTitleModel: 'work/gpt-4o-mini' },
    });
    expect(set.status).toBe(200);
    expect((await harness.call('GET', '/api/me/chat-preferences', { token: alice.token })).body).toEqual({
      titleModel: null,
      defaultTitleModel: 'work/gpt-4o-mini',
    });
    const second = await chat.newConversation(alice.token);
    await chat.say(alice.token, second.id, { content: 'Plan a weekend in Lisbon' });
    await harness.keyway.services.conversations.close();
    expect(
      (await harness.call('GET', `/api/conversations/${second.id}`, { token: alice.token })).body,
    ).toMatchObject({
      title: 'Weekend in Lisbon',
      titleSource: 'generated',
    });

    // A failing title model leaves the first message's words.
    upstream.setScript((request) =>
      request.body.stream === true
        ? { kind: 'text', text: 'ok' }
        : { kind: 'error', status: 500, message: 'down', type: 'server_error' },
    );
    const third = await chat.newConversation(alice.token);
    await chat.say(alice.token, third.id, { content: 'Another question' });
    await harness.keyway.services.conversations.close();
    expect(
      (await harness.call('GET', `/api/conversations/${third.id}`, { token: alice.token })).body,
    ).toMatchObject({
      title: 'Another question',
      titleSource: 'auto',
    });
  });
});
