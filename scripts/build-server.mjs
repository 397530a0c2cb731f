#!/usr/bin/env node
// Bundles the server with esbuild (src/cli/main.ts and its dependencies → dist/bundle/: an entry
// point, one chunk per lazily imported command, node_modules included except PGlite), then copies
// beside it, into a mirror of src/ under dist/, what the server reads by path at run time (the
// migrations, expected-schema.json, the PGlite worker and its type parsers). Loading ~15 chunks
// instead of ~300 modules is what makes `keyway serve` start quickly (docs/build.md). `--if-stale`
// builds only when an input is newer than the last build's stamp. bin/keyway imports
// ensureServerBuilt() to do the same, so this file loads nothing but Node's built-ins until a build
// is needed.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const src = path.join(root, 'src');
const dist = path.join(root, 'dist');
/** The bundle's own folder; the rest of dist/ mirrors src/'s run-time files. */
const bundleDir = path.join(dist, 'bundle');
/** Its mtime is the start of the last successful build: an input newer than that is not in dist. */
const stamp = path.join(dist, '.build-stamp');
const lockDir = path.join(dist, '.build-lock');
/**
 * Files outside src/ whose change changes the output. The bundle holds the dependencies' code, so an
 * `npm install` that changes one (package-lock.json) rebuilds it.
 */
const buildInputs = ['tsconfig.json', 'package.json', 'package-lock.json', 'scripts/build-server.mjs'].map(
  (file) => path.join(root, file),
);
/** The bundle's entry points: the CLI, and the PGlite thread that bin/keyway starts before it. */
const entryPoints = { keyway: 'cli/main.ts', 'pglite-thread': 'db/pglite-thread.ts' };

/** Tests and their fixtures never reach dist/; their edits need no rebuild. */
const isBuildSource = (name) => !name.endsWith('.test.ts') && name !== 'fixtures';

/** Calls visit(file) for every build source under dir, recursively. */
function walk(dir, visit) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (!isBuildSource(entry.name)) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) walk(full, visit);
    else visit(full);
  }
}

/** Why dist/ must be (re)built, or null when it holds a build of the current sources. */
export function serverStaleReason() {
  let built;
  try {
    built = fs.statSync(stamp).mtimeMs;
  } catch {
    return 'dist/ has not been built';
  }
  if (!fs.existsSync(path.join(bundleDir, 'keyway.js'))) return 'dist/bundle/ is missing';
  let newer;
  const check = (file) => {
    if (newer === undefined && fs.existsSync(file) && fs.statSync(file).mtimeMs > built) newer = file;
  };
  buildInputs.forEach(check);
  if (newer === undefined) walk(src, check);
  return newer === undefined ? null : `${path.relative(root, newer)} changed since the last build`;
}

/**
 * Copies src/'s run-time files that are not TypeScript into dist/ (same relative paths) and removes
 * every other file of that mirror: a deleted migration must not linger in dist/db/migrations.
 */
function syncAssets() {
  const assets = new Set();
  walk(src, (file) => {
    if (file.endsWith('.ts')) return;
    const relative = path.relative(src, file);
    assets.add(relative);
    const target = path.join(dist, relative);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.copyFileSync(file, target);
  });
  const prune = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.name.startsWith('.') || full === bundleDir) continue;
      if (entry.isDirectory()) {
        prune(full);
        if (fs.readdirSync(full).length === 0) fs.rmdirSync(full);
      } else if (!assets.has(path.relative(dist, full))) fs.rmSync(full);
    }
  };
  prune(dist);
}

/**
 * A bundled module's `import.meta.url` is its chunk's, in dist/bundle/. Each source's is rewritten to
 * the URL the file would have in the mirror of src/ (dist/db/schema/migration-files.js, …), so that
 * the paths the sources compute from it (`../migrations/`, `./pglite-thread.worker.mjs`,
 * `../package.json`, `../../web/dist`) find the files syncAssets() copied, as under src/.
 */
