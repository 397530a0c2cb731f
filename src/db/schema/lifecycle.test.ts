import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import type { Database } from '../database.ts';
import {
  BACKENDS,
  createTestDatabase,
  openTestDatabase,
  testSchemaContext,
  type TestDatabaseTarget,
} from '../../../test/support/test-database.ts';
import { diagnoseSchema, prepareSchema } from './lifecycle.ts';
import { loadMigrationFiles, checksumOf, type MigrationFile } from './migration-files.ts';
import { migrateUp, readSchemaStatus, resolveMigration } from './migrator.ts';
import { SchemaCheckFailed } from './problems.ts';

const bundled = loadMigrationFiles();
const names = bundled.map((migration) => migration.name);

function fakeMigration(name: string, body: string): MigrationFile {
  return {
    name,
    sql: body,
    checksum: checksumOf(body),
    transactional: !body.startsWith('-- keyway:no-transaction'),
  };
}

async function failure(promise: Promise<unknown>): Promise<SchemaCheckFailed> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(SchemaCheckFailed);
  return error as SchemaCheckFailed;
}

describe.each(BACKENDS)('schema lifecycle [%s]', (backend) => {
  let target: TestDatabaseTarget;
  let database: Database;

  beforeEach(async () => {
    target = await createTestDatabase(backend);
    database = await openTestDatabase(target);
  });

  afterEach(async () => {
    await database.close();
    await target.dispose();
  });

  it('migrates a fresh database, records each migration once with its checksum and app version, and then has nothing to do', async () => {
    const ctx = testSchemaContext(database);
    const first = await prepareSchema(ctx, 'auto');
    expect(first.applied).toEqual(names);
    expect(first.warnings).toEqual([]);

    const status = await readSchemaStatus(ctx);
    expect(status.pending).toEqual([]);
    expect(status.applied.map((row) => [row.name, row.checksum, row.appVersion])).toEqual(
      bundled.map((migration) => [migration.name, migration.checksum, '0.0.0-test']),
    );
    for (const row of status.applied) expect(row.finishedAt).toBeInstanceOf(Date);

    const second = await prepareSchema(ctx, 'auto');
    expect(second.applied).toEqual([]);
  });

  it('refuses to start in check mode while migrations are pending, naming them and the command that applies them', async () => {
    const error = await failure(prepareSchema(testSchemaContext(database), 'check'));
    expect(error.code).toBe('schema_behind');
    for (const name of names) expect(error.message).toContain(name);
    expect(error.fix).toContain('keyway migrate up');
    // Nothing was created: check mode only reads.
    const tables = await sql<{
      n: number;
    }>`SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = current_schema()`.execute(database.db);
    expect(tables.rows[0]!.n).toBe(0);
  });

  it('refuses a database whose history records an edited migration (checksum mismatch)', async () => {
    const ctx = testSchemaContext(database);
    await prepareSchema(ctx, 'auto');
    await sql`UPDATE keyway_schema_history SET checksum = 'deadbeef' WHERE name = ${names[0]}`.execute(
      database.db,
    );
    const error = await failure(prepareSchema(ctx, 'auto'));
    expect(error.code).toBe('checksum_mismatch');
    expect(error.message).toContain(names[0]);
    expect(error.message).toContain('deadbeef');
    expect(error.message).toContain(bundled[0]!.checksum);
    // migrate up refuses too: it never builds on a tampered history.
    await expect(migrateUp(ctx)).rejects.toMatchObject({ code: 'checksum_mismatch' });
  });

  it('refuses a database migrated by a newer Keyway', async () => {
    const ctx = testSchemaContext(database);
    await prepareSchema(ctx, 'auto');
    await sql`INSERT INTO keyway_schema_history (name, checksum, app_version, started_at, finished_at)
              VALUES ('9999_from_the_future', 'abc', '9.0.0', now(), now())`.execute(database.db);
    const error = await failure(prepareSchema(ctx, 'auto'));
    expect(error.code).toBe('schema_ahead');
    expect(error.message).toContain('9999_from_the_future');
    expect(error.fix).toContain('9.0.0');
  });

  it('refuses an unfinished migration until an operator resolves it', async () => {
    const ctx = testSchemaContext(database);
    await prepareSchema(ctx, 'auto');
    const last = names.at(-1)!;
    await sql`UPDATE keyway_schema_history SET finished_at = NULL WHERE name = ${last}`.execute(database.db);
    const error = await failure(prepareSchema(ctx, 'auto'));
    expect(error.code).toBe('migration_unfinished');
    expect(error.fix).toContain(`keyway migrate resolve ${last} --applied`);

    await resolveMigration(ctx, last, 'applied');
    expect((await prepareSchema(ctx, 'auto')).applied).toEqual([]);
    await expect(resolveMigration(ctx, last, 'applied')).rejects.toMatchObject({
      code: 'migration_not_unfinished',
    });
  });

  it('names a dropped column as fatal drift and a hand-added UNIQUE index as a warning that --strict makes fatal', async () => {
    const ctx = testSchemaContext(database);
    await prepareSchema(ctx, 'auto');

    await sql`CREATE UNIQUE INDEX "OpenaiCreds_apiKey_key" ON audit_log (actor)`.execute(database.db);
    const tolerated = await prepareSchema(ctx, 'auto');
    expect(tolerated.warnings).toHaveLength(1);
    expect(tolerated.warnings[0]).toMatchObject({ code: 'unexpected_index', severity: 'warning' });
    expect(tolerated.warnings[0]!.message).toContain(
      'unique index OpenaiCreds_apiKey_key on audit_log (actor)',
    );
    expect(tolerated.warnings[0]!.fix).toBe('If nothing needs it: DROP INDEX "OpenaiCreds_apiKey_key";');
    expect((await diagnoseSchema(ctx, { strict: false })).ok).toBe(true);
    const strict = await diagnoseSchema(ctx, { strict: true });
    expect(strict.ok).toBe(false);
    expect(strict.problems.map((problem) => [problem.code, problem.severity])).toEqual([
      ['unexpected_index', 'error'],
    ]);

    await sql`ALTER TABLE audit_log DROP COLUMN target_id`.execute(database.db);
    const error = await failure(prepareSchema(ctx, 'auto'));
    expect(error.code).toBe('column_missing');
    expect(error.message).toContain('column audit_log.target_id is missing');
    expect(error.fix).toContain('ALTER TABLE audit_log ADD COLUMN target_id text');
  });

  it('upgrades a database created by an earlier release without losing its data', async () => {
    const [first, ...rest] = bundled;
    const older = testSchemaContext(database, [first!]);
    await migrateUp(older);
    await sql`INSERT INTO settings (key, value) VALUES ('installation', ${JSON.stringify({ id: 'abc-123', since: 2025 })}::jsonb)`.execute(
      database.db,
    );

    const ctx = testSchemaContext(database);
    const upgrade = await prepareSchema(ctx, 'auto');
    expect(upgrade.applied).toEqual(rest.map((migration) => migration.name));
    const rows = await database.db.selectFrom('settings').select(['key', 'value']).execute();
    expect(rows).toEqual([{ key: 'installation', value: { id: 'abc-123', since: 2025 } }]);
  });

  it('rolls a failing migration back whole and records nothing of it', async () => {
    const broken = fakeMigration(
      '9000_broken',
      'CREATE TABLE half_done (id int);\nSELECT no_such_function();',
    );
    const ctx = testSchemaContext(database, [...bundled, broken]);
    await expect(migrateUp(ctx)).rejects.toMatchObject({ code: 'migration_failed' });
    const status = await readSchemaStatus(ctx);
    expect(status.applied.map((row) => row.name)).toEqual(names);
    expect(status.pending.map((migration) => migration.name)).toEqual(['9000_broken']);
    const exists = await sql<{ t: string | null }>`SELECT to_regclass('half_done')::text AS t`.execute(
      database.db,
    );
    expect(exists.rows[0]!.t).toBeNull();
  });

  it('runs a no-transaction migration and leaves it unfinished when it fails half-way', async () => {
    const concurrently = fakeMigration(
      '9001_index',
      '-- keyway:no-transaction\nCREATE INDEX audit_log_action_idx ON audit_log (action);',
    );
    const failing = fakeMigration(
      '9002_fails',
      '-- keyway:no-transaction\nCREATE INDEX broken_idx ON no_such_table (x);',
    );
    const ctx = testSchemaContext(database, [...bundled, concurrently, failing]);
    await expect(migrateUp(ctx)).rejects.toMatchObject({ code: 'migration_failed' });
    const status = await readSchemaStatus(ctx);
    const byName = new Map(status.applied.map((row) => [row.name, row]));
    expect(byName.get('9001_index')?.finishedAt).toBeInstanceOf(Date);
    expect(byName.get('9002_fails')?.finishedAt).toBeNull();
    expect(status.problems.map((problem) => problem.code)).toEqual(['migration_unfinished']);

    await resolveMigration(ctx, '9002_fails', 'rolled-back');
    expect((await readSchemaStatus(ctx)).pending.map((migration) => migration.name)).toEqual(['9002_fails']);
  });
});
