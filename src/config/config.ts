import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { parseProxyList } from '../auth/client-address.ts';
import { KeywayError } from '../errors.ts';
import type { DatabaseTarget } from '../db/database.ts';
import type { MigrateMode } from '../db/schema/lifecycle.ts';
import type { LogLevel } from '../observability/logger.ts';
import type { UpstreamPolicy } from '../providers/upstream-url-guard.ts';
import type { MasterKeySources } from '../vault/master-key.ts';

/** Everything Keyway reads from flags and the environment, parsed once and frozen. */
export interface Config {
  port: number;
  host: string;
  database: DatabaseTarget;
  migrate: MigrateMode;
  logLevel: LogLevel;
  /** Largest request body accepted, in bytes. */
  bodyLimitBytes: number;
  /** `/v1/audio/transcriptions` only: audio files are larger than JSON requests. */
  transcriptionBodyLimitBytes: number;
  /** `POST /api/files` only: the largest file a user may upload. */
  fileSizeLimitBytes: number;
  /** `POST /api/import/conversations` only: a Keyway or ChatGPT export. */
  importBodyLimitBytes: number;
  /** The most tokens of retrieved context (knowledge and attached files) before a chat message or a bot reply (a bot may set its own). */
  retrievalTokenBudget: number;
  /** How long a dead node's ingestion job waits before another node takes it (renewed at a third). */
  ingestionLeaseMs: number;
  /** An attached file of at most this many (estimated) tokens goes into the context whole. */
  wholeFileTokens: number;
  /** How long a graceful shutdown waits for in-flight requests. */
  shutdownTimeoutMs: number;
  /** How long a start waits for another node's migration lock. */
  migrationLockTimeoutMs: number;
  /** Development and tests only: migrations from another directory (with its own expected-schema.json). */
  migrationsDir: string | undefined;
  /** Where the master key comes from (values are secrets: never logged). */
  masterKey: MasterKeySources;
  /** Which addresses user-supplied provider URLs may reach. */
  upstream: UpstreamPolicy;
  /** The built web app served at `/` (`web/dist` of this package unless KEYWAY_WEB_DIR says otherwise). */
  webDir: string;
  /**
   * Proxies (addresses and CIDR ranges) whose `X-Forwarded-For` names the client; none by default,
   * when the socket's peer is the client.
   */
  trustedProxies: readonly string[];
  /** Calls to providers: timeouts and retries. */
  gateway: {
    connectTimeoutMs: number;
    firstByteTimeoutMs: number;
    idleTimeoutMs: number;
    retries: number;
    /** The output cap Keyway sends when a spending or token limit applies and the request names none. */
    defaultMaxTokens: number;
  };
}

/** Command-line flags, by their long names; they override the environment. */
export interface ConfigFlags {
  port?: string | undefined;
  host?: string | undefined;
  data?: string | undefined;
  'database-url'?: string | undefined;
  migrate?: string | undefined;
}

/** The web app as `npm run build` in web/ leaves it, next to this package's sources. */
export const BUNDLED_WEB_DIR = fileURLToPath(new URL('../../web/dist', import.meta.url));

const integer = (name: string, min: number, max: number) =>
  z.coerce
    .number({ error: `${name} must be a number` })
    .int(`${name} must be a whole number`)
    .min(min, `${name} must be at least ${min}`)
    .max(max, `${name} must be at most ${max}`);

const boolean = (name: string) =>
  z
    .enum(['true', 'false', '1', '0'], { error: `${name} must be true or false` })
    .transform((value) => value === 'true' || value === '1');

const seconds = (name: string, max: number) => integer(name, 1, max).transform((value) => value * 1000);

/** Seconds, fractions allowed (0.5 = 500 ms), as milliseconds. */
const secondsFraction = (name: string, max: number) =>
  z.coerce
    .number({ error: `${name} must be a number of seconds` })
    .positive(`${name} must be more than 0`)
    .max(max, `${name} must be at most ${max}`)
    .transform((value) => Math.round(value * 1000));