const mirrorImportMetaUrl = {
  name: 'keyway-mirror-import-meta-url',
  setup(build) {
    build.onLoad({ filter: /\.ts$/ }, (args) => {
      if (!args.path.startsWith(src + path.sep)) return undefined;
      const text = fs.readFileSync(args.path, 'utf8');
      if (!text.includes('import.meta.url')) return { contents: text, loader: 'ts' };
      const mirrored = path.relative(bundleDir, path.join(dist, path.relative(src, args.path)));
      const url = `new URL(${JSON.stringify(mirrored.split(path.sep).join('/').replace(/\.ts$/, '.js'))}, import.meta.url).href`;
      return { contents: text.replaceAll('import.meta.url', url), loader: 'ts' };
    });
  },
};

const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
}

/**
 * Runs fn holding dist/.build-lock, so that processes started together (a test run's children, two
 * terminals) build once and never read half-written files. A lock whose holder died is taken over.
 */
async function withBuildLock(fn) {
  fs.mkdirSync(dist, { recursive: true });
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      fs.mkdirSync(lockDir);
      fs.writeFileSync(path.join(lockDir, 'pid'), String(process.pid));
      break;
    } catch (error) {
      if (error.code !== 'EEXIST') throw error;
      let holder = 0; // 0 while the holder has not written its pid yet, or has just let go
      try {
        holder = Number(fs.readFileSync(path.join(lockDir, 'pid'), 'utf8'));
      } catch {}
      if (holder > 0 && !isAlive(holder)) fs.rmSync(lockDir, { recursive: true, force: true });
      else if (Date.now() > deadline)
        throw new Error(`${lockDir} is held by process ${holder} for 3 minutes`);
      else sleep(100);
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(lockDir, { recursive: true, force: true });
  }
}

/**
 * Builds dist/. Nothing is type-checked (`npm run typecheck` is the gate, as tsx never stopped a run
 * for a type error). Returns false when nothing could be built (esbuild missing, or a syntax error).
 */
export async function buildServer({ log = (line) => process.stderr.write(`${line}\n`) } = {}) {
  let esbuild;
  try {
    esbuild = createRequire(import.meta.url)('esbuild');
  } catch {
    log('Cannot build the server: esbuild is not installed (run `npm install`, without --omit=dev).');
    return false;
  }
  const started = new Date();
  const staging = `${bundleDir}.${process.pid}`;
  fs.rmSync(staging, { recursive: true, force: true });
  try {
    await esbuild.build({
      absWorkingDir: root,
      entryPoints: Object.fromEntries(
        Object.entries(entryPoints).map(([name, file]) => [name, path.join(src, file)]),
      ),
      outdir: staging,
      bundle: true,
      splitting: true,
      format: 'esm',
      platform: 'node',
      target: 'node20.19',
      sourcemap: true,
      // PGlite finds its WebAssembly and data files beside its own modules; pg-native is optional.
      external: ['@electric-sql/pglite', 'pg-native'],
      // Bundled CommonJS dependencies (undici, pg, pino) call require() for Node's built-ins.
      banner: {
        js: "import { createRequire as __keywayCreateRequire } from 'node:module'; const require = __keywayCreateRequire(import.meta.url);",
      },
      plugins: [mirrorImportMetaUrl],
      logLevel: 'silent',
    });
  } catch (error) {
    fs.rmSync(staging, { recursive: true, force: true });
    log(`The server build failed (esbuild):\n${error.message}`);
    return false;
  }
  fs.rmSync(bundleDir, { recursive: true, force: true });
  fs.renameSync(staging, bundleDir);
  syncAssets();
  fs.writeFileSync(stamp, '');
  fs.utimesSync(stamp, started, started);
  return true;
}

/**
 * Brings dist/ up to date: nothing to do when current (one stat per source file, ~250: a few
 * milliseconds); otherwise a full build (esbuild: ~1 s). Returns false when nothing could be built.
 */
export async function ensureServerBuilt({ log = (line) => process.stderr.write(`${line}\n`) } = {}) {
  if (serverStaleReason() === null) return true;
  return withBuildLock(async () => {
    // Another process may have built while this one waited for the lock.
    const stale = serverStaleReason();
    if (stale === null) return true;
    log(`Building the server (${stale})…`);
    return buildServer({ log });
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const ok = process.argv.includes('--if-stale')
    ? await ensureServerBuilt()
    : await withBuildLock(() => buildServer());
  if (!ok) process.exit(1);
}
