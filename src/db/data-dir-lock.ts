import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KeywayError } from '../errors.ts';

/** The lock file's name inside the data directory. */
export const LOCK_FILE = 'keyway.lock';

interface LockOwner {
  pid: number;
  hostname: string;
  purpose: string;
  startedAt: string;
  /** Linux process start time (clock ticks since boot), so a recycled pid is not mistaken for the holder. */
  processStart: string | null;
}

export interface DataDirLock {
  readonly path: string;
  release(): void;
}

/**
 * Takes exclusive use of an embedded data directory. PGlite corrupts a directory that two processes
 * open (pglite#323), so a live holder is never overridden: the caller gets `data_dir_locked`, naming
 * the holder's pid. A lock whose holder is gone is reported through `onStaleLock` and cleared.
 */
export function acquireDataDirLock(
  dataDir: string,
  options: { purpose: string; onStaleLock?: ((message: string) => void) | undefined },
): DataDirLock {
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const lockPath = path.join(dataDir, LOCK_FILE);
  const me: LockOwner = {
    pid: process.pid,
    hostname: os.hostname(),
    purpose: options.purpose,
    startedAt: new Date().toISOString(),
    processStart: processStartOf(process.pid),
  };
  for (let attempt = 0; attempt < 5; attempt++) {
    if (tryCreate(lockPath, me)) return ownedLock(lockPath, me);
    const holder = readOwner(lockPath);
    if (holder === 'missing') continue; // released between our two steps: try again
    if (holder !== 'unreadable' && isAlive(holder)) throw lockedError(dataDir, holder);
    clearStaleLock(lockPath, holder, options.onStaleLock);
  }
  throw new KeywayError(
    'data_dir_locked',
    `Could not take the lock on ${dataDir}: it keeps changing hands.`,
    {
      fix: 'Make sure only one Keyway process uses this data directory, then try again.',
    },
  );
}

function tryCreate(lockPath: string, owner: LockOwner): boolean {
  try {
    fs.writeFileSync(lockPath, JSON.stringify(owner) + '\n', { flag: 'wx', mode: 0o600 });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

function readOwner(lockPath: string): LockOwner | 'missing' | 'unreadable' {
  let text: string;
  try {
    text = fs.readFileSync(lockPath, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw error;
  }
  try {
    const parsed = JSON.parse(text) as Partial<LockOwner>;
    if (typeof parsed.pid !== 'number' || typeof parsed.hostname !== 'string') return 'unreadable';
    return {
      pid: parsed.pid,
      hostname: parsed.hostname,
      purpose: String(parsed.purpose ?? 'unknown'),
      startedAt: String(parsed.startedAt ?? 'unknown'),
      processStart: typeof parsed.processStart === 'string' ? parsed.processStart : null,
    };
  } catch {
    // A process killed between creating and writing the file leaves it empty or partial.
    return 'unreadable';
  }
}

/**
 * A holder on another host cannot be checked from here, so it counts as alive: refusing is safe,
 * opening twice is not.
 */
function isAlive(owner: LockOwner): boolean {
  if (owner.hostname !== os.hostname()) return true;
  if (owner.pid === process.pid) return true;
  try {
    process.kill(owner.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  const start = processStartOf(owner.pid);
  return owner.processStart === null || start === null || start === owner.processStart;
}

/**
 * Two processes may find the same stale lock at once. Only one may replace it, or the slower one
 * would delete the faster one's fresh lock: a short-lived takeover file decides who.
 */
function clearStaleLock(
  lockPath: string,
  stale: LockOwner | 'unreadable',
  onStaleLock: ((message: string) => void) | undefined,
): void {
  const takeoverPath = `${lockPath}.takeover`;
  try {
    fs.writeFileSync(takeoverPath, String(process.pid), { flag: 'wx', mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    // Someone else is clearing it. A takeover file older than a few seconds was left by a crash.
    const age = Date.now() - fs.statSync(takeoverPath, { throwIfNoEntry: false })!.mtimeMs;
    if (age > 5_000) fs.rmSync(takeoverPath, { force: true });
    sleepSync(50);
    return;
  }
  try {
    const current = readOwner(lockPath);
    const unchanged =
      current === 'unreadable'
        ? stale === 'unreadable'
        : current !== 'missing' && stale !== 'unreadable' && sameOwner(current, stale);
    if (!unchanged) return;
    fs.rmSync(lockPath, { force: true });
    onStaleLock?.(
      stale === 'unreadable'
        ? `Removed an unreadable lock file ${lockPath} (left by a process that died while taking it).`
        : `Removed a stale lock on ${path.dirname(lockPath)}: held by pid ${stale.pid} (${stale.purpose}, since ${stale.startedAt}), which is no longer running.`,
    );
  } finally {
    fs.rmSync(takeoverPath, { force: true });
  }
}

function sameOwner(a: LockOwner, b: LockOwner): boolean {
  return a.pid === b.pid && a.startedAt === b.startedAt && a.hostname === b.hostname;
}

function ownedLock(lockPath: string, me: LockOwner): DataDirLock {
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    process.off('exit', release);
    const current = readOwner(lockPath);
    if (current !== 'missing' && current !== 'unreadable' && sameOwner(current, me))
      fs.rmSync(lockPath, { force: true });
  };
  // A process that exits without closing the database still leaves the directory free.
  process.on('exit', release);
  return { path: lockPath, release };
}

function lockedError(dataDir: string, holder: LockOwner): KeywayError {
  const where = holder.hostname === os.hostname() ? '' : ` on host ${holder.hostname}`;
  return new KeywayError(
    'data_dir_locked',
    `The data directory ${dataDir} is in use by another Keyway process: pid ${holder.pid}${where} (${holder.purpose}, since ${holder.startedAt}). The embedded database cannot be opened by two processes at once.`,
    {
      fix: `Stop that process first (kill ${holder.pid}), or run this command against the running server's API. To run several Keyway processes on one database, use PostgreSQL (--database-url).`,
      details: {
        pid: holder.pid,
        hostname: holder.hostname,
        purpose: holder.purpose,
        since: holder.startedAt,
      },
    },
  );
}

/** Field 22 of /proc/PID/stat; null where there is no /proc. */
function processStartOf(pid: number): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses; fields after it are plain.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19] ?? null;
  } catch {
    return null;
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
