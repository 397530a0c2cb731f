import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { acquireDataDirLock, LOCK_FILE } from './data-dir-lock.ts';

const dirs: string[] = [];
function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keyway-lock-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

/** A pid that certainly belongs to no running process: a child that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0']);
  await new Promise((resolve) => child.once('exit', resolve));
  return child.pid!;
}

describe('acquireDataDirLock', () => {
  it('creates the lock file with this pid and removes it on release', () => {
    const dir = tempDir();
    const lock = acquireDataDirLock(dir, { purpose: 'test' });
    const content = JSON.parse(fs.readFileSync(path.join(dir, LOCK_FILE), 'utf8'));
    expect(content).toMatchObject({ pid: process.pid, purpose: 'test', hostname: os.hostname() });
    expect(fs.statSync(path.join(dir, LOCK_FILE)).mode & 0o777).toBe(0o600);
    lock.release();
    expect(fs.existsSync(path.join(dir, LOCK_FILE))).toBe(false);
  });

  it('refuses while a live process holds it, naming the pid and what to do', () => {
    const dir = tempDir();
    const holder = {
      pid: process.ppid,
      hostname: os.hostname(),
      purpose: 'serve',
      startedAt: '2026-01-01T00:00:00.000Z',
      processStart: null,
    };
    fs.writeFileSync(path.join(dir, LOCK_FILE), JSON.stringify(holder));
    expect(() => acquireDataDirLock(dir, { purpose: 'doctor' })).toThrow(
      expect.objectContaining({
        code: 'data_dir_locked',
        message: expect.stringContaining(`pid ${process.ppid}`),
        fix: expect.stringContaining('--database-url'),
      }),
    );
    // The live holder's lock is untouched.
    expect(JSON.parse(fs.readFileSync(path.join(dir, LOCK_FILE), 'utf8')).pid).toBe(process.ppid);
  });

  it('treats a holder on another host as alive: refusing is safe, opening twice is not', () => {
    const dir = tempDir();
    fs.writeFileSync(
      path.join(dir, LOCK_FILE),
      JSON.stringify({ pid: 1, hostname: 'elsewhere', purpose: 'serve', startedAt: 'x' }),
    );
    expect(() => acquireDataDirLock(dir, { purpose: 'serve' })).toThrow(/on host elsewhere/);
  });

  it('reports and clears a lock left by a dead process', async () => {
    const dir = tempDir();
    const pid = await deadPid();
    fs.writeFileSync(
      path.join(dir, LOCK_FILE),
      JSON.stringify({
        pid,
        hostname: os.hostname(),
        purpose: 'serve',
        startedAt: '2026-01-01T00:00:00.000Z',
      }),
    );
    const reports: string[] = [];
    const lock = acquireDataDirLock(dir, {
      purpose: 'serve',
      onStaleLock: (message) => reports.push(message),
    });
    expect(reports).toHaveLength(1);
    expect(reports[0]).toContain(`pid ${pid}`);
    expect(reports[0]).toContain('no longer running');
    expect(JSON.parse(fs.readFileSync(path.join(dir, LOCK_FILE), 'utf8')).pid).toBe(process.pid);
    lock.release();
  });

  it('does not mistake a recycled pid for the holder', () => {
    const dir = tempDir();
    // Our parent is alive, but the lock says it was started at another time: a different process.
    fs.writeFileSync(
      path.join(dir, LOCK_FILE),
      JSON.stringify({
        pid: process.ppid,
        hostname: os.hostname(),
        purpose: 'serve',
        startedAt: 'x',
        processStart: '1',
      }),
    );
    const reports: string[] = [];
    acquireDataDirLock(dir, { purpose: 'serve', onStaleLock: (message) => reports.push(message) }).release();
    expect(reports).toHaveLength(1);
  });

  it('clears an empty lock file left by a process killed while taking it', () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, LOCK_FILE), '');
    const reports: string[] = [];
    acquireDataDirLock(dir, { purpose: 'serve', onStaleLock: (message) => reports.push(message) }).release();
    expect(reports[0]).toContain('unreadable lock file');
  });
});
