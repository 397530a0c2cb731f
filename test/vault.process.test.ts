import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { loadConfig } from '../src/config/config.ts';
import { createBotSchema } from '../src/bots/bot.schema.ts';
import { credentialAad } from '../src/credentials/credential-secrets.ts';
import { openDatabase, type Database } from '../src/db/database.ts';
import { assembleKeyway, type Keyway } from '../src/main.ts';
import { SecretRedactor } from '../src/observability/secret-redactor.ts';
import { hintFor } from '../src/vault/cipher.ts';
import { startFakeProvider } from './fakes/fake-providers.ts';
import { KeywayProcess, ProcessPool, runKeyway } from './support/keyway-process.ts';
import { bootstrapAdmin, callServer, serveReady } from './support/process-keyway.ts';
import { BACKENDS, createTestDatabase, type TestDatabaseTarget } from './support/test-database.ts';

const newKey = () => randomBytes(32).toString('base64');
const fakeSecret = (i: number) => `sk-rotation-${i}-${randomBytes(12).toString('hex')}`;

/** Runs `fn` with a Keyway assembled in this process over the target, with the given key environment. */
async function withKeyway<T>(
  target: TestDatabaseTarget,
  env: Record<string, string>,
  fn: (keyway: Keyway, database: Database) => Promise<T>,
): Promise<T> {
  // The fake Evolution API listens on loopback, which an admin's bot may call only when allowed.
  const config = loadConfig(
    target.target.kind === 'postgres'
      ? { 'database-url': target.target.url }
      : { data: target.target.dataDir },
    { KEYWAY_UPSTREAM_ALLOW_LOOPBACK: 'true', ...env },
  );
  const database = await openDatabase(config.database, { purpose: 'test' });
  const keyway = await assembleKeyway(database, config, {
    logger: pino({ level: 'silent' }),
    redactor: new SecretRedactor(),
    version: 'test',
  });
  try {
    return await fn(keyway, database);
  } finally {
    await keyway.close();
    await database.close();
  }
}

/** Opens the database in this process with the given key environment and returns every secret, decrypted. */
async function decryptAll(
  target: TestDatabaseTarget,
  env: Record<string, string>,
): Promise<{ byName: Map<string, string>; keyIds: Set<string | null> }> {
  return withKeyway(target, env, async (keyway, database) => {
    const rows = await database.db
      .selectFrom('credentials')
      .select([
        'id',
        'name',
        'owner_id',
        'provider',
        'version',
        'secret_key_id',
        'secret_nonce',
        'secret_ciphertext',
      ])
      .execute();
    const byName = new Map<string, string>();
    for (const row of rows) {
      byName.set(
        row.name,
        keyway.cipher.open(
          { keyId: row.secret_key_id!, nonce: row.secret_nonce!, ciphertext: row.secret_ciphertext! },
          credentialAad({ id: row.id, ownerId: row.owner_id, provider: row.provider, version: row.version }),
        ),
      );
    }
    return { byName, keyIds: new Set(rows.map((row) => row.secret_key_id)) };
  });
}

/** Stores `count` credentials for the admin straight through the cipher (fast), as the service would. */
async function seedCredentials(
  target: TestDatabaseTarget,
  env: Record<string, string>,
  count: number,
): Promise<Map<string, string>> {
  const expected = new Map<string, string>();
  await withKeyway(target, env, async (keyway, database) => {
    await keyway.verifyVault();
    const admin = await database.db.selectFrom('users').select('id').executeTakeFirstOrThrow();
    const rows = Array.from({ length: count }, (_, i) => {
      const id = crypto.randomUUID();
      const secret = fakeSecret(i);
      const sealed = keyway.cipher.seal(
        secret,
        credentialAad({ id, ownerId: admin.id, provider: 'openai', version: 1 }),
      );
      expected.set(`c${i}`, secret);
      return {
        id,
        owner_id: admin.id,
        created_by: admin.id,
        provider: 'openai',
        name: `c${i}`,
        settings: '{}',
        secret_key_id: sealed.keyId,
        secret_nonce: sealed.nonce,
        secret_ciphertext: sealed.ciphertext,
        fingerprint: keyway.cipher.fingerprint(secret),
        hint: hintFor(secret),
      };
    });
    for (let i = 0; i < rows.length; i += 100)
      await database.db
        .insertInto('credentials')
        .values(rows.slice(i, i + 100))
        .execute();
  });
  return expected;
}

