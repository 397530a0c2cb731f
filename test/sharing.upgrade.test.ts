import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import OpenAI from 'openai';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/config.ts';
import { credentialAad } from '../src/credentials/credential-secrets.ts';
import type { Database } from '../src/db/database.ts';
import { prepareSchema } from '../src/db/schema/lifecycle.ts';
import { loadMigrationFiles } from '../src/db/schema/migration-files.ts';
import { migrateUp } from '../src/db/schema/migrator.ts';
import { schemaContext } from '../src/db/schema/schema-context.ts';
import { SettingsRepository } from '../src/db/settings.repository.ts';
import { startHttpServer, type RunningHttpServer } from '../src/http/http-server.ts';
import { assembleKeyway, type Keyway } from '../src/main.ts';
import { createLogger } from '../src/observability/logger.ts';
import { SecretRedactor } from '../src/observability/secret-redactor.ts';
import { hashToken } from '../src/tokens/tokens.service.ts';
import { hashPassword } from '../src/users/password.ts';
import { Cipher, hintFor, masterKeyFrom } from '../src/vault/cipher.ts';
import { resealMasterKeyCheck } from '../src/vault/vault-check.ts';
import { startFakeOpenAiChat, type FakeOpenAiChat } from './fakes/fake-openai-chat.ts';
import { fakeKey } from './support/gateway-harness.ts';
import {
  BACKENDS,
  createTestDatabase,
  openTestDatabase,
  testSchemaContext,
  type TestDatabaseTarget,
} from './support/test-database.ts';
import { testMasterKey } from './support/test-keyway.ts';

const SHARING = '0013_sharing';

/**
 * A database written by the release before sharing (every migration before 0013, with rows as that
 * release stored them: an admin, a member, a `shared` credential with owner_id NULL and the member's
 * own), then upgraded by this release's start-up. Before 0013 `shared` meant "every member may use
 * it"; after it, the same must hold through a grant to everyone.
 */
