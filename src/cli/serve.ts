import { loadConfig } from '../config/config.ts';
import { KeywayError } from '../errors.ts';
import { startKeyway } from '../main.ts';
import { createLogger } from '../observability/logger.ts';
import { SecretRedactor } from '../observability/secret-redactor.ts';
import { appVersion } from '../version.ts';
import { DATABASE_FLAGS, parseFlags, type CliIO } from './common.ts';

const USAGE =
  'keyway serve [--port 3000] [--host 127.0.0.1] [--data ./data] [--database-url URL] [--migrate auto|check|off]';

/** `keyway serve`: runs until SIGTERM or SIGINT, then stops gracefully and resolves with the exit code. */
export async function serveCommand(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseFlags(
    args,
    { ...DATABASE_FLAGS, port: { type: 'string' }, host: { type: 'string' }, migrate: { type: 'string' } },
    USAGE,
  );
  if (positionals.length > 0)
    throw new KeywayError('usage', `Unexpected argument: ${positionals[0]}`, { fix: USAGE });
  const config = loadConfig(values, io.env);
  const redactor = new SecretRedactor();
  const logger = createLogger({ level: config.logLevel, redactor, base: { version: appVersion() } });
  const keyway = await startKeyway(config, { logger, redactor, version: appVersion() });
  return new Promise<number>((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        logger.warn(`${signal} again: exiting without waiting`);
        process.exit(1);
      }
      stopping = true;
      keyway.shutdown(signal).then(
        () => resolve(0),
        (error: unknown) => {
          logger.error({ err: error }, 'shutdown failed');
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
