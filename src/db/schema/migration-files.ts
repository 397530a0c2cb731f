import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { KeywayError } from '../../errors.ts';

/** One migration as shipped with the app. */
export interface MigrationFile {
  /** The file name without `.sql`, e.g. `0002_audit_log`: the key in the history table. */
  name: string;
  sql: string;
  /** sha256 of the file with line endings normalised, so a Windows checkout hashes the same. */
  checksum: string;
  /** Set by a first line `-- keyway:no-transaction` (for `CREATE INDEX CONCURRENTLY` and the like). */
  transactional: boolean;
}

/** The migrations that ship inside the app. */
export const BUNDLED_MIGRATIONS_DIR = fileURLToPath(new URL('../migrations/', import.meta.url));

const NAME = /^\d{4}_[a-z0-9_]+$/;
const NO_TRANSACTION = /^--\s*keyway:no-transaction\b/;

/** Reads every `NNNN_name.sql` in the directory, in name order. */
export function loadMigrationFiles(dir: string = BUNDLED_MIGRATIONS_DIR): MigrationFile[] {
  let entries: string[];
  try {
    entries = fs.readdirSync(dir);
  } catch (error) {
    throw new KeywayError('migrations_unreadable', `Cannot read the migrations directory ${dir}.`, {
      fix: 'Reinstall Keyway: its migrations ship inside the package.',
      cause: error,
    });
  }
  return entries
    .filter((file) => file.endsWith('.sql'))
    .sort()
    .map((file) => {
      const name = file.slice(0, -'.sql'.length);
      if (!NAME.test(name)) {
        throw new KeywayError(
          'migration_badly_named',
          `Migration file ${file} is not named NNNN_lowercase_words.sql.`,
          {
            fix: 'Rename it; names sort in the order migrations apply.',
          },
        );
      }
      const sql = fs.readFileSync(path.join(dir, file), 'utf8');
      return { name, sql, checksum: checksumOf(sql), transactional: !NO_TRANSACTION.test(sql) };
    });
}

export function checksumOf(sql: string): string {
  return createHash('sha256').update(sql.replace(/\r\n/g, '\n')).digest('hex');
}
