import { Hono } from 'hono';
import type { MetricsRegistry } from '../observability/metrics.ts';
import type { AppEnv } from './app-env.ts';
import type { Readiness } from './readiness.ts';

/** Probes for orchestrators and monitoring: liveness, readiness and Prometheus metrics. */
export function healthRoutes(deps: { readiness: Readiness; metrics: MetricsRegistry; version: string }) {
  return new Hono<AppEnv>()
    .get('/healthz', (c) => c.json({ status: 'ok', version: deps.version }))
    .get('/readyz', async (c) => {
      const state = await deps.readiness.check();
      return state.ready
        ? c.json({ status: 'ready' })
        : c.json({ status: 'not_ready', reason: state.reason }, 503);
    })
    .get('/metrics', (c) =>
      c.text(deps.metrics.render(), 200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }),
    );
}
