import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeOpenAiChat, type FakeOpenAiChat } from '../fakes/fake-openai-chat.ts';
import { fakeKey } from '../support/gateway-harness.ts';
import { BACKENDS } from '../support/test-database.ts';
import { createTestKeyway, type TestKeyway } from '../support/test-keyway.ts';
import { chatClient } from './chat-support.ts';

describe.each(BACKENDS)('chat folders, pin and archive [%s]', (backend) => {
  const key = fakeKey();
  let upstream: FakeOpenAiChat;
  let harness: TestKeyway;
  let alice: { id: string; token: string };
  let bob: { id: string; token: string };
  const chat = chatClient(() => harness);

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
  });
  afterEach(async () => {
    await harness.keyway.services.conversations.close();
    await harness.close();
  });

  const ids = (body: { id: string }[]) => body.map((item) => item.id);
  const list = async (token: string, query = '') => {
    const listed = await harness.call('GET', `/api/conversations${query}`, { token });
    expect(listed.status, JSON.stringify(listed.body)).toBe(200);
    return ids(listed.body);
  };
  const patch = (token: string, id: string, body: unknown) =>
    harness.call('PATCH', `/api/conversations/${id}`, { token, body });

  it('makes, renames and deletes folders; files conversations in them; deleting a folder keeps its conversations', async () => {
    const made = await harness.call('POST', '/api/folders', {
      token: alice.token,
      body: { name: '  Work  ' },
    });
    expect(made.status).toBe(201);
    expect(made.body).toMatchObject({ name: 'Work', id: expect.any(String), createdAt: expect.any(String) });
    const work = made.body.id as string;
    const home = (await harness.call('POST', '/api/folders', { token: alice.token, body: { name: 'Home' } }))
      .body.id as string;
    expect(
      (await harness.call('GET', '/api/folders', { token: alice.token })).body.map((f: any) => f.name),
    ).toEqual(['Home', 'Work']);
    const renamed = await harness.call('PATCH', `/api/folders/${home}`, {
      token: alice.token,
      body: { name: 'Family' },
    });
    expect(renamed.body).toMatchObject({ id: home, name: 'Family' });

    const report = await chat.newConversation(alice.token, { title: 'Quarterly report' });
    const trip = await chat.newConversation(alice.token, { title: 'Trip' });
    const loose = await chat.newConversation(alice.token, { title: 'Loose' });
    expect((await patch(alice.token, report.id, { folderId: work })).body.folderId).toBe(work);
    await patch(alice.token, trip.id, { folderId: home });
    expect(await list(alice.token, `?folderId=${work}`)).toEqual([report.id]);
    expect(await list(alice.token, `?folderId=${home}`)).toEqual([trip.id]);
    // Out of the folder again.
    expect((await patch(alice.token, trip.id, { folderId: null })).body.folderId).toBe(null);
    expect(await list(alice.token, `?folderId=${home}`)).toEqual([]);

    const deleted = await harness.call('DELETE', `/api/folders/${work}`, { token: alice.token });
    expect(deleted.status).toBe(204);
    const kept = await harness.call('GET', `/api/conversations/${report.id}`, { token: alice.token });
    expect(kept.body).toMatchObject({ title: 'Quarterly report', folderId: null });
    expect((await list(alice.token)).sort()).toEqual([report.id, trip.id, loose.id].sort());
    expect(
      (await harness.call('GET', '/api/folders', { token: alice.token })).body.map((f: any) => f.name),
    ).toEqual(['Family']);
  });

  it('lists pinned conversations first and hides archived ones unless asked', async () => {
    const first = await chat.newConversation(alice.token, { title: 'first' });
    const second = await chat.newConversation(alice.token, { title: 'second' });
    const third = await chat.newConversation(alice.token, { title: 'third' });
    expect(await list(alice.token)).toEqual([third.id, second.id, first.id]);

    const pinned = await patch(alice.token, first.id, { pinned: true });
    expect(pinned.body.pinned).toBe(true);
    // Pinned first; pinning is not activity, so the others keep their order.
    expect(await list(alice.token)).toEqual([first.id, third.id, second.id]);

    const archived = await patch(alice.token, third.id, { archived: true });
    expect(archived.body.archivedAt).toEqual(expect.any(String));
    expect(await list(alice.token)).toEqual([first.id, second.id]);
    expect(await list(alice.token, '?archived=false')).toEqual([first.id, second.id]);
    expect(await list(alice.token, '?archived=true')).toEqual([third.id]);
    expect(await list(alice.token, '?archived=all')).toEqual([first.id, third.id, second.id]);
    // An archived conversation still opens.
    expect((await harness.call('GET', `/api/conversations/${third.id}`, { token: alice.token })).status).toBe(
      200,
    );

    await patch(alice.token, third.id, { archived: false });
    await patch(alice.token, first.id, { pinned: false });
    expect(await list(alice.token)).toEqual([third.id, second.id, first.id]);
    expect(
      (await harness.call('GET', `/api/conversations/${third.id}`, { token: alice.token })).body,
    ).toMatchObject({ archivedAt: null, pinned: false });
  });

  it("keeps folders to their owner: another user's folder is 404 on every route and as a conversation's folder", async () => {
    const folder = (
      await harness.call('POST', '/api/folders', { token: alice.token, body: { name: 'Secret' } })
    ).body.id as string;
    const mine = await chat.newConversation(alice.token);
    await patch(alice.token, mine.id, { folderId: folder });
    const bobs = await chat.newConversation(bob.token);
    const answers = [
      await harness.call('PATCH', `/api/folders/${folder}`, { token: bob.token, body: { name: 'Mine' } }),
      await harness.call('DELETE', `/api/folders/${folder}`, { token: bob.token }),
      await patch(bob.token, bobs.id, { folderId: folder }),
      await harness.call('POST', '/api/conversations', {
        token: bob.token,
        body: { model: 'work/gpt-4o-mini', folderId: folder },
      }),
      await patch(bob.token, mine.id, { pinned: true }),
      await patch(bob.token, mine.id, { archived: true }),
      await patch(bob.token, mine.id, { folderId: null }),
    ];
    for (const answer of answers) expect([answer.status, answer.body.error.code]).toEqual([404, 'not_found']);
    expect((await harness.call('GET', '/api/folders', { token: bob.token })).body).toEqual([]);
    expect(await list(bob.token, `?folderId=${folder}`)).toEqual([]);
    expect(await list(bob.token, '?archived=all')).toEqual([bobs.id]);
    // Nothing changed for Alice.
    expect(
      (await harness.call('GET', '/api/folders', { token: alice.token })).body.map((f: any) => f.name),
    ).toEqual(['Secret']);
    expect(
      (await harness.call('GET', `/api/conversations/${mine.id}`, { token: alice.token })).body,
    ).toMatchObject({
      folderId: folder,
      pinned: false,
      archivedAt: null,
    });
  });

  it('answers bad folder input with stable codes', async () => {
    const { id } = await chat.newConversation(alice.token);
    const cases: [string, string, unknown, number, string][] = [
      ['POST', '/api/folders', { name: '   ' }, 400, 'validation_failed'],
      ['POST', '/api/folders', { name: 'x'.repeat(201) }, 400, 'validation_failed'],
      ['POST', '/api/folders', { name: 'a\u0000b' }, 400, 'invalid_text'],
      ['POST', '/api/folders', {}, 400, 'validation_failed'],
      ['PATCH', '/api/folders/nope', { name: 'x' }, 404, 'not_found'],
      ['DELETE', '/api/folders/nope', undefined, 404, 'not_found'],
      ['DELETE', `/api/folders/${crypto.randomUUID()}`, undefined, 404, 'not_found'],
      ['PATCH', `/api/conversations/${id}`, { folderId: 'nope' }, 404, 'not_found'],
      ['PATCH', `/api/conversations/${id}`, { folderId: crypto.randomUUID() }, 404, 'not_found'],
      ['PATCH', `/api/conversations/${id}`, { archived: 'yes' }, 400, 'validation_failed'],
      ['GET', '/api/conversations?folderId=nope', undefined, 400, 'validation_failed'],
      ['GET', '/api/conversations?archived=maybe', undefined, 400, 'validation_failed'],
    ];
    for (const [method, path, body, status, code] of cases) {
      const answer = await harness.call(method, path, { token: alice.token, ...(body ? { body } : {}) });
      expect([answer.status, answer.body.error.code], `${method} ${path} ${JSON.stringify(body)}`).toEqual([
        status,
        code,
      ]);
    }
    expect((await harness.call('GET', '/api/folders', { token: alice.token })).body).toEqual([]);
  });
});
