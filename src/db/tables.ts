import type { ColumnType, Generated } from 'kysely';

/**
 * The one `DB` interface Kysely is typed with: a table per migration-created table. The schema
 * history table is not here; only src/db/schema touches it, with plain SQL.
 */
export interface DB {
  settings: SettingsTable;
  audit_log: AuditLogTable;
}

/** Installation-wide values (installation id, later the master-key check value). */
export interface SettingsTable {
  key: string;
  value: unknown;
  updated_at: ColumnType<Date, Date | undefined, Date>;
}

/** Who did what to which object, never with a secret in it. */
export interface AuditLogTable {
  id: Generated<number>;
  at: ColumnType<Date, Date | undefined, never>;
  actor: string | null;
  action: string;
  target_type: string | null;
  target_id: string | null;
  details: ColumnType<unknown, unknown | undefined, unknown>;
}
