import { randomUUID } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import type { Logger } from 'pino';
import type { MetricsRegistry } from '../observability/metrics.ts';
import type { AppEnv } from './app-env.ts';

const ACCEPTED_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Gives every request an id (the caller's `x-request-id` when it is sane, else a new one), echoes it,
 * logs the request once it is answered and counts it. The path is logged without its query string:
 * webhook secrets may travel there.
 */
export function requestContext(logger: Logger, metrics: MetricsRegistry): MiddlewareHandler<AppEnv> {
  const requests = metrics.counter(
    'keyway_http_requests_total',
    'HTTP requests answered, by method, route and status.',
  );
  const duration = metrics.histogram(
    'keyway_http_request_duration_seconds',
    'Time to answer HTTP requests (until the response starts), by method and route.',
    [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  );
  return async (c, next) => {
    const started = performance.now();
    const incoming = c.req.header('x-request-id');
    const requestId = incoming && ACCEPTED_REQUEST_ID.test(incoming) ? incoming : randomUUID();
    const log = logger.child({ requestId });
    c.set('requestId', requestId);
    c.set('startedAt', started);
    c.set('log', log);
    // Set before the handler runs: responses built with c.json()/c.text() pick it up, and handlers
    // that build their own Response (the gateway) add it themselves. Setting a header on a finished
    // response would make Hono copy the whole response.
    c.header('x-request-id', requestId);
    await next();
    const seconds = (performance.now() - started) / 1000;
    // The route pattern, not the path: a label per id would grow without bound.
    const route = c.res.status === 404 && c.req.routePath === '/*' ? 'unmatched' : c.req.routePath;
    requests.inc({ method: c.req.method, route, status: String(c.res.status) });
    duration.observe(seconds, { method: c.req.method, route });
    const entry = {
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      ms: Math.round(seconds * 10_000) / 10,
    };
    if (c.req.path === '/healthz' || c.req.path === '/readyz' || c.req.path === '/metrics')
      log.debug(entry, 'request');
    else log.info(entry, 'request');
  };
}
