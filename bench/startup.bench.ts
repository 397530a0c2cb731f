import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { KeywayProcess } from '../test/support/keyway-process.ts';

export interface StartupRow {
  case: string;
  keywayMs: number;
  pgliteMs: number;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** Spawn to "ready" (schema verified, port bound) for `keyway serve` on the embedded database. */
async function timeServe(dataDir: string): Promise<number> {
  const started = performance.now();
  const server = new KeywayProcess(['serve', '--port', '0', '--data', dataDir], { KEYWAY_LOG_LEVEL: 'info' });
  await server.ready();
  const elapsed = performance.now() - started;
  server.kill('SIGTERM');
  await server.exited;
  return elapsed;
}

/** The floor: a fresh Node process that opens PGlite alone on the same kind of directory. */
async function timePGliteOpen(dataDir: string): Promise<number> {
  const started = performance.now();
  const child = spawn(
    process.execPath,
    [fileURLToPath(new URL('./pglite-open.mjs', import.meta.url)), dataDir],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`pglite-open exited with ${code}`)));
  });
  const elapsed = performance.now() - started;
  await new Promise((resolve) => child.once('exit', resolve));
  return elapsed;
}

/**
 * Startup on the embedded database, fresh (empty data directory: initdb plus every migration) and
 * warm (restart: nothing to apply, schema verified), side by side with opening PGlite alone.
 */
export async function startupBenchmark(runs = 3): Promise<StartupRow[]> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'keyway-bench-startup-'));
  try {
    const fresh: number[] = [];
    const warm: number[] = [];
    const pgliteFresh: number[] = [];
    const pgliteWarm: number[] = [];
    for (let run = 0; run < runs; run++) {
      const dir = path.join(root, `keyway-${run}`);
      fresh.push(await timeServe(dir));
      warm.push(await timeServe(dir));
      const raw = path.join(root, `pglite-${run}`);
      pgliteFresh.push(await timePGliteOpen(raw));
      pgliteWarm.push(await timePGliteOpen(raw));
    }
    return [
      { case: 'fresh (empty data directory)', keywayMs: median(fresh), pgliteMs: median(pgliteFresh) },
      { case: 'warm (restart, nothing to apply)', keywayMs: median(warm), pgliteMs: median(pgliteWarm) },
    ];
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}
