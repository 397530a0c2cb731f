import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { KeywayError } from '../../errors.ts';
import { BUNDLED_MIGRATIONS_DIR } from './migration-files.ts';
import type { ExpectedSchema } from './drift.ts';

/** The snapshot sits beside the migrations it was made from. */
export const EXPECTED_SCHEMA_FILE = 'expected-schema.json';

const columnShape = z.object({
  type: z.string(),
  nullable: z.boolean(),
  default: z.string().nullable(),
  identity: z.enum(['always', 'by default']).nullable(),
  generated: z.string().nullable(),
});
const indexShape = z.object({
  unique: z.boolean(),
  primary: z.boolean(),
  method: z.string(),
  columns: z.array(z.string()),
  where: z.string().nullable(),
  definition: z.string(),
});
const constraintShape = z.object({
  type: z.enum(['primary key', 'unique', 'foreign key', 'check', 'exclusion']),
  definition: z.string(),
});
const expectedSchema = z.object({
  migrations: z.array(z.string()),
  tables: z.record(
    z.string(),
    z.object({
      createdBy: z.string(),
      columns: z.record(z.string(), columnShape),
      indexes: z.record(z.string(), indexShape),
      constraints: z.record(z.string(), constraintShape),
    }),
  ),
});

export function expectedSchemaPath(migrationsDir: string = BUNDLED_MIGRATIONS_DIR): string {
  return path.join(migrationsDir, EXPECTED_SCHEMA_FILE);
}

export function loadExpectedSchema(migrationsDir: string = BUNDLED_MIGRATIONS_DIR): ExpectedSchema {
  return parseExpectedSchema(readExpectedSchemaText(migrationsDir), migrationsDir);
}

/** The snapshot file's text, unparsed: a start that reuses a verification needs only its hash. */
export function readExpectedSchemaText(migrationsDir: string = BUNDLED_MIGRATIONS_DIR): string {
  const file = expectedSchemaPath(migrationsDir);
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw unreadable(file, error);
  }
}

/** Validates the snapshot (the first parse costs zod ~0.1–0.3 s: done only when the drift check runs). */
export function parseExpectedSchema(
  text: string,
  migrationsDir: string = BUNDLED_MIGRATIONS_DIR,
): ExpectedSchema {
  try {
    return expectedSchema.parse(JSON.parse(text));
  } catch (error) {
    throw unreadable(expectedSchemaPath(migrationsDir), error);
  }
}

function unreadable(file: string, error: unknown): KeywayError {
  return new KeywayError('expected_schema_unreadable', `Cannot read the expected-schema snapshot ${file}.`, {
    fix: 'Reinstall Keyway; in a development checkout, run `npm run schema:snapshot`.',
    cause: error,
  });
}
