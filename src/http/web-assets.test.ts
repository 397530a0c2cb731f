import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../../test/support/test-database.ts';
import { createTestKeyway, type TestKeyway } from '../../test/support/test-keyway.ts';
import { safeRelativePath } from './web-assets.ts';

const INLINE_SCRIPT = "document.documentElement.dataset.theme = 'dark';";
const INDEX = `<!doctype html><html><head><script>${INLINE_SCRIPT}</script><script type="module" src="/assets/index-abc123.js"></script></head><body><div id="root"></div></body></html>`;
const SCRIPT = 'console.log("app");';

describe('safeRelativePath', () => {
  it('keeps paths inside the app and refuses any way out', () => {
    expect(safeRelativePath('/')).toBe('');
    expect(safeRelativePath('/assets/index-abc123.js')).toBe('assets/index-abc123.js');
    expect(safeRelativePath('/a/./b//c')).toBe('a/b/c');
    for (const bad of [
      '/../secret.txt',
      '/assets/..%2f..%2fsecret.txt',
      '/..%5csecret.txt',
      '/a%00b',
      '/%E0%A4%A',
    ])
      expect(safeRelativePath(bad), bad).toBeNull();
  });
});

describe.each(BACKENDS)('the web app at / [%s]', (backend) => {
  let scratch: string;
  let harness: TestKeyway;

  beforeAll(async () => {
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'keyway-web-'));
    const dist = path.join(scratch, 'dist');
    fs.mkdirSync(path.join(dist, 'assets'), { recursive: true });
    fs.writeFileSync(path.join(dist, 'index.html'), INDEX);
    fs.writeFileSync(path.join(dist, 'assets', 'index-abc123.js'), SCRIPT);
    fs.writeFileSync(path.join(dist, 'assets', 'index-def456.css'), 'body{margin:0}');
    fs.writeFileSync(path.join(dist, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
    fs.writeFileSync(path.join(scratch, 'secret.txt'), 'outside the app');
    fs.symlinkSync(path.join(scratch, 'secret.txt'), path.join(dist, 'assets', 'link.txt'));
    harness = await createTestKeyway(backend, { env: { KEYWAY_WEB_DIR: dist } });
  });
  afterAll(async () => {
    await harness.close();
    fs.rmSync(scratch, { recursive: true, force: true });
  });

  const get = (url: string, headers: Record<string, string> = {}) =>
    harness.keyway.app.request(url, { headers });
  const browser = { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' };

  it('serves index.html at / with the security headers, never cached, its inline script allowed by hash', async () => {
    const response = await get('/', browser);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe(INDEX);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(response.headers.get('cache-control')).toBe('no-cache');
    const csp = response.headers.get('content-security-policy')!;
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("object-src 'none'");
    const hash = createHash('sha256').update(INLINE_SCRIPT).digest('base64');
    expect(csp).toContain(`script-src 'self' 'sha256-${hash}'`);
    expect(csp).not.toContain('unsafe-inline');
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('referrer-policy')).toBe('no-referrer');

    const again = await get('/', { ...browser, 'if-none-match': response.headers.get('etag')! });
    expect(again.status).toBe(304);
    const head = await harness.keyway.app.request('/', { method: 'HEAD' });
    expect([head.status, await head.text()]).toEqual([200, '']);
  });

  it('serves files with their content type; hashed assets are cached for good', async () => {
    const script = await get('/assets/index-abc123.js');
    expect([script.status, await script.text()]).toEqual([200, SCRIPT]);
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(script.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(script.headers.get('x-content-type-options')).toBe('nosniff');
    const css = await get('/assets/index-def456.css');
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');
    const icon = await get('/favicon.svg');
    expect(icon.headers.get('content-type')).toBe('image/svg+xml');
    expect(icon.headers.get('cache-control')).toBe('no-cache');
  });

  it("answers a browser's client-side routes with index.html, and everything else unknown with the JSON 404", async () => {
    for (const page of ['/chat', '/chat/6c0e2f4e-1111-4222-8333-944455556666', '/settings/credentials']) {
      const response = await get(page, browser);
      expect([response.status, await response.text()], page).toEqual([200, INDEX]);
    }
    // A missing file is not answered with HTML (the browser would run a page as a script).
    for (const missing of ['/assets/index-old999.js', '/robots.txt']) {
      const response = await get(missing, browser);
      expect(response.status, missing).toBe(404);
      expect(((await response.json()) as any).error.code).toBe('not_found');
    }
    // Server paths keep their JSON 404s, even for a browser.
    for (const api of ['/api/nothing', '/v1/nothing', '/hooks/x', '/api', '/metrics/x', '/healthz/x']) {
      const response = await get(api, browser);
      expect(response.status, api).toBe(404);
      expect(response.headers.get('content-type')).toMatch(/^application\/json/);
      expect(((await response.json()) as any).error.code).toBe('not_found');
    }
    const notBrowser = await get('/chat');
    expect(notBrowser.status).toBe(404);
    const post = await harness.keyway.app.request('/chat', { method: 'POST', headers: browser });
    expect(post.status).toBe(404);
    // The API itself is untouched.
    expect((await get('/healthz')).status).toBe(200);
    expect((await get('/api/openapi.json')).headers.get('content-type')).toMatch(/^application\/json/);
  });

  it('never reads outside the app: encoded dot-dot, backslashes and symbolic links out are refused', async () => {
    for (const url of [
      '/assets/..%2f..%2fsecret.txt',
      '/..%5csecret.txt',
      '/assets/link.txt',
      '/%2e%2e/secret.txt',
    ]) {
      const response = await get(url, browser);
      const text = await response.text();
      expect(text, url).not.toContain('outside the app');
      expect(response.status === 404 || text === INDEX, url).toBe(true);
    }
  });

  it('without a built app, / still answers the server name and version as JSON', async () => {
    const bare = await createTestKeyway(backend, {
      env: { KEYWAY_WEB_DIR: path.join(scratch, 'not-built') },
    });
    try {
      const root = await bare.keyway.app.request('/', { headers: browser });
      expect(root.status).toBe(200);
      expect(await root.json()).toEqual({ name: 'keyway', version: 'test', ready: true });
      const page = await bare.keyway.app.request('/chat', { headers: browser });
      expect(page.status).toBe(404);
    } finally {
      await bare.close();
    }
  });
});