describe.each(BACKENDS)('the master key [%s]', (backend) => {
  const pool = new ProcessPool();
  let target: TestDatabaseTarget;

  beforeEach(async () => {
    target = await createTestDatabase(backend);
  });
  afterEach(async () => {
    await pool.stopAll();
    await target.dispose();
  });

  it('refuses to start with the wrong master key, naming both key ids, and leaves the vault untouched', async () => {
    const key = newKey();
    const env = { KEYWAY_MASTER_KEY: key };
    const token = await bootstrapAdmin(target.flags, env);
    const upstreamKey = fakeSecret(0);
    const upstream = await startFakeProvider({ wire: 'openai', validKeys: [upstreamKey] });
    try {
      let { server, url } = await serveReady(pool, target.flags, env);
      const created = await callServer(url, 'POST', '/api/credentials', {
        token,
        body: { name: 'main', provider: 'openai', secret: upstreamKey, settings: { baseUrl: upstream.url } },
      });
      expect(created.status).toBe(201);
      server.kill('SIGTERM');
      await server.exited;

      const wrong = await runKeyway(['serve', '--port', '0', ...target.flags], {
        KEYWAY_MASTER_KEY: newKey(),
      });
      expect(wrong.code).toBe(42);
      expect(wrong.stderr).toContain('[master_key_wrong]');
      expect(wrong.stderr).toMatch(
        /id [0-9a-f]{16}\) is not the one this database's vault was sealed with \(id [0-9a-f]{16}\)/,
      );
      expect(wrong.stderr).not.toMatch(/\n\s+at /);

      ({ server, url } = await serveReady(pool, target.flags, env));
      const tested = await callServer(url, 'POST', `/api/credentials/${created.body.id}/test`, { token });
      expect(tested.body.status).toBe('valid');
    } finally {
      await upstream.close();
    }
  });

  it('survives a master-key rotation killed midway: resumed, every secret opens under the new key', async () => {
    const oldKey = newKey();
    const nextKey = newKey();
    // Embedded: the generated key in the data directory; PostgreSQL: keys given in the environment.
    const before: Record<string, string> = backend === 'embedded' ? {} : { KEYWAY_MASTER_KEY: oldKey };
    const during: Record<string, string> =
      backend === 'embedded' ? {} : { KEYWAY_MASTER_KEY: nextKey, KEYWAY_MASTER_KEY_PREVIOUS: oldKey };
    const after: Record<string, string> = backend === 'embedded' ? {} : { KEYWAY_MASTER_KEY: nextKey };
    await bootstrapAdmin(target.flags, before);
    const expected = await seedCredentials(target, before, 300);
    const { keyIds: originalIds } = await decryptAll(target, before);
    expect(originalIds.size).toBe(1);
    // A bot's channel secrets are sealed too, and must move with the rotation.
    const evolutionKey = fakeSecret(-1);
    const bot = await withKeyway(target, before, async (keyway, database) => {
      const admin = await database.db
        .selectFrom('users')
        .select(['id', 'username'])
        .executeTakeFirstOrThrow();
      const credential = await database.db.selectFrom('credentials').select('id').executeTakeFirstOrThrow();
      return keyway.services.bots.create(
        { userId: admin.id, username: admin.username, role: 'admin', via: 'token' },
        createBotSchema.parse({
          name: 'rotated-bot',
          credentialId: credential.id,
          model: 'm',
          channels: { evolution: { serverUrl: 'http://127.0.0.1:1', instance: 'i', apiKey: evolutionKey } },
        }),
      );
    });

    const rotation = new KeywayProcess(
      ['vault', 'rotate-master-key', '--batch-size', '5', ...target.flags],
      during,
    );
    await rotation.waitForLog(/^re-sealed batch 3 /);
    rotation.kill('SIGKILL');
    await rotation.exited;

    // Half-way: some secrets under each key, and all of them readable with both keys configured.
    const midway = await decryptAll(target, during);
    expect(midway.keyIds.size).toBe(2);
    expect(midway.byName).toEqual(expected);

    const resumed = await runKeyway(
      ['vault', 'rotate-master-key', '--batch-size', '50', ...target.flags],
      during,
    );
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toMatch(/Re-sealed \d+ secret\(s\)/);

    const done = await decryptAll(target, after);
    expect(done.keyIds.size).toBe(1);
    expect([...done.keyIds][0]).not.toBe([...originalIds][0]);
    expect(done.byName).toEqual(expected);
    const botAfter = await withKeyway(target, after, async (keyway, database) => {
      const row = await database.db.selectFrom('bots').select('secrets_key_id').executeTakeFirstOrThrow();
      expect(row.secrets_key_id).toBe([...done.keyIds][0]);
      return keyway.services.bots.loadById(bot.id);
    });
    expect(botAfter?.secrets).toEqual({ inboundSecret: bot.inboundSecret, evolutionApiKey: evolutionKey });
    if (backend === 'embedded') {
      const files = fs
        .readdirSync(target.target.kind === 'embedded' ? target.target.dataDir : '')
        .filter((file) => file.startsWith('master.key'));
      expect(files.sort()).toEqual(['master.key', `master.key.retired-${[...originalIds][0]}`]);
    }
    // A server with only the new key starts: the vault check moved to it.
    const { server } = await serveReady(pool, target.flags, after);
    server.kill('SIGTERM');
    expect((await server.exited).code).toBe(0);
  });
});

