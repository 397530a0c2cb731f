import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { loadConfig, type Config } from '../../src/config/config.ts';
import type { Database } from '../../src/db/database.ts';
import { prepareSchema } from '../../src/db/schema/lifecycle.ts';
import { schemaContext } from '../../src/db/schema/schema-context.ts';
import { assembleKeyway, type Keyway } from '../../src/main.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { SecretRedactor } from '../../src/observability/secret-redactor.ts';
import type { ProviderRegistry } from '../../src/providers/registry.ts';
import {
  createTestDatabase,
  openTestDatabase,
  type Backend,
  type TestDatabaseTarget,
} from './test-database.ts';

/** A master key for tests, made at run time (never a constant that looks like a real key). */
export const testMasterKey = () => randomBytes(32).toString('base64');

export interface TestKeyway {
  keyway: Keyway;
  database: Database;
  target: TestDatabaseTarget;
  config: Readonly<Config>;
  /** Every log line written, for secret scans. */
  logLines: string[];
  /** Every SQL statement Kysely ran, in order (round-trip counting). */
  queries: string[];
  redactor: SecretRedactor;
  /** A JSON request to the in-process app; `token` as Bearer. */
  call(
    method: string,
    path: string,
    options?: { token?: string; body?: unknown; headers?: Record<string, string> },
  ): Promise<{ status: number; body: any; text: string; headers: Headers }>;
  /** Creates a user with an API token. */
  user(username: string, role?: 'admin' | 'member'): Promise<{ id: string; token: string }>;
  close(): Promise<void>;
}

/**
 * A whole Keyway (schema migrated, vault verified, ready) over a fresh database of the given kind,
 * served in-process through `app.request()`.
 */
export async function createTestKeyway(
  backend: Backend,
  options: {
    providers?: ProviderRegistry;
    env?: Record<string, string>;
    logLevel?: 'debug' | 'info';
    /**
     * Members' credentials may reach the fakes on loopback (default, so that tests of other features
     * can use members' credentials). `false`: production's rule, members reach public addresses only.
     */
    membersReachLoopback?: boolean;
  } = {},
): Promise<TestKeyway> {
  const target = await createTestDatabase(backend);
  const env = {
    KEYWAY_MASTER_KEY: testMasterKey(),
    KEYWAY_LOG_LEVEL: options.logLevel ?? 'debug',
    // The fake providers listen on loopback; on PostgreSQL an admin's loopback calls are off by default.
    KEYWAY_UPSTREAM_ALLOW_LOOPBACK: 'true',
    ...options.env,
  };
  const config = loadConfig(
    target.target.kind === 'postgres'
      ? { 'database-url': target.target.url }
      : { data: target.target.dataDir },
    env,
  );
  const queries: string[] = [];
  const database = await openTestDatabase(target, (sql) => void queries.push(sql));
  const logLines: string[] = [];
  const redactor = new SecretRedactor();
  const logger = createLogger({
    level: config.logLevel,
    redactor,
    destination: { write: (line: string) => void logLines.push(line) },
  });
  await prepareSchema(
    schemaContext(database, config, { logger: pino({ level: 'silent' }), version: 'test' }),
    'auto',
  );
  const keyway = await assembleKeyway(database, config, {
    logger,
    redactor,
    version: 'test',
    ...(options.providers ? { providers: options.providers } : {}),
    ...(options.membersReachLoopback === false
      ? {}
      : { membersUpstreamPolicy: { allowLoopback: true, allowPrivate: false } }),
  });
  await keyway.verifyVault();
  keyway.startBackground();
  keyway.readiness.markReady();

  const call: TestKeyway['call'] = async (method, path, { token, body, headers = {} } = {}) => {
    const response = await keyway.app.request(path, {
      method,
      headers: {
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...headers,
      },
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    let parsed: unknown = undefined;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status: response.status, body: parsed, text, headers: response.headers };
  };

  return {
    keyway,
    database,
    target,
    config,
    logLines,
    queries,
    redactor,
    call,
    async user(username, role = 'member') {
      const user = await keyway.services.users.createUnchecked(
        { username, password: 'correct horse battery', role },
        null,
      );
      const { token } = await keyway.services.tokens.createFor(user.id, { name: 'test' }, null);
      return { id: user.id, token };
    },
    async close() {
      await keyway.close();
      await database.close();
      await target.dispose();
    },
  };
}
