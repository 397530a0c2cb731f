#!/usr/bin/env node
// Compiles the server (src/ → dist/) with `tsc -p tsconfig.build.json`, then copies next to the JS
// what the server reads by path at run time (migrations, expected-schema.json, the PGlite worker and
// the type parsers, which are .mjs files tsc does not emit). `--if-stale` builds only when a source is
// newer than the last build's stamp, and then only the changed files (transpiled one by one, as tsc
// would emit them: ~0.5 s where tsc takes 4–6 s). bin/keyway imports ensureServerBuilt() to do the
// same, so this file loads nothing but Node's built-ins until a build is needed.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const src = path.join(root, 'src');
const dist = path.join(root, 'dist');
/** Its mtime is the start of the last successful build: a source newer than that is not in dist. */
const stamp = path.join(dist, '.build-stamp');
const lockDir = path.join(dist, '.build-lock');
/** Files outside src/ whose change changes the output. */
const buildInputs = ['tsconfig.json', 'tsconfig.build.json', 'scripts/build-server.mjs'].map((file) =>
  path.join(root, file),
);

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

/**
 * Why dist/ must be (re)built, or null when it holds a build of the current sources; `builtAt` is
 * set when only files under src/ changed since a complete build (those alone need compiling).
 */
function staleness() {
  let built;
  try {
    built = fs.statSync(stamp).mtimeMs;
  } catch {
    return { reason: 'dist/ has not been built' };
  }
  let newer;
  const check = (file) => {
    if (newer === undefined && fs.statSync(file).mtimeMs > built) newer = file;
  };
  buildInputs.forEach(check);
  if (newer !== undefined) return { reason: `${path.relative(root, newer)} changed since the last build` };
  walk(src, check);
  if (newer === undefined) return null;
  return { reason: `${path.relative(root, newer)} changed since the last build`, builtAt: built };
}

/** Why dist/ must be (re)built, or null when it holds a build of the current sources. */
export function serverStaleReason() {
  return staleness()?.reason ?? null;
}

/** The relative path of the source a dist/ file came from. */
function sourceOf(relative) {
  const compiled = relative.match(/^(.*)\.(js|js\.map|d\.ts)$/);
  return compiled ? `${compiled[1]}.ts` : relative;
}

/**
 * Copies src/'s non-TypeScript files into dist/ and removes dist/ files whose source is gone (a
 * deleted migration must not linger in dist/db/migrations).
 */
function syncAssets() {
  walk(src, (file) => {
    if (file.endsWith('.ts')) return;
    const target = path.join(dist, path.relative(src, file));
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.copyFileSync(file, target);
  });
  const prune = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.name.startsWith('.')) continue;
      if (entry.isDirectory()) {
        prune(full);
        if (fs.readdirSync(full).length === 0) fs.rmdirSync(full);
      } else if (!fs.existsSync(path.join(src, sourceOf(path.relative(dist, full))))) fs.rmSync(full);
    }
  };
  prune(dist);
}

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
function withBuildLock(fn) {
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
    return fn();
  } finally {
    fs.rmSync(lockDir, { recursive: true, force: true });
  }
}

/**
 * Builds dist/ (incrementally: tsc keeps dist/.tsbuildinfo). Type errors are printed but do not stop
 * the build, as tsx never stopped a run for them; `npm run typecheck` is the gate. Returns false when
 * nothing could be built (typescript missing, or tsc emitted nothing).
 */
export function buildServer({ log = (line) => process.stderr.write(`${line}\n`) } = {}) {
  const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  if (!fs.existsSync(tsc)) {
    log('Cannot build the server: typescript is not installed (run `npm install`, without --omit=dev).');
    return false;
  }
  const started = new Date();
  // tsc writes its diagnostics to stdout; they go to stderr so that a command's output stays clean.
  const result = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json')], {
    cwd: root,
    stdio: ['ignore', process.stderr, process.stderr],
  });
  // 0: built; 2: built, with type errors reported; anything else: nothing was emitted.
  if (result.status !== 0 && result.status !== 2) {
    log(`The server build failed (tsc: ${result.error?.message ?? `exit ${result.status}`}).`);
    return false;
  }
  if (result.status === 2) log('The server was built despite the type errors above.');
  syncAssets();
  fs.writeFileSync(stamp, '');
  fs.utimesSync(stamp, started, started);
  return true;
}

/**
 * Compiles the files changed since `builtAt` without type-checking them (`npm run typecheck` does):
 * the same output as tsc, since the sources are `isolatedModules`. Returns false when typescript is
 * not installed.
 */
function transpileChanged(builtAt) {
  let ts;
  try {
    ts = createRequire(import.meta.url)('typescript');
  } catch {
    return false;
  }
  const started = new Date();
  const parsed = ts.getParsedCommandLineOfConfigFile(
    path.join(root, 'tsconfig.build.json'),
    {},
    { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} },
  );
  if (!parsed) return false;
  // What tsc emits under NodeNext for this package ("type": "module"): ES modules.
  const compilerOptions = { ...parsed.options, module: ts.ModuleKind.ESNext };
  for (const file of parsed.fileNames) {
    if (/\.d\.m?ts$/.test(file) || fs.statSync(file).mtimeMs <= builtAt) continue;
    const output = ts.transpileModule(fs.readFileSync(file, 'utf8'), { compilerOptions, fileName: file });
    const target = path.join(dist, path.relative(src, file)).replace(/\.ts$/, '.js');
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, output.outputText);
    if (output.sourceMapText) fs.writeFileSync(`${target}.map`, output.sourceMapText);
  }
  syncAssets();
  // tsc's incremental state no longer describes dist/: were a file reverted to the text tsc last
  // compiled, tsc would skip it and leave this build's output. Without it, the next tsc run is full.
  fs.rmSync(path.join(dist, '.tsbuildinfo'), { force: true });
  fs.utimesSync(stamp, started, started);
  return true;
}

/**
 * Brings dist/ up to date: nothing to do when current (one stat per source file, ~200: a few
 * milliseconds); the changed files only when dist/ holds a complete build; else a full build.
 * Returns false when nothing could be built.
 */
export function ensureServerBuilt({ log = (line) => process.stderr.write(`${line}\n`) } = {}) {
  if (staleness() === null) return true;
  return withBuildLock(() => {
    // Another process may have built while this one waited for the lock.
    const stale = staleness();
    if (stale === null) return true;
    log(`Building the server (${stale.reason})…`);
    if (stale.builtAt !== undefined && transpileChanged(stale.builtAt)) return true;
    return buildServer({ log });
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const ok = process.argv.includes('--if-stale') ? ensureServerBuilt() : withBuildLock(() => buildServer());
  if (!ok) process.exit(1);
}
