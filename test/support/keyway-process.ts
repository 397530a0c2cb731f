import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const KEYWAY_BIN = fileURLToPath(new URL('../../bin/keyway', import.meta.url));

/** The environment a child Keyway gets: ours without anything that would pick another database. */
function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of Object.keys(env)) if (name.startsWith('KEYWAY_')) delete env[name];
  for (const name of ['DATABASE_URL', 'PORT', 'HOST', 'NODE_OPTIONS']) delete env[name];
  // The fake providers listen on loopback; on PostgreSQL an admin's loopback calls are off by default.
  return { ...env, KEYWAY_LOG_LEVEL: 'info', KEYWAY_UPSTREAM_ALLOW_LOOPBACK: 'true', ...extra };
}

/** A `bin/keyway` child process whose output is collected as it arrives. */
export class KeywayProcess {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(args: string[], env: Record<string, string> = {}, stdin?: string) {
    this.child = spawn(process.execPath, [KEYWAY_BIN, ...args], {
      env: childEnv(env),
      stdio: [stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    if (stdin !== undefined) this.child.stdin!.end(stdin);
    this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (this.stdout += chunk));
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => resolve({ code, signal })),
    );
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** The JSON log lines written so far (serve logs on stdout, offline commands on stderr). */
  logs(): Record<string, unknown>[] {
    return (this.stdout + '\n' + this.stderr)
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  /** Resolves with the first log entry whose message matches, or rejects if the process exits first. */
  async waitForLog(pattern: RegExp, timeoutMs = 60_000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    let exited = false;
    void this.exited.then(() => (exited = true));
    for (;;) {
      const entry = this.logs().find((line) => pattern.test(String(line.msg)));
      if (entry) return entry;
      if (exited) throw new Error(`keyway exited before logging ${pattern}:\n${this.stdout}\n${this.stderr}`);
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for ${pattern}:\n${this.stdout}\n${this.stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  /** Waits until the server logs that it is ready and returns its URL. */
  async ready(timeoutMs = 60_000): Promise<string> {
    const entry = await this.waitForLog(/^ready on /, timeoutMs);
    return String(entry.msg).slice('ready on '.length);
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    this.child.kill(signal);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.kill('SIGKILL');
    await this.exited;
  }
}

/** Runs a command to completion, optionally feeding it stdin. */
export async function runKeyway(args: string[], env: Record<string, string> = {}, stdin?: string) {
  const process = new KeywayProcess(args, env, stdin);
  const { code } = await process.exited;
  return { code, stdout: process.stdout, stderr: process.stderr, pid: process.pid };
}

/** Every `bin/keyway serve` a test starts, so afterEach can stop whatever is left. */
export class ProcessPool {
  readonly #all: KeywayProcess[] = [];

  serve(flags: string[], env: Record<string, string> = {}): KeywayProcess {
    const started = new KeywayProcess(['serve', '--port', '0', ...flags], env);
    this.#all.push(started);
    return started;
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.#all.splice(0).map((process) => process.stop()));
  }
}
