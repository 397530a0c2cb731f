import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SseDecoder } from '../http/sse.ts';
import {
  FAKE_ANTHROPIC_KEY,
  startFakeAnthropic,
  type FakeAnthropic,
} from '../../test/fakes/fake-anthropic.ts';
import { startFakeOpenAiChat, type FakeOpenAiChat } from '../../test/fakes/fake-openai-chat.ts';
import { startFakeProvider, type FakeProvider } from '../../test/fakes/fake-providers.ts';
import { fakeKey } from '../../test/support/gateway-harness.ts';
import { BACKENDS } from '../../test/support/test-database.ts';
import { createTestKeyway, type TestKeyway } from '../../test/support/test-keyway.ts';

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface ChatEvent {
  type: 'user' | 'delta' | 'done' | 'error';
  [key: string]: any;
}

/** Reads an SSE response to its end: every `data:` line as JSON. */
async function readEvents(response: Response): Promise<ChatEvent[]> {
  const decoder = new SseDecoder();
  const text = await response.text();
  return [...decoder.push(text), ...decoder.end()].map((event) => JSON.parse(event.data) as ChatEvent);
}

describe.each(BACKENDS)('chat conversations API [%s]', (backend) => {
  const key = fakeKey();
  let upstream: FakeOpenAiChat;
  let lister: FakeProvider;
  let anthropic: FakeAnthropic;
  let harness: TestKeyway;
  let alice: { id: string; token: string };
  let bob: { id: string; token: string };

  beforeAll(async () => {
    upstream = await startFakeOpenAiChat({ validKeys: [key] });
    lister = await startFakeProvider({ wire: 'openai', validKeys: [key], models: ['gpt-4o-mini'] });
    anthropic = await startFakeAnthropic();
  });
  afterAll(async () => {
    await upstream.close();
    await lister.close();
    await anthropic.close();
  });
  beforeEach(async () => {
    harness = await createTestKeyway(backend, {
      env: { KEYWAY_UPSTREAM_RETRIES: '0', KEYWAY_UPSTREAM_FIRST_BYTE_TIMEOUT: '2' },
    });
    alice = await harness.user('alice');
    bob = await harness.user('bob');
    const credential = await harness.call('POST', '/api/credentials', {
      token: alice.token,
      body: { name: 'work', provider: 'openai', secret: key, settings: { baseUrl: upstream.url } },
    });
    expect(credential.status).toBe(201);
    upstream.requests.length = 0;
    upstream.setScript((_request, index) => ({ kind: 'text', text: `Answer number ${index + 1}.` }));
  });
  afterEach(async () => {
    await harness.keyway.services.conversations.close();
    await harness.close();
    // Whatever the test did, the provider key reached no log line.
    expect(harness.logLines.join('\n').includes(key)).toBe(false);
  });

  const newConversation = async (token: string, body: Record<string, unknown> = {}) => {
    const created = await harness.call('POST', '/api/conversations', {
      token,
      body: { model: 'work/gpt-4o-mini', ...body },
    });
    expect(created.status).toBe(201);
    return created.body as { id: string; title: string; model: string };
  };

  const send = async (
    token: string,
    id: string,
    body: Record<string, unknown>,
    headers: Record<string, string> = {},
  ) =>
    harness.keyway.app.request(`/api/conversations/${id}/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, ...headers },
      body: JSON.stringify(body),
    });

  const messagesOf = async (token: string, id: string) =>
    (await harness.call('GET', `/api/conversations/${id}`, { token })).body.messages as {
      id: string;
      role: string;
      content: string;
      status: string;
      error: { code: string; message: string } | null;
    }[];

  it('creates, lists newest first, renames, changes model and deletes conversations', async () => {
    const first = await newConversation(alice.token);
    expect(first).toMatchObject({ title: 'New chat', model: 'work/gpt-4o-mini' });
    const second = await newConversation(alice.token, { title: 'Holiday plans' });
    const listed = await harness.call('GET', '/api/conversations', { token: alice.token });
    expect(listed.body.map((c: { id: string }) => c.id)).toEqual([second.id, first.id]);
    expect(Object.keys(listed.body[0]).sort()).toEqual([
      'archivedAt',
      'assistantId',
      'createdAt',
      'fileIds',
      'folderId',
      'id',
      'knowledgeBaseIds',
      'model',
      'pinned',
      'settings',
      'title',
      'titleSource',
      'updatedAt',
    ]);
    expect(listed.body[0]).toMatchObject({
      titleSource: 'user',
      folderId: null,
      pinned: false,
      archivedAt: null,
      assistantId: null,
      settings: {
        systemPrompt: null,
        temperature: null,
        maxTokens: null,
        contextMessages: null,
        contextTokens: null,
      },
    });

    const renamed = await harness.call('PATCH', `/api/conversations/${first.id}`, {
      token: alice.token,
      body: { title: 'Renamed', model: 'work/gpt-4o' },
    });
    expect(renamed.body).toMatchObject({ id: first.id, title: 'Renamed', model: 'work/gpt-4o' });
    // Renaming counts as activity: it moves to the top.
    const relisted = await harness.call('GET', '/api/conversations', { token: alice.token });
    expect(relisted.body.map((c: { id: string }) => c.id)).toEqual([first.id, second.id]);

    await send(alice.token, first.id, { content: 'hello' }).then(readEvents);
    const deleted = await harness.call('DELETE', `/api/conversations/${first.id}`, { token: alice.token });
    expect(deleted.status).toBe(204);
    expect((await harness.call('GET', `/api/conversations/${first.id}`, { token: alice.token })).status).toBe(
      404,
    );
    const left = await harness.database.db
      .selectFrom('chat_messages')
      .select('id')
      .where('conversation_id', '=', first.id)
      .execute();
    expect(left).toEqual([]);
  });

  it('keeps every user to their own conversations: another member gets 404 on every route', async () => {
    const conversation = await newConversation(alice.token);
    await send(alice.token, conversation.id, { content: 'secret plans' }).then(readEvents);
    const path = `/api/conversations/${conversation.id}`;
    const answers = [
      await harness.call('GET', path, { token: bob.token }),
      await harness.call('PATCH', path, { token: bob.token, body: { title: 'mine now' } }),
      await harness.call('DELETE', path, { token: bob.token }),
      await harness.call('POST', `${path}/messages`, { token: bob.token, body: { content: 'hi' } }),
      await harness.call('POST', `${path}/messages`, { token: bob.token, body: { regenerate: true } }),
    ];
    for (const answer of answers) expect([answer.status, answer.body.error.code]).toEqual([404, 'not_found']);
    expect((await harness.call('GET', '/api/conversations', { token: bob.token })).body).toEqual([]);
    expect((await harness.call('GET', '/api/conversations?q=secret', { token: bob.token })).body).toEqual([]);
    // Nothing changed for the owner.
    const own = await harness.call('GET', path, { token: alice.token });
    expect(own.body.title).toBe('secret plans');
    expect(own.body.messages).toHaveLength(2);
    // Without any credentials at all, the caller is refused.
    expect((await harness.call('GET', '/api/conversations')).body.error.code).toBe('unauthenticated');
  });

  it('streams a reply through the gateway: user event, deltas, done; both stored, title set, usage recorded', async () => {
    upstream.setScript(() => ({ kind: 'text', text: 'Bonjour, comment ça va ?', pieceSize: 4, delayMs: 5 }));
    const conversation = await newConversation(alice.token);
    const response = await send(alice.token, conversation.id, {
      content: '  Translate   "hello, how are you" into French please, and explain the grammar too  ',
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = await readEvents(response);
    expect(events[0]).toMatchObject({ type: 'user', message: { role: 'user', status: 'complete' } });
    const deltas = events.filter((event) => event.type === 'delta');
    expect(deltas.length).toBeGreaterThan(2);
    expect(deltas.map((event) => event.text).join('')).toBe('Bonjour, comment ça va ?');
    expect(events.at(-1)).toMatchObject({
      type: 'done',
      message: { role: 'assistant', content: 'Bonjour, comment ça va ?', status: 'complete', error: null },
    });

    expect(upstream.requests[0]!.headers.authorization).toBe(`Bearer ${key}`);
    expect(upstream.requests[0]!.body).toMatchObject({ model: 'gpt-4o-mini', stream: true });
    const got = await harness.call('GET', `/api/conversations/${conversation.id}`, { token: alice.token });
    expect(got.body.title).toBe('Translate "hello, how are you" into French please, and…');
    expect(got.body.messages.map((m: { role: string; status: string }) => [m.role, m.status])).toEqual([
      ['user', 'complete'],
      ['assistant', 'complete'],
    ]);
    expect(got.body.messages[0].id).toBe(events[0]!.message.id);

    // The second turn sends the history, and leaves the title alone.
    await send(alice.token, conversation.id, { content: 'Thanks!' }).then(readEvents);
    expect(upstream.requests[1]!.body.messages).toEqual([
      {
        role: 'user',
        content: '  Translate   "hello, how are you" into French please, and explain the grammar too  ',
      },
      { role: 'assistant', content: 'Bonjour, comment ça va ?' },
      { role: 'user', content: 'Thanks!' },
    ]);
    const usage = await harness.call('GET', '/api/usage?groupBy=model', { token: alice.token });
    expect(usage.body.rows).toEqual([
      expect.objectContaining({ key: 'gpt-4o-mini', requests: 2, errors: 0 }),
    ]);
  });

  it('never shows or stores the key when the provider echoes it token by token, nor a NUL character', async () => {
    upstream.setScript((_request, index) =>
      index === 0
        ? { kind: 'text', text: `Your key is ${key}, keep it safe.`, pieceSize: 3 }
        : { kind: 'text', text: 'nul\u0000 in\u0000side', pieceSize: 4 },
    );
    const conversation = await newConversation(alice.token);
    const first = await send(alice.token, conversation.id, { content: 'What is my key?' });
    const firstText = await first.text();
    expect(firstText).not.toContain(key);
    for (let cut = 8; cut < key.length; cut += 8) expect(firstText).not.toContain(key.slice(0, cut + 4));
    const second = await readEvents(await send(alice.token, conversation.id, { content: 'And NUL?' }));
    expect(second.at(-1)).toMatchObject({
      type: 'done',
      message: { content: 'nul inside', status: 'complete' },
    });
    const stored = await messagesOf(alice.token, conversation.id);
    expect(stored.map((message) => [message.role, message.content, message.status])).toEqual([
      ['user', 'What is my key?', 'complete'],
      ['assistant', 'Your key is [REDACTED], keep it safe.', 'complete'],
      ['user', 'And NUL?', 'complete'],
      ['assistant', 'nul inside', 'complete'],
    ]);
  });

  it('works with the web session cookie, which needs the CSRF token on writes', async () => {
    const login = await harness.keyway.app.request('/api/auth/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'alice', password: 'correct horse battery' }),
    });
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
    const { csrfToken } = (await login.json()) as { csrfToken: string };
    const forged = await harness.call('POST', '/api/conversations', {
      headers: { cookie },
      body: { model: 'work/gpt-4o-mini' },
    });
    expect([forged.status, forged.body.error.code]).toEqual([403, 'csrf_failed']);
    const created = await harness.call('POST', '/api/conversations', {
      headers: { cookie, 'x-csrf-token': csrfToken },
      body: { model: 'work/gpt-4o-mini' },
    });
    expect(created.status).toBe(201);
    const response = await harness.keyway.app.request(`/api/conversations/${created.body.id}/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie, 'x-csrf-token': csrfToken },
      body: JSON.stringify({ content: 'hi' }),
    });
    expect((await readEvents(response)).at(-1)).toMatchObject({ type: 'done' });
    const listed = await harness.call('GET', '/api/conversations', { headers: { cookie } });
    expect(listed.body.map((c: { id: string }) => c.id)).toEqual([created.body.id]);
  });

  it('stores what arrived, as stopped, when the client goes away mid-answer, and stops the provider', async () => {
    upstream.setScript(() => ({
      kind: 'text',
      text: 'one two three four five six seven eight nine ten eleven twelve',
      pieceSize: 4,
      delayMs: 80,
    }));
    const conversation = await newConversation(alice.token);
    const response = await send(alice.token, conversation.id, { content: 'count' });
    const reader = response.body!.getReader();
    const decoder = new SseDecoder();
    const textDecoder = new TextDecoder();
    let seen = '';
    let deltas = 0;
    while (deltas < 2) {
      const next = await reader.read();
      if (next.done) break;
      for (const event of decoder.push(textDecoder.decode(next.value, { stream: true }))) {
        const parsed = JSON.parse(event.data) as ChatEvent;
        if (parsed.type === 'delta') {
          deltas++;
          seen += parsed.text;
        }
      }
    }
    await reader.cancel();
    let messages = await messagesOf(alice.token, conversation.id);
    for (let i = 0; i < 100 && messages.length < 2; i++) {
      await wait(50);
      messages = await messagesOf(alice.token, conversation.id);
    }
    const answer = messages[1]!;
    expect(answer).toMatchObject({ role: 'assistant', status: 'stopped', error: null });
    expect(answer.content.startsWith(seen)).toBe(true);
    expect(answer.content.length).toBeLessThan(40);
    for (let i = 0; i < 50 && !upstream.requests[0]!.aborted; i++) await wait(20);
    expect(upstream.requests[0]!.aborted).toBe(true);
  });

  it('regenerates the last answer, and edits and resends from a message (replaceFrom), keeping the old versions', async () => {
    const conversation = await newConversation(alice.token);
    await send(alice.token, conversation.id, { content: 'first question' }).then(readEvents);
    await send(alice.token, conversation.id, { content: 'second question' }).then(readEvents);

    const regenerated = await readEvents(await send(alice.token, conversation.id, { regenerate: true }));
    expect(regenerated.map((event) => event.type)).not.toContain('user');
    expect(regenerated.at(-1)).toMatchObject({ type: 'done', message: { content: 'Answer number 3.' } });
    expect(upstream.requests[2]!.body.messages).toEqual([
      { role: 'user', content: 'first question' },
      { role: 'assistant', content: 'Answer number 1.' },
      { role: 'user', content: 'second question' },
    ]);
    let messages = await messagesOf(alice.token, conversation.id);
    expect(messages.map((m) => m.content)).toEqual([
      'first question',
      'Answer number 1.',
      'second question',
      'Answer number 3.',
    ]);

    const edited = await readEvents(
      await send(alice.token, conversation.id, { content: 'second, edited', replaceFrom: messages[2]!.id }),
    );
    expect(edited[0]).toMatchObject({ type: 'user', message: { content: 'second, edited' } });
    expect(upstream.requests[3]!.body.messages).toEqual([
      { role: 'user', content: 'first question' },
      { role: 'assistant', content: 'Answer number 1.' },
      { role: 'user', content: 'second, edited' },
    ]);
    messages = await messagesOf(alice.token, conversation.id);
    expect(messages.map((m) => m.content)).toEqual([
      'first question',
      'Answer number 1.',
      'second, edited',
      'Answer number 4.',
    ]);
    // Nothing was lost: the edit and the regenerated answer are siblings of what they replace on show.
    const shown = (await harness.call('GET', `/api/conversations/${conversation.id}`, { token: alice.token }))
      .body.messages as { content: string; siblings: { ids: string[]; index: number } }[];
    expect(shown[2]!.siblings).toMatchObject({ index: 1 });
    expect(shown[2]!.siblings.ids).toHaveLength(2);
    const kept = await harness.database.db
      .selectFrom('chat_messages')
      .select('content')
      .where('conversation_id', '=', conversation.id)
      .execute();
    expect(kept.map((row) => row.content)).toEqual(
      expect.arrayContaining(['second question', 'Answer number 2.', 'Answer number 3.']),
    );
    // Another conversation's message is not a place to resend from.
    const other = await newConversation(alice.token);
    const foreign = await harness.call('POST', `/api/conversations/${other.id}/messages`, {
      token: alice.token,
      body: { content: 'x', replaceFrom: messages[0]!.id },
    });
    expect([foreign.status, foreign.body.error.code]).toEqual([404, 'not_found']);
  });

  it('stores a failed answer and sends a clean error event when the provider fails, before or during the answer', async () => {
    upstream.setScript(() => ({
      kind: 'error',
      status: 500,
      message: 'internal meltdown at provider-host-17',
      type: 'server_error',
    }));
    const conversation = await newConversation(alice.token);
    const events = await readEvents(await send(alice.token, conversation.id, { content: 'hello' }));
    expect(events.map((event) => event.type)).toEqual(['user', 'error']);
    expect(events[1]).toMatchObject({ code: 'provider_error' });
    expect(events[1]!.message).not.toContain('meltdown');
    let messages = await messagesOf(alice.token, conversation.id);
    expect(messages[1]).toMatchObject({
      id: events[1]!.messageId,
      role: 'assistant',
      status: 'failed',
      content: '',
      error: { code: 'provider_error' },
    });

    upstream.setScript(() => ({ kind: 'break', chunks: 2 }));
    const broken = await readEvents(await send(alice.token, conversation.id, { content: 'again' }));
    expect(
      broken
        .filter((event) => event.type === 'delta')
        .map((event) => event.text)
        .join(''),
    ).toBe('piece0 piece1 ');
    expect(broken.at(-1)).toMatchObject({ type: 'error', code: 'interrupted' });
    messages = await messagesOf(alice.token, conversation.id);
    expect(messages.at(-1)).toMatchObject({ status: 'failed', content: 'piece0 piece1 ' });

    // A failed answer is not sent back to the provider as part of the conversation.
    upstream.setScript(() => ({ kind: 'text', text: 'fine now' }));
    await send(alice.token, conversation.id, { content: 'third' }).then(readEvents);
    expect(upstream.requests.at(-1)!.body.messages).toEqual([
      { role: 'user', content: 'hello' },
      { role: 'user', content: 'again' },
      { role: 'user', content: 'third' },
    ]);
  });

  it('refuses, before storing anything, a model the caller has no credential for (no_credentials)', async () => {
    const conversation = await newConversation(bob.token);
    const refused = await harness.call('POST', `/api/conversations/${conversation.id}/messages`, {
      token: bob.token,
      body: { content: 'hello' },
    });
    expect([refused.status, refused.body.error.code]).toEqual([409, 'no_credentials']);
    expect(refused.body.error.message).toContain('credentials page');
    expect(await messagesOf(bob.token, conversation.id)).toEqual([]);

    // Alice has an OpenAI credential but none for Anthropic.
    const anthropic = await newConversation(alice.token, { model: 'anthropic/claude-sonnet-4-5' });
    const noAnthropic = await harness.call('POST', `/api/conversations/${anthropic.id}/messages`, {
      token: alice.token,
      body: { content: 'hello' },
    });
    expect([noAnthropic.status, noAnthropic.body.error.code]).toEqual([409, 'no_credentials']);
    expect(noAnthropic.body.error.details).toMatchObject({ provider: 'anthropic' });
    const unknown = await harness.call('POST', `/api/conversations/${anthropic.id}/messages`, {
      token: alice.token,
      body: { content: 'hello', model: 'nowhere/model' },
    });
    // One status per code, everywhere (the error catalogue): a missing model is 404, as on /v1.
    expect([unknown.status, unknown.body.error.code]).toEqual([404, 'model_not_found']);
    expect(upstream.requests).toEqual([]);
  });

  it('chats through a translated provider (Anthropic), and keeps a clean failure when its stream reports an error', async () => {
    await harness.call('POST', '/api/credentials', {
      token: alice.token,
      body: {
        name: 'claude',
        provider: 'anthropic',
        secret: FAKE_ANTHROPIC_KEY,
        settings: { baseUrl: anthropic.url },
      },
    });
    anthropic.setScript({ type: 'message', content: [{ type: 'text', text: ['Bon', 'jour', '.'] }] });
    const conversation = await newConversation(alice.token, { model: 'claude/claude-sonnet-4-5' });
    const events = await readEvents(
      await send(alice.token, conversation.id, { content: 'Say hello in French' }),
    );
    expect(events.filter((event) => event.type === 'delta').map((event) => event.text)).toEqual([
      'Bon',
      'jour',
      '.',
    ]);
    expect(events.at(-1)).toMatchObject({
      type: 'done',
      message: { content: 'Bonjour.', status: 'complete' },
    });
    expect(anthropic.requests.at(-1)!.body).toMatchObject({
      model: 'claude-sonnet-4-5',
      messages: [{ role: 'user', content: 'Say hello in French' }],
    });

    anthropic.setScript({
      type: 'message',
      content: [{ type: 'text', text: ['Un', ' deux', ' trois'] }],
      interrupt: {
        afterEvents: 4,
        then: { type: 'error', errorType: 'overloaded_error', message: 'Overloaded at rack 12' },
      },
    });
    const failed = await readEvents(await send(alice.token, conversation.id, { content: 'Count' }));
    const last = failed.at(-1)!;
    expect(last).toMatchObject({ type: 'error', code: 'provider_error' });
    expect(last.message).not.toContain('rack 12');
    const messages = await messagesOf(alice.token, conversation.id);
    expect(messages.at(-1)).toMatchObject({
      status: 'failed',
      content: failed
        .filter((event) => event.type === 'delta')
        .map((event) => event.text)
        .join(''),
      error: { code: 'provider_error' },
    });
  });

  it('answers bad input with 4xx and stable codes', async () => {
    const conversation = await newConversation(alice.token);
    const path = `/api/conversations/${conversation.id}/messages`;
    const cases: [unknown, number, string][] = [
      [{}, 400, 'validation_failed'],
      [{ content: '   ' }, 400, 'validation_failed'],
      [{ content: 'x', regenerate: true }, 400, 'validation_failed'],
      [{ content: 'x', unknownField: 1 }, 400, 'validation_failed'],
      [{ regenerate: true }, 409, 'nothing_to_regenerate'],
      [{ content: 'x', replaceFrom: 'not-an-id' }, 404, 'not_found'],
      ['{not json', 400, 'invalid_json'],
    ];
    for (const [body, status, code] of cases) {
      const answer = await harness.call('POST', path, { token: alice.token, body });
      expect([answer.status, answer.body.error.code], JSON.stringify(body)).toEqual([status, code]);
    }
    const noModel = await harness.call('POST', '/api/conversations', { token: alice.token, body: {} });
    expect([noModel.status, noModel.body.error.code]).toEqual([400, 'validation_failed']);
    const badId = await harness.call('GET', '/api/conversations/12', { token: alice.token });
    expect([badId.status, badId.body.error.code]).toEqual([404, 'not_found']);
    expect(upstream.requests).toEqual([]);
  });

  it('searches titles and message text, case-insensitively, and takes % literally', async () => {
    const trip = await newConversation(alice.token, { title: 'Trip to Lisbon' });
    const recipes = await newConversation(alice.token, { title: 'Cooking' });
    await send(alice.token, recipes.id, { content: 'How long do I bake 100% rye BREAD?' }).then(readEvents);
    const search = async (q: string) =>
      (
        await harness.call('GET', `/api/conversations?q=${encodeURIComponent(q)}`, { token: alice.token })
      ).body.map((c: { id: string }) => c.id);
    expect(await search('lisbon')).toEqual([trip.id]);
    expect(await search('rye bread')).toEqual([recipes.id]);
    expect(await search('answer NUMBER')).toEqual([recipes.id]);
    expect(await search('100%')).toEqual([recipes.id]);
    // Only punctuation: titles only (docs/chat-export-and-sharing.md#search), and no title has a %.
    expect(await search('%')).toEqual([]);
    expect(await search('nothing like this')).toEqual([]);
  });

  it('lists the models the caller may use, and the API is in the OpenAPI document', async () => {
    await harness.call('POST', '/api/credentials', {
      token: alice.token,
      body: { name: 'lister', provider: 'openai', secret: key, settings: { baseUrl: lister.url } },
    });
    const models = await harness.call('GET', '/api/models', { token: alice.token });
    expect(models.status).toBe(200);
    expect(models.body).toContainEqual({
      id: 'lister/gpt-4o-mini',
      label: 'gpt-4o-mini (lister)',
      kind: 'model',
      provider: 'openai',
    });
    expect((await harness.call('GET', '/api/models', { token: bob.token })).body).toEqual([]);
    const openapi = await harness.call('GET', '/api/openapi.json');
    expect(Object.keys(openapi.body.paths)).toEqual(
      expect.arrayContaining([
        '/api/conversations',
        '/api/conversations/{id}',
        '/api/conversations/{id}/messages',
        '/api/conversations/{id}/branch',
        '/api/conversations/{id}/messages/{messageId}',
        '/api/folders',
        '/api/folders/{id}',
        '/api/me/chat-preferences',
        '/api/settings/chat',
        '/api/models',
      ]),
    );
    expect(
      Object.keys(openapi.body.paths['/api/conversations/{id}/messages'].post.responses['200'].content),
    ).toEqual(['text/event-stream']);
  });
});
