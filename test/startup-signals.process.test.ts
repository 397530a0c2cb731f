import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LOCK_FILE } from '../src/db/data-dir-lock.ts';
import { ProcessPool, type KeywayProcess } from './support/keyway-process.ts';
import { BACKENDS, createTestDatabase, type TestDatabaseTarget } from './support/test-database.ts';

/** Sends `signal` the moment the server writes a log line matching `pattern` (not at the next poll). */
function signalOn(server: KeywayProcess, pattern: RegExp, signal: NodeJS.Signals): Promise<void> {
  return new Promise((resolve, reject) => {
    const onData = () => {
      if (!server.logs().some((line) => pattern.test(String(line.msg)))) return;
      server.child.stdout!.off('data', onData);
      server.kill(signal);
      resolve();
    };
    server.child.stdout!.on('data', onData);
    void server.exited.then(() =>
      reject(new Error(`exited before ${pattern}:\n${server.stdout}\n${server.stderr}`)),
    );
  });
}

/** What `support/stop-handlers-probe.mjs` writes once `bin/keyway` has its stop handlers. */
const STOP_HANDLERS_INSTALLED = 'keyway-test: stop handlers installed';
const STOP_HANDLERS_PROBE = pathToFileURL(path.join(import.meta.dirname, 'support/stop-handlers-probe.mjs'));

/** Resolves once the child wrote `line` to stderr, or rejects if it exits first. */
function stderrLine(server: KeywayProcess, line: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onData = () => {
      if (!server.stderr.includes(`${line}\n`)) return;
      server.child.stderr!.off('data', onData);
      resolve();
    };
    server.child.stderr!.on('data', onData);
    onData();
    void server.exited.then(() =>
      reject(new Error(`exited before writing "${line}":\n${server.stdout}\n${server.stderr}`)),
    );
  });
}

const POINTS = [
  { when: 'as soon as it listens, before the database is open', log: /^listening on /, signal: 'SIGTERM' },
  { when: 'while migrations run', log: /^applying migration /, signal: 'SIGINT' },
  { when: 'right after ready', log: /^ready on /, signal: 'SIGTERM' },
] as const;

describe.each(BACKENDS)('a stop signal at any moment of start-up [%s]', (backend) => {
  let target: TestDatabaseTarget;
  let pool: ProcessPool;

  beforeEach(async () => {
    target = await createTestDatabase(backend);
    pool = new ProcessPool();
  });
  afterEach(async () => {
    await pool.stopAll();
    await target.dispose();
  });

  it.each(POINTS)('$signal $when: exit 0, nothing left behind, the next start is clean', async (point) => {
    const server = pool.serve(target.flags, target.env);
    await signalOn(server, point.log, point.signal);
    expect(await server.exited).toEqual({ code: 0, signal: null });
    expect(server.logs().at(-1)?.msg).toBe('stopped');
    // The database opens while the server loads, so a stop right after "listening" may land before,
    // during or after the migrations: any of those must leave a clean next start (checked below).
    if (target.target.kind === 'embedded') {
      expect(fs.existsSync(path.join(target.target.dataDir, LOCK_FILE))).toBe(false);
    }

    const next = pool.serve(target.flags, target.env);
    await next.ready();
    expect(next.stdout + next.stderr).not.toMatch(/stale|unreadable lock/i);
    next.kill('SIGTERM');
    expect(await next.exited).toEqual({ code: 0, signal: null });
  });

  it('SIGTERM before it listens, while the server still loads: exit 0, and the data is usable at the next start', async () => {
    const server = pool.serve(target.flags, {
      ...target.env,
      NODE_OPTIONS: `--import=${STOP_HANDLERS_PROBE.href}`,
    });
    await stderrLine(server, STOP_HANDLERS_INSTALLED);
    const listenedBefore = server.logs().some((line) => /^listening on /.test(String(line.msg)));
    server.kill('SIGTERM');
    expect(listenedBefore).toBe(false);
    expect(await server.exited).toEqual({ code: 0, signal: null });
    expect(server.stderr).not.toMatch(/again: exiting without waiting/);
    if (target.target.kind === 'embedded') {
      expect(fs.existsSync(path.join(target.target.dataDir, LOCK_FILE))).toBe(false);
    }

    // The next start opens the same data, takes no stale lock, and serves.
    const next = pool.serve(target.flags, target.env);
    const url = await next.ready();
    expect(next.stdout + next.stderr).not.toMatch(/stale|unreadable lock/i);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    next.kill('SIGTERM');
    expect(await next.exited).toEqual({ code: 0, signal: null });
  });
});
