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
  bots: BotsTable;
  bot_fallback_credentials: BotFallbackCredentialsTable;
  bot_sessions: BotSessionsTable;
  bot_messages: BotMessagesTable;
  bot_inbox: BotInboxTable;
  bot_contacts: BotContactsTable;
  bot_outbox: BotOutboxTable;
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

export interface BotsTable {
  id: string;
  owner_id: string;
  name: string;
  /** null after the credential was deleted with `detach`: the bot answers nothing until one is set. */
  credential_id: string | null;
  model: string;
  config: ColumnType<Record<string, unknown>, string, string>;
  fallback_bot_id: string | null;
  webhook_url: string | null;
  evolution_server_url: string | null;
  evolution_instance: string | null;
  secrets_key_id: string;
  secrets_nonce: Buffer;
  secrets_ciphertext: Buffer;
  version: ColumnType<number, number | undefined, number>;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

export interface BotFallbackCredentialsTable {
  bot_id: string;
  credential_id: string;
  position: number;
}

export type BotSessionStatus = 'opened' | 'paused' | 'closed';

export interface BotSessionsTable {
  id: string;
  bot_id: string;
  contact: string;
  contact_name: string | null;
  status: BotSessionStatus;
  close_reason: string | null;
  opened_at: CreatedAt;
  last_activity_at: ColumnType<Date, Date | undefined, Date>;
  closed_at: Date | null;
}

export interface BotMessagesTable {
  id: Generated<number>;
  session_id: string;
  role: 'user' | 'assistant';
  content: string;
  at: CreatedAt;
}

export type BotChannel = 'http' | 'webhook' | 'evolution';

export interface BotInboxTable {
  id: Generated<number>;
  bot_id: string;
  contact: string;
  contact_name: string | null;
  channel: BotChannel;
  external_id: string | null;
  text: string | null;
  received_at: CreatedAt;
  due_at: Date;
  handled_at: Date | null;
}

export interface BotContactsTable {
  bot_id: string;
  contact: string;
  busy_until: Date | null;
}

export interface BotOutboxTable {
  id: Generated<number>;
  bot_id: string;
  contact: string;
  channel: Exclude<BotChannel, 'http'>;
  payload: ColumnType<Record<string, unknown>, string, never>;
  attempts: ColumnType<number, number | undefined, number>;
  next_attempt_at: Date;
  leased_until: Date | null;
  delivered_at: Date | null;
  failed_at: Date | null;
  last_error: string | null;
  created_at: CreatedAt;
}
