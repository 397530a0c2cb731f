/**
 * Every code Keyway raises on purpose, with the HTTP status it answers with. This is the catalogue:
 * a code not listed here does not compile. HTTP mapping happens in one place per surface
 * (`src/http/errors.ts` for `/api` and the hooks, `src/gateway/v1-errors.ts` for `/v1`); process exit
 * codes in `src/cli/exit-codes.ts`. Codes only the CLI meets still carry a status, for uniformity.
 */
export const ERROR_STATUS = {
  // The request itself is wrong.
  validation_failed: 400,
  invalid_json: 400,
  json_too_deep: 400,
  invalid_text: 400,
  invalid_path: 400,
  invalid_request: 400,
  bad_request: 400,
  invalid_payload: 400,
  unknown_provider: 400,
  invalid_settings: 400,
  blocked_url: 400,
  unsupported_regex: 400,
  ambiguous_model: 400,
  upstream_unsupported: 400,
  upstream_rejected: 400,
  // A request with images for a model known not to read them (src/gateway/model-capabilities.ts).
  model_without_vision: 400,
  // `/v1/responses`: the response named in `previous_response_id` is not the caller's (OpenAI's code).
  previous_response_not_found: 400,
  // Who is asking.
  unauthenticated: 401,
  invalid_api_key: 401,
  invalid_secret: 401,
  invalid_login: 401,
  forbidden: 403,
  csrf_failed: 403,
  invalid_setup_token: 403,
  access_revoked: 403,
  // What is asked for.
  not_found: 404,
  model_not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  name_taken: 409,
  setup_closed: 409,
  credential_in_use: 409,
  bot_without_credential: 409,
  bot_owner_disabled: 409,
  instance_mismatch: 409,
  channel_not_configured: 409,
  no_credentials: 409,
  nothing_to_regenerate: 409,
  secret_unreadable: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  credential_rejected: 422,
  price_unknown: 422,
  invalid_subject: 422,
  // A stored file whose text cannot be read: encrypted, damaged, a zip bomb, too many pages.
  file_unreadable: 422,
  too_many_attempts: 429,
  rate_limited: 429,
  budget_exceeded: 429,
  client_closed: 499,
  // Keyway or what it depends on.
  internal_error: 500,
  upstream_error: 502,
  upstream_auth_failed: 502,
  upstream_blocked: 502,
  upstream_redirect: 502,
  upstream_unreachable: 502,
  upstream_interrupted: 502,
  upstream_invalid: 502,
  not_ready: 503,
  database_unavailable: 503,
  upstream_timeout: 504,
  // Operator and CLI failures (start-up, schema, vault, import): exit codes, never HTTP answers.
  usage: 400,
  invalid_config: 500,
  port_in_use: 500,
  startup_interrupted: 500,
  database_unreachable: 503,
  database_open_failed: 500,
  data_dir_locked: 500,
  migration_lock_timeout: 500,
  migrations_unreadable: 500,
  migration_badly_named: 500,
  migration_failed: 500,
  migration_not_unfinished: 500,
  expected_schema_unreadable: 500,
  master_key_missing: 500,
  master_key_invalid: 500,
  master_key_wrong: 500,
  server_unreachable: 502,
  http_error: 502,
  import_failed: 500,
  source_not_recognised: 400,
  source_unreachable: 502,
  source_rows_hidden: 403,
  ambiguous: 400,
  // The schema cannot be used (src/db/schema/problems.ts): named problems, fatal at start-up.
  schema_behind: 500,
  schema_ahead: 500,
  checksum_mismatch: 500,
  migration_unfinished: 500,
  table_missing: 500,
  column_missing: 500,
  column_changed: 500,
  index_missing: 500,
  index_changed: 500,
  constraint_missing: 500,
  constraint_changed: 500,
  unexpected_table: 500,
  unexpected_column: 500,
  unexpected_index: 500,
  unexpected_constraint: 500,
} as const satisfies Record<string, number>;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** Whether a string (an HTTP answer's code, a CLI's server error) is one of Keyway's codes. */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_STATUS, code);
}

/**
 * The base of every error Keyway raises on purpose. `code` is stable and machine-readable; `message`
 * states the facts in plain words; `fix` says what to do about it.
 */
export class KeywayError extends Error {
  readonly code: ErrorCode;
  readonly fix: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: { fix?: string; details?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'KeywayError';
    this.code = code;
    this.fix = options.fix;
    this.details = options.details;
  }

  /** The HTTP status this error answers with. */
  get status(): (typeof ERROR_STATUS)[ErrorCode] {
    return ERROR_STATUS[this.code];
  }
}

/** Reads the message of anything thrown, without assuming it is an Error. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
