import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { Config } from '../config/config.ts';
import type { Database } from '../db/database.ts';
import type { SchemaContext } from '../db/schema/migrator.ts';
import { KeywayError, messageOf } from '../errors.ts';
import { createLogger, type Logger } from '../observability/logger.ts';
import { SecretRedactor } from '../observability/secret-redactor.ts';
import { appVersion } from '../version.ts';

/** Where a command writes; tests pass their own. */
export interface CliIO {
  out(text: string): void;
  err(text: string): void;
  env: NodeJS.ProcessEnv;
}

/** Flags every command that opens the database accepts. */
export const DATABASE_FLAGS = {
  data: { type: 'string' },
  'database-url': { type: 'string' },
} as const satisfies ParseArgsConfig['options'];

/** Parses a command's flags; an unknown flag or a missing value is a usage error, not a crash. */
export function parseFlags<O extends NonNullable<ParseArgsConfig['options']>>(
  args: string[],
  options: O,
  usage: string,
) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new KeywayError('usage', messageOf(error).replace(/\. To specify a positional argument.*$/s, '.'), {
      fix: usage,
    });
  }
}

/** A logger for offline commands: JSON lines on stderr, so stdout stays the command's answer. */
export function commandLogger(config: Pick<Config, 'logLevel'>): Logger {
  return createLogger({
    level: config.logLevel,
    redactor: new SecretRedactor(),
    destination: { write: (line: string) => process.stderr.write(line) },
  });
}

/** Opens the configured database for an offline command, runs `fn`, and always closes it. */
export async function withSchemaContext<T>(
  io: CliIO,
  flags: { data?: string | undefined; 'database-url'?: string | undefined },
  purpose: string,
  fn: (ctx: SchemaContext, database: Database) => Promise<T>,
): Promise<T> {
  // Imported here, not at the top: the commands that call the HTTP API (`keyway tokens list`, …) load
  // this file too, and need neither the configuration schema nor the database drivers.
  const [{ loadConfig }, { openDatabase }, { schemaContext }] = await Promise.all([
    import('../config/config.ts'),
    import('../db/database.ts'),
    import('../db/schema/schema-context.ts'),
  ]);
  const config = loadConfig({ data: flags.data, 'database-url': flags['database-url'] }, io.env);
  const logger = commandLogger(config);
  const database = await openDatabase(config.database, {
    purpose,
    onStaleLock: (message) => logger.warn(message),
  });
  try {
    return await fn(schemaContext(database, config, { logger, version: appVersion() }), database);
  } finally {
    await database.close();
  }
}

export function describeDatabase(database: Database): string {
  return database.kind === 'embedded'
    ? `embedded database in ${database.location}`
    : `PostgreSQL at ${database.location}`;
}
