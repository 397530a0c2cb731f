#!/usr/bin/env node
// Builds the web UI (web/ → web/dist) when web/dist is missing or older than its sources, so
// `npm start` always serves the UI of this checkout. Exits non-zero only when a needed build fails.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const web = path.join(root, 'web');
const builtIndex = path.join(web, 'dist', 'index.html');

/** The newest modification time under the given files and folders. */
export function newestMtime(paths) {
  let newest = 0;
  const visit = (current) => {
    let stat;
    try {
      stat = fs.statSync(current);
    } catch {
      return;
    }
    if (stat.isDirectory()) {
      for (const entry of fs.readdirSync(current)) visit(path.join(current, entry));
    } else newest = Math.max(newest, stat.mtimeMs);
  };
  paths.forEach(visit);
  return newest;
}

/** Why the UI must be (re)built, or null when web/dist is current. */
export function staleReason() {
  if (!fs.existsSync(builtIndex)) return 'web/dist is missing';
  const sources = newestMtime([
    path.join(web, 'src'),
    path.join(web, 'public'),
    path.join(web, 'index.html'),
    path.join(web, 'vite.config.ts'),
  ]);
  return sources > fs.statSync(builtIndex).mtimeMs ? 'web/src changed since the last build' : null;
}

/** Builds with vite; returns true on success. */
export function buildWeb() {
  const vite = path.join(root, 'node_modules', 'vite', 'bin', 'vite.js');
  const result = spawnSync(process.execPath, [vite, 'build', web, '--logLevel', 'warn'], {
    cwd: root,
    stdio: 'inherit',
    // A NODE_ENV inherited from a test runner (test) or a shell (development) would make vite bundle
    // React's development build: three times the size.
    env: { ...process.env, NODE_ENV: 'production' },
  });
  return result.status === 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const reason = staleReason();
  if (reason) {
    console.error(`Building the web UI (${reason})…`);
    if (!buildWeb()) {
      console.error('The web UI build failed (see above).');
      process.exit(1);
    }
  }
}
