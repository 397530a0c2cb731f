import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { Logger } from 'pino';
import type { AppEnv } from './http/app-env.ts';
import { handleError, handleNotFound, payloadTooLarge } from './http/errors.ts';
import { healthRoutes } from './http/health.routes.ts';
import type { Readiness } from './http/readiness.ts';
import { requestContext } from './http/request-context.ts';
import type { MetricsRegistry } from './observability/metrics.ts';

export interface AppDeps {
  logger: Logger;
  metrics: MetricsRegistry;
  readiness: Readiness;
  version: string;
  bodyLimitBytes: number;
}

/** Builds the HTTP application from its dependencies. Does no I/O: tests call `app.request()`. */
export function createApp(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use(requestContext(deps.logger, deps.metrics));
  for (const prefix of ['/api/*', '/v1/*', '/hooks/*']) {
    app.use(
      prefix,
      bodyLimit({ maxSize: deps.bodyLimitBytes, onError: payloadTooLarge(deps.bodyLimitBytes) }),
    );
  }
  app.route('/', healthRoutes(deps));
  app.get('/', (c) => c.json({ name: 'keyway', version: deps.version, ready: deps.readiness.ready }));
  app.notFound(handleNotFound);
  app.onError(handleError);
  return app;
}
