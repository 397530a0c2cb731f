import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestKeyway, type TestKeyway } from '../test/support/test-keyway.ts';

let harness: TestKeyway;

beforeAll(async () => {
  harness = await createTestKeyway('embedded', { logLevel: 'info' });
  harness.keyway.app.post('/api/echo', async (c) => c.json(await c.req.json()));
  harness.keyway.app.get('/api/boom', () => {
    throw new Error('database password is hunter2');
  });
});

afterAll(async () => {
  await harness.close();
});

function setup() {
  return { app: harness.keyway.app, readiness: harness.keyway.readiness, lines: harness.logLines };
}

describe('createApp', () => {
  it('answers /healthz at once and /readyz 503 with the reason until ready', async () => {
    const { app, readiness } = setup();
    expect(await (await app.request('/healthz')).json()).toEqual({ status: 'ok', version: 'test' });
    readiness.markNotReady('verifying the database schema');
    const notReady = await app.request('/readyz');
    expect(notReady.status).toBe(503);
    expect(await notReady.json()).toEqual({ status: 'not_ready', reason: 'verifying the database schema' });
    // Not ready: the API refuses before touching the database.
    const refused = await app.request('/api/me');
    expect(refused.status).toBe(503);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('not_ready');
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
      body: JSON.stringify({ text: 'x'.repeat(1024 * 1024 + 10) }),
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
    const before = await (await app.request('/metrics')).text();
    const count = (text: string, series: string) =>
      Number(new RegExp(`^${series.replace(/[{}"/]/g, '\\$&')} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
    const healthz = 'keyway_http_requests_total{method="GET",route="/healthz",status="200"}';
    const unmatched = 'keyway_http_requests_total{method="GET",route="unmatched",status="404"}';
    await app.request('/healthz');
    await app.request('/other/missing/path');
    const metrics = await (await app.request('/metrics')).text();
    expect(count(metrics, healthz)).toBe(count(before, healthz) + 1);
    expect(count(metrics, unmatched)).toBe(count(before, unmatched) + 1);
    expect(metrics).toContain('# TYPE keyway_http_request_duration_seconds histogram');
  });

  it('logs each request with method, path and status but never the query string', async () => {
    const { app, lines } = setup();
    await app.request('/api/nothing?secret=s3cr3t-value');
    const entry = JSON.parse(
      lines.find((line) => line.includes('"msg":"request"') && line.includes('/api/nothing"'))!,
    );
    expect(entry).toMatchObject({ method: 'GET', path: '/api/nothing', status: 404 });
    expect(lines.join('')).not.toContain('s3cr3t-value');
  });
});
