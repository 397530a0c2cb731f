import { describe, expect, it } from 'vitest';
import { createApp } from './app.ts';
import { Readiness } from './http/readiness.ts';
import { createLogger } from './observability/logger.ts';
import { MetricsRegistry } from './observability/metrics.ts';
import { SecretRedactor } from './observability/secret-redactor.ts';

function setup() {
  const lines: string[] = [];
  const readiness = new Readiness();
  const metrics = new MetricsRegistry();
  const logger = createLogger({
    level: 'info',
    redactor: new SecretRedactor(),
    destination: { write: (line: string) => void lines.push(line) },
  });
  const app = createApp({ logger, metrics, readiness, version: '1.2.3', bodyLimitBytes: 1024 });
  app.post('/api/echo', async (c) => c.json(await c.req.json()));
  app.get('/api/boom', () => {
    throw new Error('database password is hunter2');
  });
  return { app, readiness, lines };
}

describe('createApp', () => {
  it('answers /healthz at once and /readyz 503 with the reason until ready', async () => {
    const { app, readiness } = setup();
    expect(await (await app.request('/healthz')).json()).toEqual({ status: 'ok', version: '1.2.3' });
    readiness.markNotReady('verifying the database schema');
    const notReady = await app.request('/readyz');
    expect(notReady.status).toBe(503);
    expect(await notReady.json()).toEqual({ status: 'not_ready', reason: 'verifying the database schema' });
    readiness.markReady();
    expect((await app.request('/readyz')).status).toBe(200);
  });

  it('answers unknown routes with a JSON 404 carrying the request id', async () => {
    const { app } = setup();
    const response = await app.request('/api/nothing-here', { headers: { 'x-request-id': 'trace-42' } });
    expect(response.status).toBe(404);
    expect(response.headers.get('x-request-id')).toBe('trace-42');
    expect(await response.json()).toEqual({
      error: { code: 'not_found', message: 'No route for GET /api/nothing-here.', requestId: 'trace-42' },
    });
  });

  it('replaces an unusable request id with a fresh one', async () => {
    const { app } = setup();
    const response = await app.request('/healthz', {
      headers: { 'x-request-id': 'bad id <script>' + 'x'.repeat(200) },
    });
    expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('refuses a body over the limit with 413 and a stable code', async () => {
    const { app } = setup();
    const response = await app.request('/api/echo', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'x'.repeat(2000) }),
    });
    expect(response.status).toBe(413);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('payload_too_large');
  });

  it('turns an unexpected error into a 500 that reveals nothing but the request id, and logs it whole', async () => {
    const { app, lines } = setup();
    const response = await app.request('/api/boom');
    expect(response.status).toBe(500);
    const text = await response.text();
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain('at ');
    const body = JSON.parse(text);
    expect(body.error.code).toBe('internal_error');
    expect(body.error.message).toContain(body.error.requestId);
    expect(lines.some((line) => line.includes('hunter2') && line.includes(body.error.requestId))).toBe(true);
  });

  it('counts requests by route pattern in /metrics', async () => {
    const { app } = setup();
    await app.request('/healthz');
    await app.request('/no/such/path');
    const metrics = await (await app.request('/metrics')).text();
    expect(metrics).toContain('keyway_http_requests_total{method="GET",route="/healthz",status="200"} 1');
    expect(metrics).toContain('keyway_http_requests_total{method="GET",route="unmatched",status="404"} 1');
    expect(metrics).toContain('# TYPE keyway_http_request_duration_seconds histogram');
  });

  it('logs each request with method, path and status but never the query string', async () => {
    const { app, lines } = setup();
    await app.request('/api/nothing?secret=s3cr3t-value');
    const entry = JSON.parse(lines.find((line) => line.includes('"msg":"request"'))!);
    expect(entry).toMatchObject({ method: 'GET', path: '/api/nothing', status: 404 });
    expect(lines.join('')).not.toContain('s3cr3t-value');
  });
});
