import { openMemoryDatabase } from '../database.ts';
import { readSchemaShape } from './catalog.ts';
import type { ExpectedSchema } from './drift.ts';
import { createHistoryTable } from './history.ts';
import { applyMigration } from './migrator.ts';
import type { MigrationFile } from './migration-files.ts';
import pino from 'pino';

/**
 * Applies the migrations one at a time to a fresh in-memory database and records the shape they
 * produce, noting which migration created each table (drift messages name it).
 */
export async function buildExpectedSchema(migrations: MigrationFile[]): Promise<ExpectedSchema> {
  const database = await openMemoryDatabase();
  const logger = pino({ level: 'silent' });
  try {
    return await database.withSession(async (session) => {
      await createHistoryTable(session);
      const tables: ExpectedSchema['tables'] = {};
      for (const migration of migrations) {
        await applyMigration(session, migration, { appVersion: 'snapshot', logger });
        const shape = await readSchemaShape(session);
        for (const [name, table] of Object.entries(shape.tables)) {
          tables[name] = { createdBy: tables[name]?.createdBy ?? migration.name, ...table };
        }
        for (const name of Object.keys(tables)) if (!shape.tables[name]) delete tables[name];
      }
      return { migrations: migrations.map((migration) => migration.name), tables };
    });
  } finally {
    await database.close();
  }
}
