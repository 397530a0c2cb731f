import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Context } from 'hono';
import type { AppEnv } from './app-env.ts';
import { handleNotFound } from './errors.ts';

/** Paths that belong to the server: an unknown one is a JSON 404, never the web app. */
const SERVER_PREFIXES = ['/api', '/v1', '/hooks', '/healthz', '/readyz', '/metrics'];

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.avif': 'image/avif',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.wasm': 'application/wasm',
};

/** Vite names every file under /assets by its content hash: it never changes, so it may be cached for good. */
const IMMUTABLE = 'public, max-age=31536000, immutable';

/** Headers every web response carries: the app may load only its own files and may not be framed. */
function securityHeaders(inlineScriptHashes: string[]): Record<string, string> {
  const scripts = ["'self'", ...inlineScriptHashes.map((hash) => `'sha256-${hash}'`)].join(' ');
  return {
    'content-security-policy': [
      "default-src 'self'",
      `script-src ${scripts}`,
      "style-src 'self'",
      // data: for icons inlined by the build (the favicon).
      "img-src 'self' data:",
      "font-src 'self'",
      "connect-src 'self'",
      "object-src 'none'",
      "base-uri 'self'",
      "form-action 'self'",
      "frame-ancestors 'none'",
    ].join('; '),
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
    'cross-origin-opener-policy': 'same-origin',
  };
}

export interface WebAssetsOptions {
  /** The built single-page app (`web/dist`): index.html and assets/. */
  distDir: string;
  /** Answers `/` when there is no built app (the server's name and version, as JSON). */
  fallbackRoot: (c: Context<AppEnv>) => Response;
}

/**
 * Serves the built web app: files by their extension's content type, hashed `/assets/*` cached for
 * good, and `index.html` (never cached) for `/` and for any other page a browser navigates to
 * (`Accept: text/html`), so client-side routes load the app. Server paths, missing files and
 * non-browser requests for unknown paths get the JSON 404. Nothing outside `distDir` is ever read;
 * without a built app `/` answers `fallbackRoot`. Files are read per request, nothing at construction.
 */
export function webAssets(options: WebAssetsOptions): (c: Context<AppEnv>) => Promise<Response> {
  const root = path.resolve(options.distDir);
  let indexCache: { key: string; body: Buffer; hashes: string[] } | undefined;

  /** index.html and the hashes of its inline scripts (for the CSP), re-read when the file changes. */
  const readIndex = async () => {
    const file = path.join(root, 'index.html');
    const stat = await fs.stat(file).catch(() => null);
    if (!stat?.isFile()) return null;
    const key = `${stat.size}:${stat.mtimeMs}`;
    if (indexCache?.key !== key) {
      const body = await fs.readFile(file);
      indexCache = { key, body, hashes: inlineScriptHashes(body.toString('utf8')) };
    }
    return { ...indexCache, etag: `W/"${key}"` };
  };

  return async (c) => {
    const urlPath = c.req.path;
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD') return handleNotFound(c);
    if (SERVER_PREFIXES.some((prefix) => urlPath === prefix || urlPath.startsWith(`${prefix}/`)))
      return handleNotFound(c);
    const relative = safeRelativePath(urlPath);
    if (relative === null) return handleNotFound(c);

    if (relative !== '' && relative !== 'index.html') {
      const file = await readFileWithin(root, relative);
      if (file) {
        const headers = {
          ...securityHeaders([]),
          'content-type': CONTENT_TYPES[path.extname(relative).toLowerCase()] ?? 'application/octet-stream',
          'cache-control': relative.startsWith('assets/') ? IMMUTABLE : 'no-cache',
          etag: file.etag,
        };
        if (c.req.header('if-none-match') === file.etag) return c.body(null, 304, headers);
        return c.body(new Uint8Array(file.body), 200, headers);
      }
      // A missing file (a stale hashed asset, a typo'd image) is a 404: answering HTML would break the
      // page. So is an unknown path asked for by anything but a browser navigating.
      const navigating = (c.req.header('accept') ?? '').includes('text/html');
      if (relative.startsWith('assets/') || path.posix.extname(relative) !== '' || !navigating)
        return handleNotFound(c);
    }

    const index = await readIndex();
    if (!index) return urlPath === '/' ? options.fallbackRoot(c) : handleNotFound(c);
    const headers = {
      ...securityHeaders(index.hashes),
      'content-type': CONTENT_TYPES['.html']!,
      'cache-control': 'no-cache',
      etag: index.etag,
    };
    if (c.req.header('if-none-match') === index.etag) return c.body(null, 304, headers);
    return c.body(new Uint8Array(index.body), 200, headers);
  };
}

/**
 * The URL path as a path relative to the app's directory, or null when it could leave it (`..`,
 * encoded slashes or backslashes, NUL) or is not valid percent-encoding.
 */
export function safeRelativePath(urlPath: string): string | null {
  const segments: string[] = [];
  for (const raw of urlPath.split('/')) {
    let segment: string;
    try {
      segment = decodeURIComponent(raw);
    } catch {
      return null;
    }
    if (segment === '' || segment === '.') continue;
    if (segment === '..' || /[/\\\0]/.test(segment)) return null;
    segments.push(segment);
  }
  return segments.join('/');
}

/** A regular file under `root` (symbolic links followed only if they stay inside), or null. */
async function readFileWithin(
  root: string,
  relative: string,
): Promise<{ body: Buffer; etag: string } | null> {
  const candidate = path.join(root, relative);
  try {
    const [realRoot, real] = await Promise.all([fs.realpath(root), fs.realpath(candidate)]);
    if (!real.startsWith(realRoot + path.sep)) return null;
    const stat = await fs.stat(real);
    if (!stat.isFile()) return null;
    return { body: await fs.readFile(real), etag: `W/"${stat.size}:${stat.mtimeMs}"` };
  } catch {
    return null;
  }
}

/** sha256 (base64) of each inline `<script>` of the page: the CSP allows exactly those. */
function inlineScriptHashes(html: string): string[] {
  const hashes: string[] = [];
  for (const match of html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)) {
    if (/\bsrc\s*=/i.test(match[1]!)) continue;
    hashes.push(createHash('sha256').update(match[2]!, 'utf8').digest('base64'));
  }
  return hashes;
}
