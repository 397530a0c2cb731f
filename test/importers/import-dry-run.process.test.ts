import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fakeKey } from '../support/gateway-harness.ts';
import { runKeyway } from '../support/keyway-process.ts';
import { createTestDatabase, type TestDatabaseTarget } from '../support/test-database.ts';
import { chatbotUiFixture, type SourceFixture } from './source-fixtures.ts';

/** Every file and directory under `dir`, relative, sorted. */
function listTree(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true }) as string[]).map((entry) => entry.toString()).sort();
}

describe('keyway import --dry-run writes nothing (embedded)', () => {
  let source: SourceFixture;
  let scratch: string;
  let target: TestDatabaseTarget | undefined;

  beforeEach(async () => {
    source = await chatbotUiFixture({
      profiles: [
        { username: 'alice', values: { openai_api_key: fakeKey('sk-') } },
        { username: 'bob', values: { groq_api_key: fakeKey('gsk_') } },
      ],
    });
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'keyway-dry-'));
  });
  afterEach(async () => {
    await source.dispose();
    await target?.dispose();
    fs.rmSync(scratch, { recursive: true, force: true });
  });

  const planned = 'Dry run, nothing was written: would create 2 user(s), 2 credential(s), 0 bot(s)';

  it('into a data directory that does not exist: plans, and creates no directory, database or master key', async () => {
    const dataDir = path.join(scratch, 'data');
    const dry = await runKeyway([
      'import',
      'chatbot-ui',
      '--from',
      source.url,
      '--data',
      dataDir,
      '--dry-run',
    ]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain(planned);
    expect(dry.stderr).toContain('it does not exist yet: planned against an empty one in memory');
    expect(dry.stderr).toContain(`A real import would generate a new master key in ${dataDir}/master.key`);
    expect(listTree(scratch)).toEqual([]);
  });

  it('into an existing database without a master key yet: no file, directory or row is added', async () => {
    target = await createTestDatabase('embedded');
    const dataDir = target.flags[1]!;
    const migrated = await runKeyway(['migrate', 'up', '--data', dataDir]);
    expect(migrated.code, migrated.stderr).toBe(0);
    const before = listTree(dataDir);
    expect(before).not.toContain('master.key');

    for (let run = 0; run < 2; run++) {
      const dry = await runKeyway([
        'import',
        'chatbot-ui',
        '--from',
        source.url,
        '--data',
        dataDir,
        '--dry-run',
      ]);
      expect(dry.code, dry.stderr).toBe(0);
      // The second run plans the same: the first left no user or credential behind.
      expect(dry.stdout).toContain(planned);
      expect(listTree(dataDir)).toEqual(before);
    }
  });
});

/**
 * What a write would leave in a PostgreSQL database, as text: its schemas, relations, types,
 * functions and extensions (by name) and every table's rows (a digest). Sequences are left out: the
 * dry run makes its plan in a transaction it rolls back, and `nextval` is not undone (an id or two
 * skipped, nothing stored).
 */
async function snapshotDatabase(url: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const notSystem = `NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND n.nspname NOT LIKE 'pg_temp%' AND n.nspname NOT LIKE 'pg_toast_temp%'`;
    const objects = await client.query<{ kind: string; name: string }>(`
      SELECT 'schema'::text AS kind, n.nspname::text AS name FROM pg_namespace n WHERE n.nspname ${notSystem}
      UNION ALL SELECT 'relation ' || c.relkind::text, n.nspname || '.' || c.relname
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname ${notSystem}
      UNION ALL SELECT 'type', n.nspname || '.' || t.typname
        FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname ${notSystem}
      UNION ALL SELECT 'function', n.nspname || '.' || p.proname
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname ${notSystem}
      UNION ALL SELECT 'extension', extname FROM pg_extension
      ORDER BY 1, 2`);
    const lines = objects.rows.map((row) => `${row.kind} ${row.name}`);
    const tables = await client.query<{ name: string }>(
      `SELECT format('%I.%I', schemaname, tablename) AS name FROM pg_tables
        WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`,
    );
    for (const { name } of tables.rows) {
      const digest = await client.query<{ rows: string; md5: string | null }>(
        `SELECT count(*)::text AS rows, md5(string_agg(t::text, ',' ORDER BY t::text)) AS md5 FROM ${name} t`,
      );
      lines.push(`rows ${name} ${digest.rows[0]!.rows} ${digest.rows[0]!.md5}`);
    }
    return lines;
  } finally {
    await client.end();
  }
}

describe('keyway import --dry-run writes nothing (PostgreSQL, DATABASE_URL)', () => {
  let source: SourceFixture;
  let target: TestDatabaseTarget;
  /** What a Keyway on this database gets: DATABASE_URL and the master key. */
  let env: Record<string, string>;
  let url: string;

  beforeEach(async () => {
    source = await chatbotUiFixture({
      profiles: [
        { username: 'alice', values: { openai_api_key: fakeKey('sk-') } },
        { username: 'bob', values: { groq_api_key: fakeKey('gsk_') } },
      ],
    });
    target = await createTestDatabase('postgres');
    url = target.flags[1]!;
    env = { ...target.env, DATABASE_URL: url };
  });
  afterEach(async () => {
    await source.dispose();
    await target.dispose();
  });

  const dryRun = () => runKeyway(['import', 'chatbot-ui', '--from', source.url, '--dry-run'], env);

  it('into an empty database: refuses, says to migrate, and creates no table, type or anything else', async () => {
    const before = await snapshotDatabase(url);
    expect(before).toEqual(['extension plpgsql', 'schema public']);
    const dry = await dryRun();
    // A dry run only checks the schema (it never migrates), and an empty database is behind.
    expect(dry.code).not.toBe(0);
    expect(dry.stderr).toMatch(/\[schema_behind\][\s\S]*keyway migrate up/);
    expect(dry.stdout).not.toContain('would create');
    expect(await snapshotDatabase(url)).toEqual(before);
  });

  it('into a migrated database with a user: adds or changes no row, and plans the same twice', async () => {
    const migrated = await runKeyway(['migrate', 'up'], env);
    expect(migrated.code, migrated.stderr).toBe(0);
    const user = await runKeyway(
      ['admin', 'create-user', '--username', 'root', '--admin', '--password-stdin'],
      env,
      'a long admin password\n',
    );
    expect(user.code, user.stderr).toBe(0);
    const before = await snapshotDatabase(url);
    expect(before.some((line) => line.startsWith('rows public.users 1 '))).toBe(true);

    for (let run = 0; run < 2; run++) {
      const dry = await dryRun();
      expect(dry.code, dry.stderr).toBe(0);
      expect(dry.stdout).toContain(
        'Dry run, nothing was written: would create 2 user(s), 2 credential(s), 0 bot(s)',
      );
      expect(await snapshotDatabase(url)).toEqual(before);
    }
    // The snapshot sees what an import writes: the same command without --dry-run changes it.
    const real = await runKeyway(['import', 'chatbot-ui', '--from', source.url], env);
    expect(real.code, real.stderr).toBe(0);
    const after = await snapshotDatabase(url);
    expect(after.find((line) => line.startsWith('rows public.users '))).toMatch(/^rows public\.users 3 /);
  });
});
