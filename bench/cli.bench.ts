import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { KEYWAY_BIN, KeywayProcess, runKeyway } from '../test/support/keyway-process.ts';

export interface CliRow {
  case: string;
  keywayMs: number;
  /** What the same work costs without Keyway: a bare Node process (doing the same HTTP call). */
  floor: string;
  floorMs: number;
  goalMs: number;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** Spawn to exit of `node args…`; rejects on a non-zero exit. */
async function timeProcess(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const started = performance.now();
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`node ${args.join(' ')} exited with ${code}:\n${stderr}`);
  return performance.now() - started;
}

/**
 * The CLI's own cost: `keyway --help` (loads no server) and `keyway tokens list` against a running
 * server on the embedded database (one authenticated API call), each run alternately with its floor.
 */
export async function cliBenchmark(runs = 7): Promise<CliRow[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keyway-bench-cli-'));
  const data = path.join(dir, 'data');
  let server: KeywayProcess | undefined;
  try {
    const user = await runKeyway(
      ['admin', 'create-user', '--username', 'bench', '--admin', '--password-stdin', '--data', data],
      {},
      'bench-password-1\n',
    );
    if (user.code !== 0) throw new Error(`admin create-user failed:\n${user.stderr}`);
    const created = await runKeyway([
      'admin',
      'create-token',
      '--username',
      'bench',
      '--name',
      'bench',
      '--data',
      data,
    ]);
    const token = created.stdout.match(/kw_\S+/)?.[0];
    if (!token) throw new Error(`admin create-token printed no token:\n${created.stdout}\n${created.stderr}`);
    server = new KeywayProcess(['serve', '--port', '0', '--data', data]);
    const url = await server.ready();

    const env = { ...process.env, KEYWAY_URL: url, KEYWAY_TOKEN: token, NODE_OPTIONS: '' };
    const fetchOnly = `const r = await fetch(process.env.KEYWAY_URL + '/api/tokens', { headers: { authorization: 'Bearer ' + process.env.KEYWAY_TOKEN } }); if (!r.ok) process.exit(1); process.stdout.write(JSON.stringify(await r.json()));`;
    const cases = [
      {
        case: 'keyway --help',
        keyway: [KEYWAY_BIN, '--help'],
        floor: 'node -e ""',
        floorArgs: ['-e', ''],
        goalMs: 150,
      },
      {
        case: 'keyway tokens list (API call to a running server)',
        keyway: [KEYWAY_BIN, 'tokens', 'list'],
        floor: 'node + fetch of /api/tokens',
        floorArgs: ['--input-type=module', '-e', fetchOnly],
        goalMs: 400,
      },
    ];
    const rows: CliRow[] = [];
    for (const item of cases) {
      // One unmeasured run each: the first spawn after start-up pays for cold file caches.
      await timeProcess(item.keyway, env);
      await timeProcess(item.floorArgs, env);
      const keyway: number[] = [];
      const floor: number[] = [];
      for (let run = 0; run < runs; run++) {
        keyway.push(await timeProcess(item.keyway, env));
        floor.push(await timeProcess(item.floorArgs, env));
      }
      rows.push({
        case: item.case,
        keywayMs: median(keyway),
        floor: item.floor,
        floorMs: median(floor),
        goalMs: item.goalMs,
      });
    }
    return rows;
  } finally {
    server?.kill('SIGTERM');
    await server?.exited;
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
