import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fakeKey } from '../../test/support/gateway-harness.ts';
import { BACKENDS } from '../../test/support/test-database.ts';
import { createTestKeyway, type TestKeyway } from '../../test/support/test-keyway.ts';

/**
 * Request forgery through a credential's base URL: a member must not reach services on Keyway's host
 * or network, and nobody reads another service's pages back through Keyway's error messages.
 */
describe.each(BACKENDS)('what a credential may reach [%s]', (backend) => {
  // A service on loopback that is not a provider: it answers every path, and counts what reaches it.
  const internalSecret = `internal-admin-data-${Math.random().toString(36).slice(2)}`;
  let internal: Server;
  let internalUrl: string;
  let hits = 0;
  let harness: TestKeyway;
  let admin: { id: string; token: string };
  let member: { id: string; token: string };

  beforeAll(async () => {
    internal = createServer((request, response) => {
      hits++;
      request.resume();
      if (request.url?.includes('redirect')) {
        response.writeHead(302, { location: 'http://example.com/elsewhere' }).end();
        return;
      }
      response
        .writeHead(request.method === 'GET' ? 200 : 404, { 'content-type': 'application/json' })
        .end(JSON.stringify({ users: [{ name: 'root', note: internalSecret }] }));
    });
    await new Promise<void>((resolve) => internal.listen(0, '127.0.0.1', resolve));
    internalUrl = `http://127.0.0.1:${(internal.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => internal.close(resolve));
  });
  beforeEach(async () => {
    // Production's rule for members; loopback allowed for admins (the embedded default).
    harness = await createTestKeyway(backend, { membersReachLoopback: false });
    admin = await harness.user('root', 'admin');
    member = await harness.user('mallory');
    hits = 0;
  });
  afterEach(async () => {
    await harness.close();
  });

  const create = (token: string, name: string, baseUrl: string) =>
    harness.call('POST', '/api/credentials', {
      token,
      body: { name, provider: 'openai-compatible', secret: fakeKey(), settings: { baseUrl } },
    });

  it("refuses a member's loopback, private and disguised addresses when saving", async () => {
    const port = new URL(internalUrl).port;
    for (const baseUrl of [
      `${internalUrl}/v1`,
      `http://127.0.0.2:${port}/v1`,
      `http://[::1]:${port}/v1`,
      `http://[::ffff:127.0.0.1]:${port}/v1`,
      'http://10.1.2.3/v1',
      'http://192.168.1.1/v1',
      'http://169.254.169.254/latest',
    ]) {
      const response = await create(member.token, 'x', baseUrl);
      expect(response.status, baseUrl).toBe(400);
      expect(response.body.error.code, baseUrl).toBe('blocked_url');
    }
    expect(hits).toBe(0);
  });

  it('refuses a base URL ending in ? or # (the appended path would land in the query or fragment)', async () => {
    for (const baseUrl of [`${internalUrl}/internal/admin#`, `${internalUrl}/internal/admin?`]) {
      const response = await create(admin.token, 'x', baseUrl);
      expect(response.status, baseUrl).toBe(400);
      expect(response.text).toMatch(/query string or fragment/);
    }
  });

  it("a member's host name that resolves to loopback is refused where the socket opens, on every path", async () => {
    const saved = await create(member.token, 'local', `http://localhost:${new URL(internalUrl).port}/v1`);
    expect(saved.status).toBe(201);
    const id = saved.body.id as string;
    const models = await harness.call('GET', `/api/credentials/${id}/models`, { token: member.token });
    expect(models.status).toBe(400);
    expect(models.body.error.code).toBe('blocked_url');
    const tested = await harness.call('POST', `/api/credentials/${id}/test`, { token: member.token });
    expect(tested.body.error.code).toBe('blocked_url');
    const chat = await harness.call('POST', '/v1/chat/completions', {
      token: member.token,
      body: { model: 'local/anything', messages: [{ role: 'user', content: 'hi' }] },
    });
    expect(chat.status).toBe(502);
    expect(chat.body.error.code).toBe('upstream_blocked');
    for (const response of [models, tested, chat]) expect(response.text).not.toContain(internalSecret);
    expect(hits).toBe(0);
  });

  it("an admin's credential may use loopback, yet another service's pages are never quoted back", async () => {
    const saved = await create(admin.token, 'internal', `${internalUrl}/v1`);
    expect(saved.status).toBe(201);
    const models = await harness.call('GET', `/api/credentials/${saved.body.id}/models`, {
      token: admin.token,
    });
    expect(models.status).toBe(502);
    expect(models.body.error.message).toMatch(/not a model list \(\d+ bytes of application\/json\)/);
    const chat = await harness.call('POST', '/v1/chat/completions', {
      token: admin.token,
      body: { model: 'internal/anything', messages: [{ role: 'user', content: 'hi' }] },
    });
    expect(chat.status).toBe(404);
    expect(chat.body.error.message).toMatch(/not an OpenAI-style error \(\d+ bytes of JSON\)/);
    for (const response of [models, chat]) expect(response.text).not.toContain(internalSecret);
    expect(hits).toBeGreaterThan(0);
  });

  it('demoting an admin takes their credentials off loopback at once, cached resolutions included', async () => {
    const ops = await harness.user('ops', 'admin');
    await create(ops.token, 'internal', `${internalUrl}/v1`);
    const ask = () =>
      harness.call('POST', '/v1/chat/completions', {
        token: ops.token,
        body: { model: 'internal/anything', messages: [{ role: 'user', content: 'hi' }] },
      });
    expect((await ask()).status).toBe(404);
    const reached = hits;
    const demoted = await harness.call('PATCH', `/api/users/${ops.id}`, {
      token: admin.token,
      body: { role: 'member' },
    });
    expect(demoted.status).toBe(200);
    const after = await ask();
    expect(after.status).toBe(502);
    expect(after.body.error.code).toBe('upstream_blocked');
    expect(hits).toBe(reached);
  });

  it('answers an upstream redirect with 502 naming the credential, never a bare 302', async () => {
    const saved = await create(admin.token, 'moved', `${internalUrl}/redirect/v1`);
    const chat = await harness.call('POST', '/v1/chat/completions', {
      token: admin.token,
      body: { model: 'moved/anything', messages: [{ role: 'user', content: 'hi' }] },
    });
    expect(saved.status).toBe(201);
    expect(chat.status).toBe(502);
    expect(chat.body.error.code).toBe('upstream_redirect');
    expect(chat.body.error.message).toContain('"moved"');
    expect(chat.headers.get('location')).toBeNull();
  });
});
