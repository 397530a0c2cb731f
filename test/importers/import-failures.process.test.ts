import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fakeKey } from '../support/gateway-harness.ts';
import { KeywayProcess, runKeyway } from '../support/keyway-process.ts';
import { createTestDatabase, type TestDatabaseTarget } from '../support/test-database.ts';
import {
  chatbotUiFixture,
  mysqlFixture,
  mysqlServerUrl,
  postgresFixture,
  type SourceFixture,
} from './source-fixtures.ts';

/** A Node stack frame, as an uncaught error prints it. */
const STACK_FRAME = /^\s+at .+:\d+:\d+\)?$/m;

/** Polls (no fixed sleep) until `find` returns something, or fails after `timeoutMs`. */
async function waitFor<T>(what: string, find: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await find();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function onPostgres<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

describe('keyway import: when the source fails or hides rows', () => {
  let target: TestDatabaseTarget;
  const fixtures: SourceFixture[] = [];
  const running: KeywayProcess[] = [];

  beforeEach(async () => {
    target = await createTestDatabase('postgres');
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((child) => child.stop()));
    // Last made, first dropped: a role goes before the database it holds grants in.
    for (const fixture of fixtures.splice(0).reverse()) await fixture.dispose();
    await target.dispose();
  });

  it('an unreachable source: a clear error naming it (without its password), exit 50, no stack trace, nothing created', async () => {
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'keyway-import-'));
    try {
      const dataDir = path.join(scratch, 'data');
      for (const from of [
        'postgres://reader:Sekr3tPassw0rd@127.0.0.1:1/evolution',
        'mysql://root:Sekr3tPassw0rd@127.0.0.1:1/evolution',
      ]) {
        const result = await runKeyway([
          'import',
          'evolution-api',
          '--from',
          from,
          '--data',
          dataDir,
          '--dry-run',
        ]);
        expect(result.code, result.stderr).toBe(50);
        expect(result.stderr).toContain('[source_unreachable] Could not connect to the source database');
        expect(result.stderr).toContain(`${from.split(':')[0]}://127.0.0.1:1/evolution`);
        expect(result.stderr).toMatch(/ECONNREFUSED/);
        expect(result.stderr).not.toContain('Sekr3tPassw0rd');
        expect(result.stderr).not.toMatch(STACK_FRAME);
      }
      expect(fs.readdirSync(scratch)).toEqual([]);
    } finally {
      fs.rmSync(scratch, { recursive: true, force: true });
    }
  });

  it('PostgreSQL: the connection killed mid-read is a clear error and exit 50, not a crash', async () => {
    // `profiles` is a view that takes its time, so the import is caught in the middle of reading it.
    const source = await postgresFixture(
      'cbui_slow',
      `CREATE TABLE profiles_data (user_id uuid NOT NULL, username text NOT NULL, openai_api_key text);
       INSERT INTO profiles_data VALUES (gen_random_uuid(), 'alice', '${fakeKey('sk-')}');
       CREATE VIEW profiles AS SELECT d.* FROM profiles_data d, pg_sleep(120) AS s;`,
    );
    fixtures.push(source);
    const database = new URL(source.url).pathname.slice(1);
    const from = new URL(source.url);
    from.password = 'Sekr3tPassw0rd'; // trust authentication ignores it; it must never be printed
    const child = new KeywayProcess(
      ['import', 'chatbot-ui', '--from', from.toString(), ...target.flags],
      target.env,
    );
    running.push(child);
    const pid = await waitFor('the import to read profiles', () =>
      onPostgres(source.url, async (client) => {
        const { rows } = await client.query<{ pid: number }>(
          `SELECT pid FROM pg_stat_activity
            WHERE datname = $1 AND application_name = 'keyway import' AND state = 'active' AND query LIKE '%FROM "profiles"%'`,
          [database],
        );
        return rows[0]?.pid;
      }),
    );
    await onPostgres(source.url, (client) => client.query('SELECT pg_terminate_backend($1)', [pid]));
    const { code } = await child.exited;
    expect(code, child.stderr).toBe(50);
    expect(child.stderr).toContain(
      `[source_unreachable] Lost the connection to the source database postgres://${from.host}/${database} while reading it`,
    );
    expect(child.stderr).not.toContain('Sekr3tPassw0rd');
    expect(child.stderr).not.toMatch(STACK_FRAME);
  });

  it('PostgreSQL: the connection killed while it waits (server restart) does not crash the process: exit 50', async () => {
    const source = await chatbotUiFixture({ profiles: [{ username: 'alice' }] });
    fixtures.push(source);
    const database = new URL(source.url).pathname.slice(1);
    // The source is opened first, then Keyway's database is migrated: the source connection waits.
    const child = new KeywayProcess(
      ['import', 'chatbot-ui', '--from', source.url, ...target.flags],
      target.env,
    );
    running.push(child);
    const pid = await waitFor('the import to connect to the source', () =>
      onPostgres(source.url, async (client) => {
        const { rows } = await client.query<{ pid: number }>(
          `SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = 'keyway import' AND state = 'idle' AND query = ''`,
          [database],
        );
        return rows[0]?.pid;
      }),
    );
    await onPostgres(source.url, (client) => client.query('SELECT pg_terminate_backend($1)', [pid]));
    const { code } = await child.exited;
    expect(child.stderr).not.toMatch(STACK_FRAME);
    expect(code, child.stderr).toBe(50);
    expect(child.stderr).toContain('[source_unreachable] Lost the connection to the source database');
  });

  it('MariaDB: the connection killed mid-read is a clear error and exit 50, not a crash', async () => {
    const source = await mysqlFixture('evo_slow', [
      'CREATE TABLE InstanceData (id VARCHAR(191) NOT NULL, name VARCHAR(255) NOT NULL, token VARCHAR(255) NULL)',
      "INSERT INTO InstanceData VALUES ('c1', 'desk', 'T0KEN')",
      'CREATE VIEW Instance AS SELECT id, name, token FROM InstanceData WHERE SLEEP(120) = 0',
    ]);
    fixtures.push(source);
    const database = new URL(source.url).pathname.slice(1);
    const child = new KeywayProcess(
      [
        'import',
        'evolution-api',
        '--from',
        source.url,
        '--server-url',
        'http://127.0.0.1:9',
        ...target.flags,
      ],
      target.env,
    );
    running.push(child);
    const server = new URL(mysqlServerUrl());
    const admin = await mysql.createConnection({
      host: server.hostname,
      port: Number(server.port || 3306),
      user: decodeURIComponent(server.username) || 'root',
      password: decodeURIComponent(server.password),
    });
    try {
      const id = await waitFor('the import to read Instance', async () => {
        const [rows] = await admin.query(
          "SELECT ID AS id FROM information_schema.PROCESSLIST WHERE DB = ? AND INFO LIKE 'SELECT %FROM `Instance`%'",
          [database],
        );
        return (rows as { id: number }[])[0]?.id;
      });
      await admin.query(`KILL CONNECTION ${Number(id)}`);
    } finally {
      await admin.end();
    }
    const { code } = await child.exited;
    expect(code, child.stderr).toBe(50);
    expect(child.stderr).toContain(
      `[source_unreachable] Lost the connection to the source database mysql://${server.host}/${database} while reading it`,
    );
    expect(child.stderr).not.toMatch(STACK_FRAME);
  });

  it('rows hidden by row-level security (a SELECT-only Supabase role): says so and how to connect, exit 51, imports nothing', async () => {
    const source = await chatbotUiFixture({
      profiles: [
        { username: 'alice', values: { openai_api_key: fakeKey('sk-') } },
        { username: 'bob', values: { groq_api_key: fakeKey('gsk_') } },
      ],
    });
    fixtures.push(source);
    // As Supabase sets it up: RLS on, a policy only for signed-in users, and a role that may SELECT.
    const role = `reader_${randomBytes(4).toString('hex')}`;
    await onPostgres(source.url, async (client) => {
      await client.query(`CREATE ROLE ${role} LOGIN`);
      await client.query(`GRANT SELECT ON profiles, models TO ${role}`);
      await client.query('ALTER TABLE profiles ENABLE ROW LEVEL SECURITY');
      await client.query('ALTER TABLE models ENABLE ROW LEVEL SECURITY');
      await client.query(
        `CREATE POLICY own_profile ON profiles FOR SELECT USING (user_id::text = current_setting('request.jwt.claim.sub', true))`,
      );
      await client.query('ANALYZE profiles');
    });
    fixtures.push({
      url: source.url,
      dispose: () =>
        onPostgres(source.url, async (client) => {
          await client.query(`DROP OWNED BY ${role}`);
          await client.query(`DROP ROLE ${role}`);
        }),
    });
    const from = new URL(source.url);
    from.username = role;
    const result = await runKeyway(
      ['import', 'chatbot-ui', '--from', from.toString(), ...target.flags],
      target.env,
    );
    expect(result.code, result.stdout + result.stderr).toBe(51);
    expect(result.stderr).toContain(
      `[source_rows_hidden] Row-level security hides rows of "profiles" from role ${role} on postgres://${from.host}${from.pathname}: 0 row(s) are visible to it, of about 2 in the table. Nothing was imported.`,
    );
    expect(result.stderr).toContain(
      "fix: Connect --from as the table's owner (postgres; on Supabase, the postgres role) or as a role with BYPASSRLS.",
    );
    expect(result.stdout).toBe('');

    // As the owner, the same database imports.
    const owner = await runKeyway(
      ['import', 'chatbot-ui', '--from', source.url, ...target.flags],
      target.env,
    );
    expect(owner.code, owner.stderr).toBe(0);
    expect(owner.stdout).toContain('Created 2 user(s), 2 credential(s), 0 bot(s)');
  });
});
