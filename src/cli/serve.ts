import { loadConfig } from '../config/config.ts';
import { KeywayError } from '../errors.ts';
import { openDatabase } from '../db/database.ts';
import { discardPrestartedPGliteThread } from '../db/pglite-thread.ts';
import { checkPortFree } from '../http/http-server.ts';
import { createLogger } from '../observability/logger.ts';
import { SecretRedactor } from '../observability/secret-redactor.ts';
import { appVersion } from '../version.ts';
import { DATABASE_FLAGS, parseFlags, type CliIO } from './common.ts';

const USAGE =
  'keyway serve [--port 3000] [--host 127.0.0.1] [--data ./data] [--database-url URL] [--migrate auto|check|off]';

/**
 * `keyway serve`: runs until `stop` fires (SIGTERM or SIGINT), then stops gracefully and resolves
 * with the exit code: 0 for a stop asked for, during start-up too. `bin/keyway` passes a `stop` it
 * listens for before any module loads; without one, the handlers are installed here.
 */
export async function serveCommand(args: string[], io: CliIO, stop = stopOnSignals()): Promise<number> {
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
  // Opening the database starts now, before the server's modules load: PGlite opens in its own
  // thread (~0.5 s) while this one loads them (~0.4 s). The data-directory lock is taken first, as
  // ever. startKeyway awaits the promise, and closes the database on any failure.
  if (config.database.kind !== 'embedded') discardPrestartedPGliteThread();
  // A port in use stops the start before anything is created (no data directory, no master key).
  try {
    await checkPortFree({ port: config.port, host: config.host });
  } catch (error) {
    discardPrestartedPGliteThread();
    throw error;
  }
  const database = openDatabase(config.database, {
    purpose: 'serve',
    onStaleLock: (message) => logger.warn(message),
  });
  database.catch(() => {}); // not unhandled meanwhile: startKeyway reports the failure
  // The schema check (or the migrations) starts the moment the database is open, on its thread, while
  // this one is still loading modules; unless a stop came first. Its modules load before the server's:
  // once part of that larger graph, they would not run until all of it had loaded.
  const [{ prepareSchema }, { schemaContext }] = await Promise.all([
    import('../db/schema/lifecycle.ts'),
    import('../db/schema/schema-context.ts'),
  ]);
  const schema = database.then((opened) =>
    stop.aborted
      ? undefined
      : prepareSchema(schemaContext(opened, config, { logger, version: appVersion() }), config.migrate),
  );
  schema.catch(() => {});
  const { startKeyway } = await import('../main.ts');
  let keyway;
  try {
    keyway = await startKeyway(
      config,
      { logger, redactor, version: appVersion() },
      { stop, database, schema },
    );
  } catch (error) {
    if (error instanceof KeywayError && error.code === 'startup_interrupted') return 0;
    throw error;
  }
  if (!stop.aborted) await new Promise((resolve) => stop.addEventListener('abort', resolve, { once: true }));
  try {
    await keyway.shutdown(String(stop.reason));
    return 0;
  } catch (error) {
    logger.error({ err: error }, 'shutdown failed');
    return 1;
  }
}

/**
 * Fires on the first SIGTERM or SIGINT; a second one exits at once (the data-directory lock is still
 * released, by its exit handler). `bin/keyway` does the same in plain JavaScript, before loading.
 */
export function stopOnSignals(): AbortSignal {
  const stop = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (!stop.signal.aborted) return stop.abort(signal);
    process.stderr.write(`keyway: ${signal} again: exiting without waiting\n`);
    process.exit(1);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return stop.signal;
}
