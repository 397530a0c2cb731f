import type { ColumnType, Generated } from 'kysely';

/**
 * The one `DB` interface Kysely is typed with: a table per migration-created table. The schema
 * history table is not here; only src/db/schema touches it, with plain SQL.
 */
export interface DB {
  settings: SettingsTable;
  audit_log: AuditLogTable;
  users: UsersTable;
  login_sessions: LoginSessionsTable;
  api_tokens: ApiTokensTable;
  login_throttle: LoginThrottleTable;
  credentials: CredentialsTable;
  usage_events: UsageEventsTable;
  usage_daily: UsageDailyTable;
}

export interface UsageEventsTable {
  id: Generated<number>;
  at: Date;
  user_id: string | null;
  token_id: string | null;
  bot_id: string | null;
  credential_id: string | null;
  provider: string;
  model: string;
  input_tokens: number | null;
  output_tokens: number | null;
  cached_tokens: number | null;
  latency_ms: number;
  status: number;
}

/** Ids that are absent are stored as the nil uuid, so they can be part of the primary key. */
export interface UsageDailyTable {
  day: string;
  user_id: string;
  token_id: string;
  bot_id: string;
  credential_id: string;
  model: string;
  requests: number;
  errors: number;
  input_tokens: number;
  output_tokens: number;
  cached_tokens: number;
  latency_ms_total: number;
}

type CreatedAt = ColumnType<Date, Date | undefined, never>;
type UpdatedAt = ColumnType<Date, Date | undefined, Date>;

export interface UsersTable {
  id: string;
  username: string;
  password_hash: string;
  role: 'admin' | 'member';
  disabled_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

export interface LoginSessionsTable {
  id: string;
  user_id: string;
  csrf_token: string;
  created_at: CreatedAt;
  last_seen_at: UpdatedAt;
  expires_at: Date;
}

export interface ApiTokensTable {
  id: string;
  user_id: string;
  name: string;
  token_hash: string;
  prefix: string;
  expires_at: Date | null;
  revoked_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  last_used_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  created_at: CreatedAt;
}

export interface LoginThrottleTable {
  key: string;
  failures: number;
  window_started_at: Date;
  blocked_until: Date | null;
}

type CredentialStatus = 'unchecked' | 'valid' | 'invalid';

export interface CredentialsTable {
  id: string;
  /** null: a shared credential (created by an admin, usable by everyone). */
  owner_id: string | null;
  created_by: string | null;
  provider: string;
  name: string;
  settings: ColumnType<Record<string, unknown>, string, string>;
  secret_key_id: string | null;
  secret_nonce: Buffer | null;
  secret_ciphertext: Buffer | null;
  fingerprint: string | null;
  hint: string;
  status: ColumnType<CredentialStatus, CredentialStatus | undefined, CredentialStatus>;
  status_message: string | null;
  last_checked_at: Date | null;
  last_used_at: Date | null;
  version: ColumnType<number, number | undefined, number>;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

/** Installation-wide values (installation id, later the master-key check value). */
export interface SettingsTable {
  key: string;
  value: ColumnType<unknown, string, string>;
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
