import { sql } from 'kysely';
import { z } from 'zod';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createDefaultRegistry } from '../providers/registry.ts';
import { startFakeProvider, type FakeProvider } from '../../test/fakes/fake-providers.ts';
import { fakeKey } from '../../test/support/gateway-harness.ts';
import { BACKENDS } from '../../test/support/test-database.ts';
import { createTestKeyway, type TestKeyway } from '../../test/support/test-keyway.ts';

describe.each(BACKENDS)('credentials API [%s]', (backend) => {
  let harness: TestKeyway;
  let openai: FakeProvider;
  let admin: { id: string; token: string };
  let alice: { id: string; token: string };
  let bob: { id: string; token: string };
  const goodKey = fakeKey();

  beforeAll(async () => {
    openai = await startFakeProvider({ wire: 'openai', validKeys: [goodKey] });
  });
  afterAll(async () => {
    await openai.close();
  });

  beforeEach(async () => {
    harness = await createTestKeyway(backend);
    admin = await harness.user('root', 'admin');
    alice = await harness.user('alice');
    bob = await harness.user('bob');
  });
  afterEach(async () => {
    await harness.close();
  });

  const create = (token: string, body: Record<string, unknown>) =>
    harness.call('POST', '/api/credentials', { token, body });

  it('stores a key write-only: the API shows a hint and a fingerprint, never the key', async () => {
    const created = await create(alice.token, {
      name: 'main',
      provider: 'openai',
      secret: goodKey,
      settings: { baseUrl: openai.url },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      name: 'main',
      provider: 'openai',
      shared: false,
      settings: { baseUrl: openai.url },
      hint: `sk-…${goodKey.slice(-4)}`,
      status: 'unchecked',
      usedBy: { bots: 0 },
      duplicates: [],
      version: 1,
      warnings: [],
    });
    expect(created.body.fingerprint).toMatch(/^[0-9a-f]{32}$/);
    const id = created.body.id;
    for (const response of [
      created,
      await harness.call('GET', `/api/credentials/${id}`, { token: alice.token }),
      await harness.call('GET', '/api/credentials', { token: alice.token }),
    ]) {
      expect(response.text).not.toContain(goodKey);
    }
    // Stored encrypted: the key is in no column of the row.
    const row = await sql<Record<string, unknown>>`SELECT * FROM credentials WHERE id = ${id}`.execute(
      harness.database.db,
    );
    expect(
      JSON.stringify(row.rows[0], (_key, value) =>
        value?.type === 'Buffer' ? Buffer.from(value.data).toString('latin1') : value,
      ),
    ).not.toContain(goodKey);
  });

  it('lets one key be saved under two names and reports each as the duplicate of the other; another user learns nothing', async () => {
    const first = await create(alice.token, { name: 'prod', provider: 'openai', secret: goodKey });
    const second = await create(alice.token, { name: 'staging', provider: 'openai', secret: goodKey });
    expect(second.status).toBe(201);
    expect(second.body.duplicates).toEqual([{ id: first.body.id, name: 'prod' }]);
    expect(second.body.warnings.join(' ')).toContain('"prod"');
    const listed = await harness.call('GET', '/api/credentials', { token: alice.token });
    expect(listed.body.find((c: { name: string }) => c.name === 'prod').duplicates).toEqual([
      { id: second.body.id, name: 'staging' },
    ]);

    const bobs = await create(bob.token, { name: 'mine', provider: 'openai', secret: goodKey });
    expect(bobs.status).toBe(201);
    expect(bobs.body.duplicates).toEqual([]);
    expect(bobs.body.warnings).toEqual([]);
    const aliceAgain = await harness.call('GET', `/api/credentials/${first.body.id}`, { token: alice.token });
    expect(aliceAgain.body.duplicates).toEqual([{ id: second.body.id, name: 'staging' }]);
  });

  it('tests a key against the provider and records valid / invalid with the provider message, never the key', async () => {
    const good = await create(alice.token, {
      name: 'good',
      provider: 'openai',
      secret: goodKey,
      settings: { baseUrl: openai.url },
    });
    const tested = await harness.call('POST', `/api/credentials/${good.body.id}/test`, {
      token: alice.token,
    });
    expect(tested.status).toBe(200);
    expect(tested.body).toMatchObject({ status: 'valid', models: 2, credential: { status: 'valid' } });
    expect(tested.body.credential.lastCheckedAt).not.toBeNull();
    const models = await harness.call('GET', `/api/credentials/${good.body.id}/models`, {
      token: alice.token,
    });
    expect(models.body.models.map((m: { id: string }) => m.id)).toEqual(['gpt-4o-mini', 'gpt-4o']);
    expect(openai.requests.at(-1)?.headers.authorization).toBe(`Bearer ${goodKey}`);

    const wrongKey = fakeKey();
    const bad = await create(alice.token, {
      name: 'bad',
      provider: 'openai',
      secret: wrongKey,
      settings: { baseUrl: openai.url },
    });
    const failed = await harness.call('POST', `/api/credentials/${bad.body.id}/test`, { token: alice.token });
    expect(failed.body.status).toBe('invalid');
    expect(failed.body.message).toContain('Incorrect API key');
    expect(failed.text).not.toContain(wrongKey);
    const audit = await sql<{
      action: string;
      details: unknown;
    }>`SELECT action, details FROM audit_log WHERE target_id = ${bad.body.id} ORDER BY id`.execute(
      harness.database.db,
    );
    expect(audit.rows.map((row) => row.action)).toEqual(['credential.create', 'credential.test']);
    expect(JSON.stringify(audit.rows)).not.toContain(wrongKey);
  });

  it('rotates a key in place: version + 1, new hint, status back to unchecked, and the new key is what the provider sees', async () => {
    const wrongKey = fakeKey();
    const created = await create(alice.token, {
      name: 'rot',
      provider: 'openai',
      secret: wrongKey,
      settings: { baseUrl: openai.url },
    });
    await harness.call('POST', `/api/credentials/${created.body.id}/test`, { token: alice.token });
    const rotated = await harness.call('POST', `/api/credentials/${created.body.id}/rotate`, {
      token: alice.token,
      body: { secret: goodKey },
    });
    expect(rotated.status).toBe(200);
    expect(rotated.body).toMatchObject({ version: 2, status: 'unchecked', hint: `sk-…${goodKey.slice(-4)}` });
    expect(rotated.text).not.toContain(goodKey);
    const tested = await harness.call('POST', `/api/credentials/${created.body.id}/test`, {
      token: alice.token,
    });
    expect(tested.body.status).toBe('valid');
  });

  it('refuses a ciphertext copied onto another row: reported, not returned', async () => {
    const victim = await create(alice.token, {
      name: 'victim',
      provider: 'openai',
      secret: goodKey,
      settings: { baseUrl: openai.url },
    });
    const thief = await create(bob.token, {
      name: 'thief',
      provider: 'openai',
      secret: fakeKey(),
      settings: { baseUrl: openai.url },
    });
    await sql`UPDATE credentials SET secret_ciphertext = v.secret_ciphertext, secret_nonce = v.secret_nonce, secret_key_id = v.secret_key_id
              FROM credentials v WHERE v.id = ${victim.body.id} AND credentials.id = ${thief.body.id}`.execute(
      harness.database.db,
    );
    const requestsBefore = openai.requests.length;
    const attempt = await harness.call('POST', `/api/credentials/${thief.body.id}/test`, {
      token: bob.token,
    });
    expect(attempt.status).toBe(409);
    expect(attempt.body.error.code).toBe('secret_unreadable');
    expect(attempt.text).not.toContain(goodKey);
    expect(openai.requests.length).toBe(requestsBefore);
    const models = await harness.call('GET', `/api/credentials/${thief.body.id}/models`, {
      token: bob.token,
    });
    expect(models.body.error.code).toBe('secret_unreadable');
    const audit = await sql<{
      n: number;
    }>`SELECT count(*)::int AS n FROM audit_log WHERE action = 'credential.use_failure' AND target_id = ${thief.body.id}`.execute(
      harness.database.db,
    );
    expect(audit.rows[0]!.n).toBeGreaterThan(0);
  });

  it('keeps every user to their own credentials: 404 for another member, on every endpoint', async () => {
    const alices = await create(alice.token, {
      name: 'private',
      provider: 'openai',
      secret: goodKey,
      settings: { baseUrl: openai.url },
    });
    const id = alices.body.id;
    const attempts: [string, string, unknown?][] = [
      ['GET', `/api/credentials/${id}`],
      ['PATCH', `/api/credentials/${id}`, { name: 'stolen' }],
      ['DELETE', `/api/credentials/${id}`],
      ['POST', `/api/credentials/${id}/test`],
      ['POST', `/api/credentials/${id}/rotate`, { secret: fakeKey() }],
      ['GET', `/api/credentials/${id}/models`],
    ];
    for (const [method, path, body] of attempts) {
      const response = await harness.call(method, path, { token: bob.token, ...(body ? { body } : {}) });
      expect([method, path, response.status, response.body?.error?.code]).toEqual([
        method,
        path,
        404,
        'not_found',
      ]);
      const anonymous = await harness.call(method, path, body ? { body } : {});
      expect([method, path, anonymous.status]).toEqual([method, path, 401]);
    }
    expect((await harness.call('GET', '/api/credentials', { token: bob.token })).body).toEqual([]);
    // Even an admin does not see a member's own credential.
    expect((await harness.call('GET', `/api/credentials/${id}`, { token: admin.token })).status).toBe(404);
    const still = await harness.call('GET', `/api/credentials/${id}`, { token: alice.token });
    expect(still.body).toMatchObject({ name: 'private', version: 1 });
  });

  it('lets an admin share a credential that members can use but never change, rotate, test or delete', async () => {
    expect(
      (await create(alice.token, { name: 'sneaky', provider: 'openai', secret: goodKey, shared: true }))
        .status,
    ).toBe(403);
    const shared = await create(admin.token, {
      name: 'company',
      provider: 'openai',
      secret: goodKey,
      settings: { baseUrl: openai.url },
      shared: true,
    });
    expect(shared.status).toBe(201);
    expect(shared.body.shared).toBe(true);
    const id = shared.body.id;

    const seen = await harness.call('GET', '/api/credentials', { token: alice.token });
    expect(seen.body.map((c: { name: string; shared: boolean }) => [c.name, c.shared])).toEqual([
      ['company', true],
    ]);
    // Using it (listing its models) is allowed.
    expect((await harness.call('GET', `/api/credentials/${id}/models`, { token: alice.token })).status).toBe(
      200,
    );
    for (const [method, path, body] of [
      ['PATCH', `/api/credentials/${id}`, { name: 'mine-now' }],
      ['DELETE', `/api/credentials/${id}`],
      ['POST', `/api/credentials/${id}/rotate`, { secret: fakeKey() }],
      ['POST', `/api/credentials/${id}/test`],
    ] as [string, string, unknown?][]) {
      const response = await harness.call(method, path, { token: alice.token, ...(body ? { body } : {}) });
      expect([method, response.status, response.body.error.code]).toEqual([method, 403, 'forbidden']);
    }
    // A member who saves the same key sees that the shared one holds it (it is visible to them anyway).
    const own = await create(alice.token, { name: 'own', provider: 'openai', secret: goodKey });
    expect(own.body.duplicates).toEqual([{ id, name: 'company' }]);
    expect(
      (
        await harness.call('PATCH', `/api/credentials/${id}`, {
          token: admin.token,
          body: { name: 'company-2' },
        })
      ).body.name,
    ).toBe('company-2');
    expect((await harness.call('DELETE', `/api/credentials/${id}`, { token: admin.token })).status).toBe(204);
  });

  it('answers bad input with 4xx and a stable code, never a 5xx, and stores nothing', async () => {
    const cases: [unknown, number, string][] = [
      [{ name: 'x', provider: 'no-such-provider', secret: goodKey }, 400, 'unknown_provider'],
      [{ name: 'x', provider: 'openai-compatible', secret: goodKey }, 400, 'invalid_settings'],
      [{ name: 'x', provider: 'azure-openai', secret: goodKey, settings: {} }, 400, 'invalid_settings'],
      [
        { name: 'x', provider: 'openai', secret: goodKey, settings: { baseUrl: 'ftp://x' } },
        400,
        'invalid_settings',
      ],
      [
        { name: 'x', provider: 'openai', secret: goodKey, settings: { nonsense: 1 } },
        400,
        'invalid_settings',
      ],
      [
        {
          name: 'x',
          provider: 'openai',
          secret: goodKey,
          settings: { baseUrl: 'http://169.254.169.254/v1' },
        },
        400,
        'blocked_url',
      ],
      [{ name: 'x', provider: 'openai' }, 400, 'validation_failed'],
      [{ name: 'has/slash', provider: 'openai', secret: goodKey }, 400, 'validation_failed'],
      [{ name: 'x', provider: 'openai', secret: goodKey, extra: true }, 400, 'validation_failed'],
      [{ name: 'x', provider: 'openai', secret: 42 }, 400, 'validation_failed'],
      [[], 400, 'validation_failed'],
      ['{"name": "x", ', 400, 'invalid_json'],
    ];
    for (const [body, status, code] of cases) {
      const response = await create(alice.token, body as Record<string, unknown>);
      expect([JSON.stringify(body), response.status, response.body?.error?.code]).toEqual([
        JSON.stringify(body),
        status,
        code,
      ]);
    }
    const noType = await harness.keyway.app.request('/api/credentials', {
      method: 'POST',
      headers: { authorization: `Bearer ${alice.token}` },
      body: 'name=x',
    });
    expect(noType.status).toBe(415);
    const huge = await create(alice.token, {
      name: 'x',
      provider: 'openai',
      secret: 'k'.repeat(2 * 1024 * 1024),
    });
    expect([huge.status, huge.body.error.code]).toEqual([413, 'payload_too_large']);
    for (const path of [
      '/api/credentials/not-a-uuid',
      '/api/credentials/00000000-0000-0000-0000-000000000000',
    ]) {
      expect((await harness.call('GET', path, { token: alice.token })).status).toBe(404);
    }
    expect((await create(alice.token, { name: 'dup', provider: 'openai', secret: goodKey })).status).toBe(
      201,
    );
    const clash = await create(alice.token, { name: 'DUP', provider: 'openai', secret: goodKey });
    expect([clash.status, clash.body.error.code]).toEqual([409, 'name_taken']);
    expect((await harness.call('GET', '/api/credentials', { token: alice.token })).body).toHaveLength(1);
  });

  it("accepts a key that does not look like its provider's, with a warning", async () => {
    const created = await create(alice.token, {
      name: 'claude',
      provider: 'anthropic',
      secret: fakeKey('not-anthropic-'),
    });
    expect(created.status).toBe(201);
    expect(created.body.warnings).toEqual([expect.stringContaining('sk-ant-')]);
  });

  it('documents every route in /api/openapi.json from the same schemas that validate requests', async () => {
    const spec = (await harness.call('GET', '/api/openapi.json')).body;
    expect(spec.openapi).toBe('3.1.0');
    expect(Object.keys(spec.paths)).toEqual(
      expect.arrayContaining([
        '/api/credentials',
        '/api/credentials/{id}',
        '/api/credentials/{id}/test',
        '/api/credentials/{id}/rotate',
        '/api/credentials/{id}/models',
        '/api/tokens',
        '/api/tokens/{id}',
        '/api/providers',
        '/api/setup',
        '/api/auth/login',
        '/api/me',
        '/api/users',
      ]),
    );
    const createBody = spec.paths['/api/credentials'].post.requestBody.content['application/json'].schema;
    expect(createBody.required).toEqual(['name', 'provider']);
    expect(createBody.additionalProperties).toBe(false);
    expect(Object.keys(createBody.properties)).toEqual([
      'name',
      'provider',
      'secret',
      'settings',
      'shared',
      'prices',
    ]);
  });
});

