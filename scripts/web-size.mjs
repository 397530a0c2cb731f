#!/usr/bin/env node
// Measures the JavaScript a browser downloads before the first page shows: the entry script and
// every modulepreload that web/dist/index.html names, gzipped. Lazy pages are not counted.
// Usage: node scripts/web-size.mjs [--max-kb 200]   (exit 1 when over the limit)
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const dist = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'web', 'dist');

/** The initial JS files of the built UI and their raw and gzip sizes in bytes. */
export function initialJs(distDir = dist) {
  const html = fs.readFileSync(path.join(distDir, 'index.html'), 'utf8');
  const urls = new Set();
  for (const match of html.matchAll(/<script[^>]*type="module"[^>]*src="([^"]+)"/g)) urls.add(match[1]);
  for (const match of html.matchAll(/<link[^>]*rel="modulepreload"[^>]*href="([^"]+)"/g)) urls.add(match[1]);
  const files = [...urls].map((url) => {
    const bytes = fs.readFileSync(path.join(distDir, url.replace(/^\//, '')));
    return { file: url, raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
  });
  return {
    files,
    raw: files.reduce((sum, file) => sum + file.raw, 0),
    gzip: files.reduce((sum, file) => sum + file.gzip, 0),
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const at = process.argv.indexOf('--max-kb');
  const maxKb = at === -1 ? 200 : Number(process.argv[at + 1]);
  const size = initialJs();
  for (const file of size.files)
    console.log(`${file.file}  ${(file.raw / 1000).toFixed(1)} kB  gzip ${(file.gzip / 1000).toFixed(1)} kB`);
  console.log(
    `initial JS: ${(size.raw / 1000).toFixed(1)} kB, gzip ${(size.gzip / 1000).toFixed(1)} kB (limit ${maxKb} kB)`,
  );
  if (size.gzip > maxKb * 1000) process.exit(1);
}
