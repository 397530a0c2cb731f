import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Database } from '../database.ts';
import {
  BACKENDS,
  createTestDatabase,
  openTestDatabase,
  testSchemaContext,
  type TestDatabaseTarget,
} from '../../../test/support/test-database.ts';
import { prepareSchema } from './lifecycle.ts';
import type { SchemaContext } from './migrator.ts';
import { SchemaCheckFailed } from './problems.ts';
import { schemaFingerprint, type VerifiedSchema, type VerifiedSchemaStore } from './verified-schema.ts';

function memoryStore(): VerifiedSchemaStore & { record: VerifiedSchema | null } {
  const store = {
    record: null as VerifiedSchema | null,
    read: () => store.record,
    write: (verified: VerifiedSchema) => {
      store.record = verified;
    },
  };
  return store;
}

/** The database, counting the statements sent through its sessions (the schema checks use only those). */
function counting(database: Database): { database: Database; statements: () => number } {
  let count = 0;
  const wrapped: Database = Object.create(database);
  wrapped.withSession = (fn) =>
    database.withSession((session) =>
      fn({
        query: (text, params) => {
          count++;
          return session.query(text, params);
        },
        exec: (script) => {
          count++;
          return session.exec(script);
        },
      }),
    );
  return { database: wrapped, statements: () => count };
}

describe.each(BACKENDS)('a start skips the drift check while the catalog is unchanged [%s]', (backend) => {
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

  it('reuses a verification only for the same catalog: any change runs the full check, and drift is still refused', async () => {
    const store = memoryStore();
    const count = counting(database);
    const ctx: SchemaContext = { ...testSchemaContext(count.database), verified: store };
    await prepareSchema(ctx, 'auto');
    await sql`CREATE UNIQUE INDEX settings_value_key ON settings ((value::text))`.execute(database.db);

    const full = count.statements();
    const checked = await prepareSchema(ctx, 'auto');
    const fullCost = count.statements() - full;
    expect(checked.warnings.map((warning) => warning.code)).toEqual(['unexpected_index']);
    expect(store.record?.warnings).toEqual(checked.warnings);

    const quick = count.statements();
    const restarted = await prepareSchema(ctx, 'auto');
    // History (2 statements) and the fingerprint: none of the catalog reads of the drift check.
    expect(count.statements() - quick).toBe(3);
    expect(count.statements() - quick).toBeLessThan(fullCost);
    expect(restarted.warnings).toEqual(checked.warnings);

    await sql`ALTER TABLE audit_log DROP COLUMN target_id`.execute(database.db);
    const error = await prepareSchema(ctx, 'auto').then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(SchemaCheckFailed);
    expect((error as SchemaCheckFailed).message).toContain('column audit_log.target_id is missing');
  });

  it('a --migrate check start records nothing', async () => {
    const store = memoryStore();
    const ctx: SchemaContext = { ...testSchemaContext(database), verified: store };
    await prepareSchema({ ...ctx, verified: undefined }, 'auto');
    await prepareSchema(ctx, 'check');
    expect(store.record).toBeNull();
  });

  it('changes with every kind of change the drift check would see', async () => {
    await prepareSchema(testSchemaContext(database), 'auto');
    const expected = testSchemaContext(database).expected;
    const fingerprint = () => database.withSession((session) => schemaFingerprint(session, expected));
    let previous = await fingerprint();
    expect(await fingerprint()).toBe(previous);
    const changes = [
      "ALTER TABLE audit_log ALTER COLUMN target_id SET DEFAULT 'x'",
      'ALTER TABLE audit_log ALTER COLUMN target_id DROP DEFAULT',
      'ALTER TABLE audit_log ALTER COLUMN target_id SET NOT NULL',
      'ALTER TABLE audit_log ALTER COLUMN target_id TYPE varchar(200)',
      'ALTER TABLE audit_log RENAME COLUMN target_id TO target_ref',
      "ALTER TABLE audit_log ADD CONSTRAINT audit_log_ref_check CHECK (target_ref <> '')",
      'ALTER TABLE audit_log DROP CONSTRAINT audit_log_ref_check',
      'CREATE INDEX audit_log_ref ON audit_log (target_ref)',
      'ALTER INDEX audit_log_ref RENAME TO audit_log_ref_2',
      'DROP INDEX audit_log_ref_2',
      'CREATE TABLE scratch (id integer)',
      'ALTER TABLE scratch RENAME TO scratch_2',
    ];
    for (const change of changes) {
      await sql.raw(change).execute(database.db);
      const next = await fingerprint();
      expect(next, change).not.toBe(previous);
      previous = next;
    }
    const otherSnapshot = { ...expected, migrations: [...expected.migrations, '9999_next'] };
    const current = await fingerprint();
    expect(await database.withSession((session) => schemaFingerprint(session, otherSnapshot))).not.toBe(
      current,
    );
  });
});
