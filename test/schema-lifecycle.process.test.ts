import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BUNDLED_MIGRATIONS_DIR, loadMigrationFiles } from '../src/db/schema/migration-files.ts';
import { ProcessPool, runKeyway } from './support/keyway-process.ts';
import {
  BACKENDS,
  createTestDatabase,
  openTestDatabase,
  type TestDatabaseTarget,
} from './support/test-database.ts';

const migrationNames = loadMigrationFiles().map((migration) => migration.name);

/** Runs SQL against the test database from this process (and lets go of it again). */
async function withSql(target: TestDatabaseTarget, statements: string[]): Promise<void> {
  const database = await openTestDatabase(target);
  try {
    for (const statement of statements) await sql.raw(statement).execute(database.db);
  } finally {
    await database.close();
  }
}

async function historyOf(target: TestDatabaseTarget): Promise<{ name: string; finished: boolean }[]> {
  const database = await openTestDatabase(target);
  try {
    const result = await sql<{
      name: string;
      finished: boolean;
    }>`SELECT name, finished_at IS NOT NULL AS finished FROM keyway_schema_history ORDER BY name`.execute(
      database.db,
    );
    return result.rows;
  } finally {
    await database.close();
  }
}

describe.each(BACKENDS)('keyway serve and the schema lifecycle [%s]', (backend) => {
  const pool = new ProcessPool();
  let target: TestDatabaseTarget;

  beforeEach(async () => {
    target = await createTestDatabase(backend);
  });

  afterEach(async () => {
    await pool.stopAll();
    await target.dispose();
  });

  it('migrates a fresh database and becomes ready; a restart applies nothing and is ready sooner', async () => {
    // Embedded: a data directory that does not exist yet, so this start also creates the database.
    const flags =
      backend === 'embedded' ? ['--data', path.join(target.flags[1]!, 'brand-new')] : target.flags;
    const first = pool.serve(flags, target.env);
    const url = await first.ready();
    expect(await (await fetch(`${url}/readyz`)).json()).toEqual({ status: 'ready' });
    expect(
      first.logs().find((line) => line.msg === `applied ${migrationNames.length} migration(s)`)?.applied,
    ).toEqual(migrationNames);
    const firstMs = Number((await first.waitForLog(/^ready on/)).ms);
    first.kill('SIGTERM');
    expect((await first.exited).code).toBe(0);

    const second = pool.serve(flags, target.env);
    await second.ready();
    const secondMs = Number((await second.waitForLog(/^ready on/)).ms);
    expect(second.logs().some((line) => String(line.msg).startsWith('applying migration'))).toBe(false);
    expect(second.logs().find((line) => line.msg === 'schema is up to date')?.applied).toEqual([]);
    console.log(`[${backend}] start to ready: fresh ${firstMs} ms, restart ${secondMs} ms`);
    expect(secondMs).toBeLessThan(firstMs);
  });

  it('refuses to start with --migrate check on an empty database, listing the pending migrations and the fix', async () => {
    const result = await runKeyway(
      ['serve', '--port', '0', '--migrate', 'check', ...target.flags],
      target.env,
    );
    expect(result.code).toBe(20);
    expect(result.stderr).toContain('[schema_behind]');
    for (const name of migrationNames) expect(result.stderr).toContain(name);
    expect(result.stderr).toContain('keyway migrate up');
    expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('refuses an edited history row (checksum_mismatch, exit 22) and a newer database (schema_ahead, exit 21)', async () => {
    expect((await runKeyway(['migrate', 'up', ...target.flags], target.env)).code).toBe(0);
    await withSql(target, [
      `UPDATE keyway_schema_history SET checksum = 'tampered' WHERE name = '${migrationNames[0]}'`,
    ]);
    const tampered = await runKeyway(['serve', '--port', '0', ...target.flags], target.env);
    expect(tampered.code).toBe(22);
    expect(tampered.stderr).toContain('[checksum_mismatch]');
    expect(tampered.stderr).toContain(migrationNames[0]);

    await withSql(target, [
      `UPDATE keyway_schema_history SET checksum = '${loadMigrationFiles()[0]!.checksum}' WHERE name = '${migrationNames[0]}'`,
      `INSERT INTO keyway_schema_history (name, checksum, app_version, started_at, finished_at) VALUES ('0999_future', 'x', '7.0.0', now(), now())`,
    ]);
    const ahead = await runKeyway(['serve', '--port', '0', ...target.flags], target.env);
    expect(ahead.code).toBe(21);
    expect(ahead.stderr).toContain('[schema_ahead]');
    expect(ahead.stderr).toContain('migrated by a newer Keyway (migration 0999_future');
  });

  it('refuses a dropped column by name; tolerates a hand-added UNIQUE index with a warning that doctor --strict makes fatal', async () => {
    expect((await runKeyway(['migrate', 'up', ...target.flags], target.env)).code).toBe(0);
    await withSql(target, ['CREATE UNIQUE INDEX settings_value_key ON settings ((value::text))']);

    const warned = pool.serve(target.flags, target.env);
    await warned.ready();
    const warning = warned.logs().find((line) => line.code === 'unexpected_index');
    expect(warning?.level).toBe('warn');
    expect(String(warning?.msg)).toContain('unique index settings_value_key on settings');
    warned.kill('SIGTERM');
    await warned.exited;

    const lenient = await runKeyway(['doctor', ...target.flags], target.env);
    expect(lenient.code).toBe(0);
    expect(lenient.stdout).toContain('⚠ [unexpected_index]');
    const strict = await runKeyway(['doctor', '--strict', '--json', ...target.flags], target.env);
    expect(strict.code).toBe(30);
    const report = JSON.parse(strict.stdout);
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual([
      expect.objectContaining({
        code: 'unexpected_index',
        severity: 'error',
        fix: 'If nothing needs it: DROP INDEX settings_value_key;',
      }),
    ]);

    await withSql(target, ['ALTER TABLE audit_log DROP COLUMN target_type CASCADE']);
    const refused = await runKeyway(['serve', '--port', '0', ...target.flags], target.env);
    expect(refused.code).toBe(30);
    expect(refused.stderr).toContain('column audit_log.target_type is missing');
    expect(refused.stderr).toContain('fix: ALTER TABLE audit_log ADD COLUMN target_type text');
  });

  it('recovers from a migration process killed mid-migration: nothing half-applied, the next start finishes', async () => {
    // The shipped migrations plus a slow one, so there is time to kill the process inside it.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keyway-slow-migrations-'));
    fs.cpSync(BUNDLED_MIGRATIONS_DIR, dir, { recursive: true });
    fs.writeFileSync(
      path.join(dir, '9000_slow.sql'),
      'CREATE TABLE slow_marker (id int);\nINSERT INTO slow_marker VALUES (1);\nSELECT pg_sleep(3);\n',
    );
    const env = { ...target.env, KEYWAY_MIGRATIONS_DIR: dir };
    try {
      const doomed = pool.serve(target.flags, env);
      await doomed.waitForLog(/^applying migration 9000_slow/);
      await new Promise((resolve) => setTimeout(resolve, 500));
      doomed.kill('SIGKILL');
      await doomed.exited;

      // A PostgreSQL backend may still be finishing its statement: the next start waits for the lock.
      const next = pool.serve(target.flags, env);
      await next.ready();
      expect(
        next.logs().find((line) => String(line.msg).startsWith('applied') && Array.isArray(line.applied))
          ?.applied,
      ).toEqual(['9000_slow']);
      next.kill('SIGTERM');
      await next.exited;
      expect(await historyOf(target)).toEqual(
        [...migrationNames, '9000_slow'].map((name) => ({ name, finished: true })),
      );
      // The killed attempt left nothing behind: exactly one row from the one attempt that committed.
      const database = await openTestDatabase(target);
      const rows = await sql<{ n: number }>`SELECT count(*)::int AS n FROM slow_marker`.execute(database.db);
      await database.close();
      expect(rows.rows[0]!.n).toBe(1);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stops gracefully on SIGTERM: not ready, exit 0, database closed', async () => {
    const server = pool.serve(target.flags, target.env);
    const url = await server.ready();
    server.kill('SIGTERM');
    expect((await server.exited).code).toBe(0);
    expect(server.logs().map((line) => line.msg)).toEqual(
      expect.arrayContaining(['shutting down: finishing in-flight requests', 'stopped']),
    );
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
    // The database is usable by the next process at once (embedded: the lock was released), and a
    // command exits as soon as it is done (a pool left open once kept it alive for 10 s).
    const started = Date.now();
    expect((await runKeyway(['doctor', ...target.flags], target.env)).code).toBe(0);
    expect(Date.now() - started).toBeLessThan(8_000);
  });
});

describe('the embedded data directory is never opened twice [embedded]', () => {
  const pool = new ProcessPool();
  let target: TestDatabaseTarget;

  beforeEach(async () => {
    target = await createTestDatabase('embedded');
  });

  afterEach(async () => {
    await pool.stopAll();
    await target.dispose();
  });

  it('refuses a second process at once, naming the holder pid; clears the lock once the holder is dead', async () => {
    const holder = pool.serve(target.flags, target.env);
    await holder.ready();

    for (const args of [['serve', '--port', '0'], ['migrate', 'status'], ['doctor']]) {
      const started = Date.now();
      const second = await runKeyway([...args, ...target.flags], target.env);
      expect(second.code, args.join(' ')).toBe(11);
      expect(second.stderr).toContain('[data_dir_locked]');
      expect(second.stderr).toContain(`pid ${holder.pid}`);
      expect(second.stderr).toContain(`kill ${holder.pid}`);
      expect(Date.now() - started).toBeLessThan(10_000);
    }

    holder.kill('SIGKILL');
    await holder.exited;
    const next = pool.serve(target.flags, target.env);
    await next.ready();
    expect(
      next.logs().find((line) => line.level === 'warn' && String(line.msg).includes(`pid ${holder.pid}`))
        ?.msg,
    ).toContain('no longer running');
  });
});

describe('many nodes on one PostgreSQL database [postgres]', () => {
  const pool = new ProcessPool();
  let target: TestDatabaseTarget;

  beforeEach(async () => {
    target = await createTestDatabase('postgres');
  });

  afterEach(async () => {
    await pool.stopAll();
    await target.dispose();
  });

  it('four `keyway migrate up` at once all succeed and record each migration once; four servers then all become ready', async () => {
    const results = await Promise.all(
      [1, 2, 3, 4].map(() => runKeyway(['migrate', 'up', ...target.flags], target.env)),
    );
    for (const result of results) expect(result.code, result.stderr).toBe(0);
    const appliedBy = results.map((result) => (result.stdout.startsWith('Applied') ? result.stdout : ''));
    expect(appliedBy.filter(Boolean)).toHaveLength(1);
    expect(await historyOf(target)).toEqual(migrationNames.map((name) => ({ name, finished: true })));

    const servers = [1, 2, 3, 4].map(() => pool.serve(target.flags, target.env));
    const urls = await Promise.all(servers.map((server) => server.ready()));
    for (const url of urls) expect((await fetch(`${url}/readyz`)).status).toBe(200);
  });

  it('four servers started at once on an empty database take turns: one migrates, all become ready', async () => {
    const servers = [1, 2, 3, 4].map(() => pool.serve(target.flags, target.env));
    await Promise.all(servers.map((server) => server.ready()));
    const appliedCounts = servers.map(
      (server) => server.logs().filter((line) => String(line.msg).startsWith('applying migration')).length,
    );
    expect(appliedCounts.reduce((a, b) => a + b, 0)).toBe(migrationNames.length);
    expect(await historyOf(target)).toEqual(migrationNames.map((name) => ({ name, finished: true })));
  });

  it('exits 10 with the reason when the server cannot be reached, in text and JSON', async () => {
    const url = 'postgres://postgres:secret-password@127.0.0.1:1/nowhere';
    const text = await runKeyway(['doctor', '--database-url', url]);
    expect(text.code).toBe(10);
    expect(text.stderr).toContain('[database_unreachable]');
    expect(text.stderr).not.toContain('secret-password');
    const json = await runKeyway(['doctor', '--json', '--database-url', url]);
    expect(json.code).toBe(10);
    expect(JSON.parse(json.stdout)).toMatchObject({
      ok: false,
      problems: [{ code: 'database_unreachable' }],
    });
    expect(json.stdout).not.toContain('secret-password');
  });
});