const schema = z.object({
  port: integer('the port (--port / PORT)', 0, 65535).default(3000),
  host: z.string().min(1).default('127.0.0.1'),
  dataDir: z
    .string()
    .min(1, 'the data directory (--data / KEYWAY_DATA_DIR) must not be empty')
    .default('./data'),
  databaseUrl: z
    .string()
    .regex(
      /^postgres(ql)?:\/\//,
      'the database URL (--database-url / DATABASE_URL) must start with postgres:// or postgresql://',
    )
    .optional(),
  migrate: z
    .enum(['auto', 'check', 'off'], {
      error: 'the migrate mode (--migrate / KEYWAY_MIGRATE) must be auto, check or off',
    })
    .default('auto'),
  logLevel: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
      error: 'KEYWAY_LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent',
    })
    .default('info'),
  bodyLimitBytes: integer('KEYWAY_BODY_LIMIT', 1024, 1024 ** 3).default(1024 * 1024),
  transcriptionBodyLimitBytes: integer('KEYWAY_TRANSCRIPTION_BODY_LIMIT', 1024, 1024 ** 3).default(
    25 * 1024 * 1024,
  ),
  fileSizeLimitBytes: integer('KEYWAY_FILE_SIZE_LIMIT', 1024, 1024 ** 3).default(20 * 1024 * 1024),
  importBodyLimitBytes: integer('KEYWAY_IMPORT_BODY_LIMIT', 1024, 1024 ** 3).default(50 * 1024 * 1024),
  retrievalTokenBudget: integer('KEYWAY_RETRIEVAL_TOKEN_BUDGET', 100, 1_000_000).default(4000),
  ingestionLeaseMs: integer('KEYWAY_INGESTION_LEASE', 3, 3600)
    .transform((value) => value * 1000)
    .default(60_000),
  wholeFileTokens: integer('KEYWAY_WHOLE_FILE_TOKENS', 0, 1_000_000).default(6000),
  shutdownTimeoutMs: seconds('KEYWAY_SHUTDOWN_TIMEOUT', 3600).default(10_000),
  migrationLockTimeoutMs: seconds('KEYWAY_MIGRATION_LOCK_TIMEOUT', 3600).default(60_000),
  poolSize: integer('KEYWAY_DB_POOL_SIZE', 1, 1000).default(10),
  migrationsDir: z.string().min(1).optional(),
  webDir: z.string().min(1).default(BUNDLED_WEB_DIR),
  // Default: on for the embedded database (one person or a small team next to a local Ollama), off on a
  // PostgreSQL deployment. Members' credentials never reach loopback either way.
  allowLoopback: boolean('KEYWAY_UPSTREAM_ALLOW_LOOPBACK').optional(),
  allowPrivate: boolean('KEYWAY_UPSTREAM_ALLOW_PRIVATE').default(false),
  connectTimeoutMs: secondsFraction('KEYWAY_UPSTREAM_CONNECT_TIMEOUT', 600).default(10_000),
  firstByteTimeoutMs: secondsFraction('KEYWAY_UPSTREAM_FIRST_BYTE_TIMEOUT', 3600).default(120_000),
  idleTimeoutMs: secondsFraction('KEYWAY_UPSTREAM_IDLE_TIMEOUT', 3600).default(120_000),
  retries: integer('KEYWAY_UPSTREAM_RETRIES', 0, 10).default(2),
  defaultMaxTokens: integer('KEYWAY_DEFAULT_MAX_TOKENS', 1, 10_000_000).default(4096),
  trustedProxies: z
    .string()
    .default('')
    .transform((text, ctx) => {
      const parsed = parseProxyList(text);
      if ('entries' in parsed) return parsed.entries;
      ctx.addIssue({
        code: 'custom',
        message: `KEYWAY_TRUSTED_PROXIES must list IP addresses or CIDR ranges, separated by commas ("${parsed.invalid}" is neither)`,
      });
      return z.NEVER;
    }),
});

