import type { Config } from './config/config.ts';
import { createApp } from './app.ts';
import { openDatabase, type Database } from './db/database.ts';
import { prepareSchema } from './db/schema/lifecycle.ts';
import { schemaContext } from './db/schema/schema-context.ts';
import { startHttpServer } from './http/http-server.ts';
import { Readiness } from './http/readiness.ts';
import type { Logger } from './observability/logger.ts';
import { MetricsRegistry } from './observability/metrics.ts';

export interface RunningKeyway {
  readonly url: string;
  readonly database: Database;
  /** Graceful stop: not ready, stop accepting, finish in-flight requests, close the database. */
  shutdown(reason: string): Promise<void>;
}

/**
 * The composition root: config → database → schema → app → listen. Everything else receives its
 * dependencies from here. Throws a `KeywayError` (with nothing left open) when it cannot start.
 */
export async function startKeyway(
  config: Readonly<Config>,
  deps: { logger: Logger; version: string },
): Promise<RunningKeyway> {
  const started = performance.now();
  const { logger, version } = deps;
  const metrics = new MetricsRegistry();
  const readiness = new Readiness();
  metrics.gauge('keyway_build_info', 'Always 1; labelled with the running version.').set(1, { version });
  metrics
    .gauge('keyway_ready', '1 when this node is ready for traffic.')
    .collect(() => (readiness.ready ? 1 : 0));
  metrics
    .gauge('process_resident_memory_bytes', 'Resident memory size in bytes.')
    .collect(() => process.memoryUsage.rss());
  metrics
    .gauge('process_uptime_seconds', 'Seconds since the process started.')
    .collect(() => Math.round(process.uptime()));

  const database = await openDatabase(config.database, {
    purpose: 'serve',
    onStaleLock: (message) => logger.warn(message),
  });
  logger.info(
    { database: database.kind, location: database.location },
    `opened the ${database.kind} database at ${database.location}`,
  );

  const app = createApp({ logger, metrics, readiness, version, bodyLimitBytes: config.bodyLimitBytes });
  let server;
  try {
    server = await startHttpServer(app.fetch, { port: config.port, host: config.host });
  } catch (error) {
    await database.close();
    throw error;
  }
  readiness.markNotReady('verifying the database schema');
  logger.info({ url: server.url }, `listening on ${server.url}`);

  const shutdown = async (reason: string) => {
    readiness.markNotReady('shutting down');
    logger.info({ reason }, 'shutting down: finishing in-flight requests');
    const { forced } = await server.close(config.shutdownTimeoutMs);
    if (forced)
      logger.warn(`in-flight requests did not finish within ${config.shutdownTimeoutMs} ms and were cut off`);
    await database.close();
    logger.info('stopped');
  };

  try {
    if (config.migrate === 'off') {
      logger.warn(
        '--migrate off: the database schema is NOT checked. Keyway may fail at any query if it is behind or altered.',
      );
    }
    const ctx = schemaContext(database, config, { logger, version });
    const { applied, warnings } = await prepareSchema(ctx, config.migrate);
    for (const warning of warnings) logger.warn({ code: warning.code, fix: warning.fix }, warning.message);
    logger.info(
      { applied },
      applied.length > 0 ? `applied ${applied.length} migration(s)` : 'schema is up to date',
    );
  } catch (error) {
    await shutdown('startup failed');
    throw error;
  }
  readiness.markReady();
  logger.info({ ms: Math.round(performance.now() - started) }, `ready on ${server.url}`);
  return { url: server.url, database, shutdown };
}
