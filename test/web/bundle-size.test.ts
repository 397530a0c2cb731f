import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DIST = path.join(ROOT, 'web', 'dist');
const LIMIT = 200_000;

/** The JS that index.html loads before anything shows: the entry and its modulepreloads. */
function initialJs(): { file: string; gzip: number }[] {
  const html = fs.readFileSync(path.join(DIST, 'index.html'), 'utf8');
  const urls = [
    ...html.matchAll(/<script[^>]*type="module"[^>]*src="([^"]+)"/g),
    ...html.matchAll(/<link[^>]*rel="modulepreload"[^>]*href="([^"]+)"/g),
  ].map((match) => match[1]!);
  return urls.map((url) => ({
    file: url,
    gzip: gzipSync(fs.readFileSync(path.join(DIST, url.replace(/^\//, ''))), { level: 9 }).length,
  }));
}

describe('web UI bundle', () => {
  it('loads at most 200 kB of gzipped JavaScript before the first page, and lazy-loads the other pages', () => {
    execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'build-web-if-needed.mjs')], {
      stdio: 'inherit',
    });
    const files = initialJs();
    expect(files.length).toBeGreaterThan(0);
    const total = files.reduce((sum, file) => sum + file.gzip, 0);
    console.log(
      `[web UI] initial JS gzip: ${(total / 1000).toFixed(1)} kB (${files.map((f) => f.file).join(', ')})`,
    );
    expect(total).toBeLessThanOrEqual(LIMIT);
    // The pages that are not the chat are separate chunks, fetched on first visit.
    const chunks = fs.readdirSync(path.join(DIST, 'assets'));
    for (const page of [
      'credentials-page',
      'bots-page',
      'usage-page',
      'tokens-page',
      'users-page',
      'teams-page',
      'limits-page',
    ])
      expect(
        chunks.some((chunk) => chunk.startsWith(page) && chunk.endsWith('.js')),
        page,
      ).toBe(true);
  }, 60_000);
});
