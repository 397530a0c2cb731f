import { KeywayError } from '../errors.ts';

/**
 * Process exit codes, one per kind of failure, so scripts and orchestrators can tell "the database
 * is down" from "the schema is behind" from "someone edited the schema". The README lists them.
 */
export const EXIT_CODES = {
  ok: 0,
  internal_error: 1,
  usage: 2,
  invalid_config: 3,
  database_unreachable: 10,
  database_open_failed: 10,
  data_dir_locked: 11,
  migration_lock_timeout: 12,
  port_in_use: 13,
  schema_behind: 20,
  schema_ahead: 21,
  checksum_mismatch: 22,
  migration_unfinished: 23,
  migration_failed: 24,
  drift: 30,
  master_key_missing: 40,
  master_key_invalid: 41,
  master_key_wrong: 42,
  // keyway import: the source database cannot be reached or read whole.
  source_unreachable: 50,
  source_rows_hidden: 51,
} as const;

const DRIFT_CODES = new Set([
  'table_missing',
  'column_missing',
  'column_changed',
  'index_missing',
  'index_changed',
  'constraint_missing',
  'constraint_changed',
  'unexpected_table',
  'unexpected_column',
  'unexpected_index',
  'unexpected_constraint',
]);

export function exitCodeFor(error: unknown): number {
  if (!(error instanceof KeywayError)) return EXIT_CODES.internal_error;
  return exitCodeForCode(error.code);
}

export function exitCodeForCode(code: string): number {
  if (DRIFT_CODES.has(code)) return EXIT_CODES.drift;
  return (EXIT_CODES as Record<string, number>)[code] ?? EXIT_CODES.internal_error;
}
