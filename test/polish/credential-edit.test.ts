import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeProvider, type FakeProvider } from '../fakes/fake-providers.ts';
import { fakeKey } from '../support/gateway-harness.ts';
import { BACKENDS } from '../support/test-database.ts';
import { createTestKeyway, type TestKeyway } from '../support/test-keyway.ts';

describe.each(BACKENDS)('a credential is edited after it is saved [%s]', (backend) => {
  const key = fakeKey();
  let accepting: FakeProvider;
  let refusing: FakeProvider;
  let kw: TestKeyway;
  let alice: { id: string; token: string };

  beforeAll(async () => {
    accepting = await startFakeProvider({ wire: 'openai', validKeys: [key] });
    refusing = await startFakeProvider({ wire: 'openai', validKeys: [fakeKey()] });
  });
  afterAll(async () => {
    await accepting.close();
    await refusing.close();
  });
  beforeEach(async () => {
    kw = await createTestKeyway(backend);
    alice = await kw.user('alice');
  });
  afterEach(async () => {
    await kw.close();
    expect(kw.logLines.join('\n').includes(key)).toBe(false);
  });

  const create = async (baseUrl: string) => {
    const created = await kw.call('POST', '/api/credentials', {
      token: alice.token,
      body: { name: 'work', provider: 'openai-compatible', secret: key, settings: { baseUrl } },
    });
    expect(created.status).toBe(201);
    return created.body.id as string;
  };
  const test = (id: string) => kw.call('POST', `/api/credentials/${id}/test`, { token: alice.token });
  const patch = (id: string, body: unknown, token = alice.token) =>
    kw.call('PATCH', `/api/credentials/${id}`, { token, body });

  it('a saved key that fails its test stays saved, says why, and works once its settings are fixed', async () => {
    const id = await create(refusing.url);
    const failed = await test(id);
    expect(failed.status).toBe(200);
    expect(failed.body.status).toBe('invalid');
    expect(failed.body.credential.statusMessage).toBeTruthy();
    // Fixing the base URL keeps the key and clears the stale verdict.
    const fixed = await patch(id, { settings: { baseUrl: accepting.url } });
    expect(fixed.status).toBe(200);
    expect(fixed.body).toMatchObject({ status: 'unchecked', statusMessage: null });
    expect(fixed.body.settings.baseUrl).toBe(accepting.url);
    expect((await test(id)).body.status).toBe('valid');
    // A rename keeps the verdict: the key and its endpoint are the same.
    const renamed = await patch(id, { name: 'work-2' });
    expect(renamed.body).toMatchObject({ name: 'work-2', status: 'valid' });
    const listed = await kw.call('GET', '/api/credentials', { token: alice.token });
    expect(listed.body.map((c: { name: string }) => c.name)).toEqual(['work-2']);
  });

  it('refuses hostile edits clearly and changes nothing', async () => {
    const id = await create(accepting.url);
    const cases: [unknown, number, string][] = [
      [{ name: 'has/slash' }, 400, 'validation_failed'],
      [{ name: 'nul\u0000name' }, 400, 'invalid_text'],
      [{ name: 'x'.repeat(65) }, 400, 'validation_failed'],
      [{ secret: fakeKey() }, 400, 'validation_failed'],
      [{ settings: { baseUrl: 'not a url' } }, 400, 'invalid_settings'],
      [{ settings: { baseUrl: 'http://169.254.169.254/latest' } }, 400, 'blocked_url'],
      [{ settings: 'baseUrl' }, 400, 'validation_failed'],
    ];
    for (const [body, status, code] of cases) {
      const response = await patch(id, body);
      expect([response.status, response.body?.error?.code], JSON.stringify(body).slice(0, 40)).toEqual([
        status,
        code,
      ]);
    }
    const deep = '{"settings":' + '{"a":'.repeat(200) + '1' + '}'.repeat(200) + '}';
    const deepResponse = await patch(id, deep);
    expect(deepResponse.status).toBe(400);
    const shown = await kw.call('GET', `/api/credentials/${id}`, { token: alice.token });
    expect(shown.body).toMatchObject({ name: 'work', settings: { baseUrl: accepting.url } });
  });

  it("another user's credential cannot be renamed or re-pointed: 404", async () => {
    const id = await create(accepting.url);
    const mallory = await kw.user('mallory');
    const renamed = await patch(id, { name: 'stolen' }, mallory.token);
    expect([renamed.status, renamed.body.error.code]).toEqual([404, 'not_found']);
    const repointed = await patch(id, { settings: { baseUrl: refusing.url } }, mallory.token);
    expect(repointed.status).toBe(404);
    const shown = await kw.call('GET', `/api/credentials/${id}`, { token: alice.token });
    expect(shown.body).toMatchObject({ name: 'work', settings: { baseUrl: accepting.url } });
  });
});
