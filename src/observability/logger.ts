import pino, { type DestinationStream, type Logger } from 'pino';
import { SecretRedactor } from './secret-redactor.ts';

export type { Logger } from 'pino';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/** Field names whose values are never logged, wherever they appear. */
const REDACTED_PATHS = [
  'password',
  'secret',
  'apiKey',
  'token',
  'authorization',
  'cookie',
  '*.password',
  '*.secret',
  '*.apiKey',
  '*.token',
  '*.authorization',
  '*.cookie',
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-keyway-secret"]',
  'headers.authorization',
  'headers.cookie',
];

/**
 * Structured JSON logs on stdout (or the given stream), with secrets removed twice: by field name,
 * and by value through the redactor every secret is registered with.
 */
export function createLogger(options: {
  level: LogLevel;
  redactor: SecretRedactor;
  destination?: DestinationStream;
  base?: Record<string, unknown>;
}): Logger {
  return pino(
    {
      level: options.level,
      base: { pid: process.pid, ...options.base },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACTED_PATHS, censor: '[REDACTED]' },
      hooks: { streamWrite: (line) => options.redactor.redact(line) },
    },
    options.destination ?? pino.destination({ dest: 1, sync: true }),
  );
}