describe('adding a provider is one registry entry, no migration [embedded]', () => {
  it('registers a provider in test code and uses it end to end', async () => {
    const key = fakeKey('acme-');
    const upstream = await startFakeProvider({ wire: 'openai', validKeys: [key], models: ['acme-large'] });
    const providers = createDefaultRegistry();
    providers.register({
      id: 'acme',
      label: 'Acme AI',
      wire: 'openai',
      defaultBaseUrl: upstream.url,
      settings: z.strictObject({ baseUrl: z.string().optional(), region: z.enum(['eu', 'us']).optional() }),
      secret: 'required',
      keyFormat: { pattern: /^acme-/, description: 'they start with acme-' },
    });
    const harness = await createTestKeyway('embedded', { providers });
    try {
      const user = await harness.user('carol');
      const listed = await harness.call('GET', '/api/providers', { token: user.token });
      expect(listed.body.find((p: { id: string }) => p.id === 'acme')).toMatchObject({
        label: 'Acme AI',
        keyFormat: 'they start with acme-',
      });
      const created = await harness.call('POST', '/api/credentials', {
        token: user.token,
        body: { name: 'acme-main', provider: 'acme', secret: key, settings: { region: 'eu' } },
      });
      expect(created.status).toBe(201);
      expect(created.body.warnings).toEqual([]);
      const tested = await harness.call('POST', `/api/credentials/${created.body.id}/test`, {
        token: user.token,
      });
      expect(tested.body).toMatchObject({ status: 'valid', models: 1 });
      const models = await harness.call('GET', `/api/credentials/${created.body.id}/models`, {
        token: user.token,
      });
      expect(models.body.models).toEqual([expect.objectContaining({ id: 'acme-large' })]);
      const bad = await harness.call('POST', '/api/credentials', {
        token: user.token,
        body: { name: 'acme-2', provider: 'acme', secret: key, settings: { region: 'mars' } },
      });
      expect(bad.body.error.code).toBe('invalid_settings');
    } finally {
      await harness.close();
      await upstream.close();
    }
  });
});