/** Parses flags over environment variables; throws `invalid_config` naming the setting and the rule. */
export function loadConfig(flags: ConfigFlags, env: NodeJS.ProcessEnv): Readonly<Config> {
  const pick = (...values: (string | undefined)[]) =>
    values.find((value) => value !== undefined && value !== '');
  const parsed = schema.safeParse({
    port: pick(flags.port, env.PORT),
    host: pick(flags.host, env.HOST),
    dataDir: pick(flags.data, env.KEYWAY_DATA_DIR),
    databaseUrl: pick(flags['database-url'], env.DATABASE_URL),
    migrate: pick(flags.migrate, env.KEYWAY_MIGRATE),
    logLevel: pick(env.KEYWAY_LOG_LEVEL),
    bodyLimitBytes: pick(env.KEYWAY_BODY_LIMIT),
    transcriptionBodyLimitBytes: pick(env.KEYWAY_TRANSCRIPTION_BODY_LIMIT),
    fileSizeLimitBytes: pick(env.KEYWAY_FILE_SIZE_LIMIT),
    importBodyLimitBytes: pick(env.KEYWAY_IMPORT_BODY_LIMIT),
    retrievalTokenBudget: pick(env.KEYWAY_RETRIEVAL_TOKEN_BUDGET),
    ingestionLeaseMs: pick(env.KEYWAY_INGESTION_LEASE),
    wholeFileTokens: pick(env.KEYWAY_WHOLE_FILE_TOKENS),
    shutdownTimeoutMs: pick(env.KEYWAY_SHUTDOWN_TIMEOUT),
    migrationLockTimeoutMs: pick(env.KEYWAY_MIGRATION_LOCK_TIMEOUT),
    poolSize: pick(env.KEYWAY_DB_POOL_SIZE),
    migrationsDir: pick(env.KEYWAY_MIGRATIONS_DIR),
    webDir: pick(env.KEYWAY_WEB_DIR),
    allowLoopback: pick(env.KEYWAY_UPSTREAM_ALLOW_LOOPBACK),
    allowPrivate: pick(env.KEYWAY_UPSTREAM_ALLOW_PRIVATE),
    connectTimeoutMs: pick(env.KEYWAY_UPSTREAM_CONNECT_TIMEOUT),
    firstByteTimeoutMs: pick(env.KEYWAY_UPSTREAM_FIRST_BYTE_TIMEOUT),
    idleTimeoutMs: pick(env.KEYWAY_UPSTREAM_IDLE_TIMEOUT),
    retries: pick(env.KEYWAY_UPSTREAM_RETRIES),
    defaultMaxTokens: pick(env.KEYWAY_DEFAULT_MAX_TOKENS),
    trustedProxies: pick(env.KEYWAY_TRUSTED_PROXIES),
  });
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => issue.message);
    throw new KeywayError('invalid_config', `Invalid configuration: ${issues.join('; ')}.`, {
      fix: 'Correct the flag or environment variable named above; `keyway --help` lists them.',
    });
  }
  const value = parsed.data;
  return Object.freeze({
    port: value.port,
    host: value.host,
    database: value.databaseUrl
      ? { kind: 'postgres', url: value.databaseUrl, poolSize: value.poolSize }
      : { kind: 'embedded', dataDir: value.dataDir },
    migrate: value.migrate,
    logLevel: value.logLevel,
    bodyLimitBytes: value.bodyLimitBytes,
    transcriptionBodyLimitBytes: value.transcriptionBodyLimitBytes,
    fileSizeLimitBytes: value.fileSizeLimitBytes,
    importBodyLimitBytes: value.importBodyLimitBytes,
    retrievalTokenBudget: value.retrievalTokenBudget,
    ingestionLeaseMs: value.ingestionLeaseMs,
    wholeFileTokens: value.wholeFileTokens,
    shutdownTimeoutMs: value.shutdownTimeoutMs,
    migrationLockTimeoutMs: value.migrationLockTimeoutMs,
    migrationsDir: value.migrationsDir,
    masterKey: {
      key: pick(env.KEYWAY_MASTER_KEY),
      keyFile: pick(env.KEYWAY_MASTER_KEY_FILE),
      previousKey: pick(env.KEYWAY_MASTER_KEY_PREVIOUS),
      previousKeyFile: pick(env.KEYWAY_MASTER_KEY_PREVIOUS_FILE),
    },
    upstream: {
      allowLoopback: value.allowLoopback ?? !value.databaseUrl,
      allowPrivate: value.allowPrivate,
    },
    webDir: value.webDir,
    trustedProxies: Object.freeze(value.trustedProxies),
    gateway: {
      connectTimeoutMs: value.connectTimeoutMs,
      firstByteTimeoutMs: value.firstByteTimeoutMs,
      idleTimeoutMs: value.idleTimeoutMs,
      retries: value.retries,
      defaultMaxTokens: value.defaultMaxTokens,
    },
  } satisfies Config);
}