describe.each(BACKENDS)('sharing: upgrading a database from before teams and grants [%s]', (backend) => {
  const sharedKey = fakeKey();
  const membersKey = fakeKey();
  let target: TestDatabaseTarget;
  let database: Database;
  let upstream: FakeOpenAiChat;
  let keyway: Keyway | undefined;
  let server: RunningHttpServer | undefined;

  beforeEach(async () => {
    target = await createTestDatabase(backend);
    database = await openTestDatabase(target);
    upstream = await startFakeOpenAiChat({ validKeys: [sharedKey, membersKey] });
  });
  afterEach(async () => {
    await server?.close(1_000);
    await keyway?.close();
    await database.close();
    await target.dispose();
    await upstream.close();
  });

  it('keeps a shared credential usable by members and managed by admins, and a member’s own key theirs', async () => {
    // The earlier release: every migration before 0013.
    const bundled = loadMigrationFiles();
    const older = bundled.filter((migration) => migration.name < SHARING);
    expect(bundled.map((migration) => migration.name)).toContain(SHARING);
    expect(older.length).toBeGreaterThan(0);
    await migrateUp(testSchemaContext(database, older));

    const masterKey = testMasterKey();
    const cipher = new Cipher(masterKeyFrom(Buffer.from(masterKey, 'base64')));
    await resealMasterKeyCheck(cipher, new SettingsRepository(database.db));
    const adminId = randomUUID();
    const memberId = randomUUID();
    const passwordHash = await hashPassword('correct horse battery');
    await sql`INSERT INTO users (id, username, password_hash, role) VALUES
      (${adminId}, 'root', ${passwordHash}, 'admin'), (${memberId}, 'mia', ${passwordHash}, 'member')`.execute(
      database.db,
    );
    const tokens = { admin: `kw_${randomUUID()}`, member: `kw_${randomUUID()}` };
    for (const [userId, token] of [
      [adminId, tokens.admin],
      [memberId, tokens.member],
    ] as const) {
      await sql`INSERT INTO api_tokens (id, user_id, name, token_hash, prefix)
        VALUES (${randomUUID()}, ${userId}, 'old', ${hashToken(token)}, ${token.slice(0, 7)})`.execute(
        database.db,
      );
    }
    const insertCredential = async (ownerId: string | null, name: string, secret: string) => {
      const id = randomUUID();
      const sealed = cipher.seal(secret, credentialAad({ id, ownerId, provider: 'openai', version: 1 }));
      await sql`INSERT INTO credentials (id, owner_id, created_by, provider, name, settings,
          secret_key_id, secret_nonce, secret_ciphertext, fingerprint, hint)
        VALUES (${id}, ${ownerId}, ${ownerId ?? adminId}, 'openai', ${name},
          ${JSON.stringify({ baseUrl: upstream.url })}::jsonb, ${sealed.keyId}, ${sealed.nonce},
          ${sealed.ciphertext}, ${cipher.fingerprint(secret)}, ${hintFor(secret)})`.execute(database.db);
      return id;
    };
    const shared = await insertCredential(null, 'company', sharedKey);
    const own = await insertCredential(memberId, 'mine', membersKey);

    // This release starts on it: the schema step applies 0013 first, then any later migration.
    const config = loadConfig(
      target.target.kind === 'postgres'
        ? { 'database-url': target.target.url }
        : { data: target.target.dataDir },
      { KEYWAY_MASTER_KEY: masterKey, KEYWAY_UPSTREAM_ALLOW_LOOPBACK: 'true', KEYWAY_LOG_LEVEL: 'info' },
    );
    const upgrade = await prepareSchema(
      schemaContext(database, config, { logger: pino({ level: 'silent' }), version: 'test' }),
      'auto',
    );
    expect(upgrade.applied[0]).toBe(SHARING);
    expect(upgrade.applied.every((name) => name >= SHARING)).toBe(true);
    const redactor = new SecretRedactor();
    const logLines: string[] = [];
    keyway = await assembleKeyway(database, config, {
      logger: createLogger({
        level: 'info',
        redactor,
        destination: { write: (line: string) => void logLines.push(line) },
      }),
      redactor,
      version: 'test',
      membersUpstreamPolicy: { allowLoopback: true, allowPrivate: false },
    });
    // Throws when the vault was sealed with another key: the check value the earlier release wrote opens.
    await keyway.verifyVault();
    keyway.startBackground();
    keyway.readiness.markReady();
    server = await startHttpServer(keyway.app.fetch, { port: 0, host: '127.0.0.1' });
    const app = keyway.app;
    const call = async (token: string, method: string, path: string, body?: unknown) => {
      const response = await app.request(path, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await response.text();
      return { status: response.status, text, body: text ? JSON.parse(text) : undefined };
    };
    const client = (token: string) =>
      new OpenAI({ apiKey: token, baseURL: `${server!.url}/v1`, maxRetries: 0, timeout: 20_000 });

    // The member still uses the shared key on /v1, and their own.
    const answer = await client(tokens.member).chat.completions.create({
      model: 'company/gpt-4o-mini',
      messages: [{ role: 'user', content: 'Hi' }],
    });
    expect(answer.choices[0]!.message.content).toBe('Hello from the fake.');
    expect(upstream.requests.at(-1)!.headers.authorization).toBe(`Bearer ${sharedKey}`);
    await client(tokens.member).chat.completions.create({
      model: 'mine/gpt-4o',
      messages: [{ role: 'user', content: 'Hi' }],
    });
    expect(upstream.requests.at(-1)!.headers.authorization).toBe(`Bearer ${membersKey}`);

    // The member sees it as shared and not theirs to manage; their own key is theirs.
    const listed = await call(tokens.member, 'GET', '/api/credentials');
    expect(listed.status).toBe(200);
    const byId = new Map(listed.body.map((c: { id: string }) => [c.id, c]));
    expect(byId.get(shared)).toMatchObject({ name: 'company', shared: true, manageable: false });
    expect(byId.get(own)).toMatchObject({ name: 'mine', shared: false, manageable: true });
    expect(listed.text.includes(sharedKey) || listed.text.includes(membersKey)).toBe(false);
    expect((await call(tokens.member, 'PATCH', `/api/credentials/${shared}`, { name: 'taken' })).status).toBe(
      403,
    );
    expect((await call(tokens.member, 'GET', `/api/credentials/${shared}/grants`)).status).toBe(403);

    // The upgrade made one grant to everyone, without limits, recorded as made by the credential's creator.
    const grants = await call(tokens.admin, 'GET', `/api/credentials/${shared}/grants`);
    expect(grants.status).toBe(200);
    expect(grants.body.grants).toHaveLength(1);
    expect(grants.body.grants[0]).toMatchObject({
      subject: { type: 'everyone' },
      models: null,
      limits: {},
      expiresAt: null,
    });
    const row = await sql<{ created_by: string }>`SELECT created_by FROM credential_grants
      WHERE credential_id = ${shared}`.execute(database.db);
    expect(row.rows).toEqual([{ created_by: adminId }]);
    // Nothing was granted on the member's own key.
    const ownGrants = await call(tokens.member, 'GET', `/api/credentials/${own}/grants`);
    expect([ownGrants.status, ownGrants.body.grants]).toEqual([200, []]);

    // An admin still manages it: sees it as manageable, renames it, narrows who may use it.
    const adminsView = await call(tokens.admin, 'GET', `/api/credentials/${shared}`);
    expect(adminsView.body).toMatchObject({ shared: true, manageable: true });
    const renamed = await call(tokens.admin, 'PATCH', `/api/credentials/${shared}`, { name: 'company-2' });
    expect([renamed.status, renamed.body.name]).toEqual([200, 'company-2']);
    const narrowed = await call(
      tokens.admin,
      'PATCH',
      `/api/credentials/${shared}/grants/${grants.body.grants[0].id}`,
      { models: ['gpt-4o'] },
    );
    expect(narrowed.status, narrowed.text).toBe(200);
    const outside = await client(tokens.member)
      .chat.completions.create({
        model: 'company-2/gpt-4o-mini',
        messages: [{ role: 'user', content: 'Hi' }],
      })
      .catch((error: unknown) => error);
    expect(outside).toBeInstanceOf(OpenAI.NotFoundError);
    await client(tokens.member).chat.completions.create({
      model: 'company-2/gpt-4o',
      messages: [{ role: 'user', content: 'Hi' }],
    });
    expect(logLines.join('\n').includes(sharedKey)).toBe(false);
  });
});