describe('a PostgreSQL deployment [postgres]', () => {
  const pool = new ProcessPool();
  let target: TestDatabaseTarget;

  beforeEach(async () => {
    target = await createTestDatabase('postgres');
  });
  afterEach(async () => {
    await pool.stopAll();
    await target.dispose();
  });

  it('refuses to start without a master key', async () => {
    const result = await runKeyway(['serve', '--port', '0', ...target.flags]);
    expect(result.code).toBe(40);
    expect(result.stderr).toContain('[master_key_missing]');
    expect(result.stderr).toContain('openssl rand -base64 32');
  });

  it('revokes a token on every node at once (LISTEN/NOTIFY), well inside the cache TTL', async () => {
    const env = { KEYWAY_MASTER_KEY: newKey() };
    const adminToken = await bootstrapAdmin(target.flags, env);
    const [a, b] = await Promise.all([
      serveReady(pool, target.flags, env),
      serveReady(pool, target.flags, env),
    ]);
    const created = await callServer(a.url, 'POST', '/api/tokens', {
      token: adminToken,
      body: { name: 'app' },
    });
    const token = created.body.token;
    // Node B caches the token's principal (for /api and /v1 alike).
    expect((await callServer(b.url, 'GET', '/api/me', { token })).status).toBe(200);
    expect((await callServer(b.url, 'GET', '/v1/models', { token })).status).toBe(200);
    expect((await callServer(b.url, 'GET', '/api/me', { token })).status).toBe(200);

    expect(
      (await callServer(a.url, 'DELETE', `/api/tokens/${created.body.id}`, { token: adminToken })).status,
    ).toBe(204);
    const revokedAt = Date.now();
    let status = 200;
    while (status === 200 && Date.now() - revokedAt < 5_000) {
      status = (await callServer(b.url, 'GET', '/api/me', { token })).status;
      if (status === 200) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(status).toBe(401);
    // The cache keeps an entry 30 s; NOTIFY made node B drop it within moments.
    expect(Date.now() - revokedAt).toBeLessThan(2_000);
    // The gateway authenticates through the same cache: /v1 refuses it on node B too.
    const v1 = await callServer(b.url, 'GET', '/v1/models', { token });
    expect([v1.status, v1.body.error.code]).toEqual([401, 'invalid_api_key']);
  });
});
