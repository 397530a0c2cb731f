// The gateway benchmark: the same load at the fake upstream directly, through Keyway and through
// Portkey (@portkey-ai/gateway from npm), in one run on one machine. See shared/design/gateway.md,
// "Performance — the bar". Needs bench/node_modules (bench/index.ts installs it on first use).
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { KeywayProcess, runKeyway } from '../test/support/keyway-process.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BENCH = fileURLToPath(new URL('.', import.meta.url));
const CHAT_PATH = '/v1/chat/completions';
const UPSTREAM_KEY = 'sk-bench-0123456789abcdef';
const PORTKEY_ENTRY = path.join(BENCH, 'node_modules/@portkey-ai/gateway/build/start-server.js');

export interface GatewayBenchSettings {
  /** Throughput: connections, seconds measured, seconds of warm-up before. */
  connections: number;
  durationS: number;
  warmupS: number;
  /** Added latency: a fixed overall rate (req/s) over a few connections. */
  rate: number;
  rateConnections: number;
  rateDurationS: number;
  /** The same rate sent evenly (one request every 1000/rate ms), as autocannon's `overallRate` does not. */
  paced: boolean;
  /** Streaming: sequential streamed requests per target, and the upstream's chunks and pacing. */
  streams: number;
  chunks: number;
  delayMs: number;
  /** Non-streamed requests whose `x-keyway-overhead-ms` is sampled. */
  overheadSamples: number;
  /** Many streams at once: how many, opened evenly over `burstOpenMs`, against an upstream that sends `burstChunks` chunks `burstDelayMs` apart. */
  burstStreams: number;
  burstOpenMs: number;
  burstChunks: number;
  burstDelayMs: number;
  /** `BENCH_GATEWAY_THROUGHPUT_ONLY=1`: only the throughput part (with and without limits). */
  throughputOnly: boolean;
}

export function gatewaySettingsFromEnv(env: NodeJS.ProcessEnv = process.env): GatewayBenchSettings {
  const number = (name: string, fallback: number) => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value) || value <= 0)
      throw new Error(`${name} must be a positive number, got ${raw}`);
    return value;
  };
  return {
    connections: number('BENCH_CONNECTIONS', 50),
    durationS: number('BENCH_DURATION', 10),
    warmupS: number('BENCH_WARMUP', 2),
    rate: number('BENCH_RATE', 200),
    rateConnections: number('BENCH_RATE_CONNECTIONS', 10),
    rateDurationS: number('BENCH_RATE_DURATION', 10),
    paced: env.BENCH_PACED !== '0',
    streams: number('BENCH_STREAMS', 30),
    chunks: number('BENCH_CHUNKS', 10),
    delayMs: number('BENCH_DELAY_MS', 20),
    overheadSamples: number('BENCH_OVERHEAD_SAMPLES', 200),
    burstStreams: number('BENCH_BURST_STREAMS', 256),
    burstOpenMs: number('BENCH_BURST_OPEN_MS', 1000),
    burstChunks: number('BENCH_BURST_CHUNKS', 80),
    burstDelayMs: number('BENCH_BURST_DELAY_MS', 25),
    throughputOnly: env.BENCH_GATEWAY_THROUGHPUT_ONLY === '1',
  };
}

export type TargetName = 'direct' | 'bare proxy' | 'Keyway' | 'Keyway with limits' | 'Portkey';

interface Target {
  name: TargetName;
  origin: string;
  headers: Record<string, string>;
  model: string;
}

export interface ThroughputRow {
  target: TargetName;
  requests: number;
  rps: number;
  p50: number;
  p99: number;
}

export interface RateRow extends ThroughputRow {
  addedP50: number;
  addedP99: number;
}

export interface StreamRow {
  target: TargetName;
  /** Time to the response headers, then to the first content chunk. */
  headersMedian: number;
  ttftMedian: number;
  ttftAdded: number;
  gapMedian: number;
  gapMin: number;
  gapMax: number;
  /** Gaps between consecutive content chunks of at least half the upstream's delay: not coalesced. */
  paced: number;
  gaps: number;
  spanMedian: number;
}

/** A translated ingress's first chunk: median, what Keyway adds to the direct run, and that next to chat completions'. */
export interface IngressRow {
  path: string;
  ttftMedian: number;
  added: number;
  versusChat: number;
}

/** Many streams at once: first-chunk times (from each request's send) and whether every stream was whole and paced. */
export interface BurstRow {
  target: TargetName;
  /** `first`: the target's first burst (new upstream connections, cold paths); `second`: the same again at once. */
  round: 'first' | 'second';
  firstChunkP50: number;
  firstChunkP99: number;
  /** p99 first chunk minus the direct run's. */
  addedP99: number;
  complete: number;
  streams: number;
  /** The longest gap between two chunks of one stream, over all streams. */
  maxGap: number;
}

export interface GatewayReport {
  settings: GatewayBenchSettings;
  burst: BurstRow[];
  throughput: ThroughputRow[];
  rate: RateRow[];
  paced: RateRow[] | null;
  streaming: StreamRow[];
  /** Streamed `/v1/responses` and `/v1/messages` through Keyway, translated to the same upstream. */
  ingresses: IngressRow[];
  /** Null when only the throughput part ran. */
  overhead: { samples: number; p50: number; p99: number } | null;
  /** Keyway's `x-keyway-overhead-ms` on the streamed responses (time to its response headers). */
  streamOverheadP50: number;
  /** One-minute load averages before anything started and at the end (which includes the benchmark's own). */
  load: { cores: number; before: number; after: number };
}

/** A benchmark of errors measures nothing: any failed request ends the run. */
export class BenchFailure extends Error {
  override name = 'BenchFailure';
}

// ---------------------------------------------------------------------------------------------
// Numbers

const sortNumbers = (values: number[]) => Float64Array.from(values).sort();
/** Nearest-rank percentile of sorted values. */
function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}
const median = (values: number[]) => percentile(sortNumbers(values), 50);

// ---------------------------------------------------------------------------------------------
// Child processes: every one is tracked, stopped in `finally`, and killed even on a crash or ^C.

class Managed {
  output = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(
    readonly label: string,
    readonly child: ChildProcess,
    /** Started as the leader of its own process group: the whole group is signalled. */
    readonly group: boolean,
  ) {
    const keep = (chunk: Buffer | string) => {
      this.output = (this.output + chunk.toString()).slice(-16_000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.exited = new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null)
        resolve({ code: child.exitCode, signal: child.signalCode });
      else child.once('exit', (code, signal) => resolve({ code, signal }));
    });
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  signal(signal: NodeJS.Signals): void {
    const pid = this.child.pid;
    if (pid === undefined) return;
    try {
      process.kill(this.group ? -pid : pid, signal);
    } catch {
      // already gone
    }
  }

  async stop(graceMs = 3_000): Promise<void> {
    if (this.running) {
      this.signal('SIGTERM');
      const timer = new Promise<'late'>((resolve) => setTimeout(() => resolve('late'), graceMs).unref());
      if ((await Promise.race([this.exited, timer])) === 'late') this.signal('SIGKILL');
    }
    await this.exited;
    // The group leader may be gone while something it started lives on.
    if (this.group) this.signal('SIGKILL');
  }
}

class Children {
  readonly #all: Managed[] = [];

  spawn(label: string, command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Managed {
    const child = spawn(command, args, {
      cwd: ROOT,
      env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const managed = new Managed(label, child, true);
    this.#all.push(managed);
    return managed;
  }

  adopt(label: string, child: ChildProcess): Managed {
    const managed = new Managed(label, child, false);
    this.#all.push(managed);
    return managed;
  }

  /** Synchronous, for process exit and signals. */
  killAllNow(): void {
    for (const managed of this.#all) managed.signal('SIGKILL');
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.#all.map((managed) => managed.stop()));
  }
}

/** A port free on 127.0.0.1 right now. */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Waits until `url` answers HTTP with `okStatus` (any status if omitted), or the process dies. */
async function waitForHttp(
  url: string,
  managed: Managed,
  timeoutMs: number,
  okStatus?: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  for (;;) {
    if (!managed.running) {
      throw new BenchFailure(`${managed.label} exited before ${url} answered:\n${managed.output}`);
    }
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      await response.arrayBuffer();
      if (okStatus === undefined || response.status === okStatus) return;
      last = `HTTP ${response.status}`;
    } catch (error) {
      last = String(error);
    }
    if (Date.now() > deadline) {
      throw new BenchFailure(
        `${managed.label}: ${url} did not answer in ${timeoutMs} ms (${last}):\n${managed.output}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

// ---------------------------------------------------------------------------------------------
// The three targets

async function startFakeUpstream(
  children: Children,
  settings: { chunks: number; delayMs: number },
): Promise<number> {
  const upstream = children.spawn('fake upstream', process.execPath, [
    '--import',
    'tsx',
    path.join(BENCH, 'fake-upstream.ts'),
    '--port',
    '0',
    '--chunks',
    String(settings.chunks),
    '--delay-ms',
    String(settings.delayMs),
  ]);
  const deadline = Date.now() + 30_000;
  for (;;) {
    const match = /\{"port":(\d+)\}/.exec(upstream.output);
    if (match) return Number(match[1]);
    if (!upstream.running) throw new BenchFailure(`the fake upstream exited:\n${upstream.output}`);
    if (Date.now() > deadline) throw new BenchFailure(`the fake upstream did not start:\n${upstream.output}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** The bare undici relay (bench/bare-proxy.ts): what any Node proxy costs, with no feature at all. */
async function startBareProxy(children: Children, upstreamPort: number): Promise<Target> {
  const proxy = children.spawn('bare proxy', process.execPath, [
    '--import',
    'tsx',
    path.join(BENCH, 'bare-proxy.ts'),
    '--port',
    '0',
    '--upstream',
    `http://127.0.0.1:${upstreamPort}`,
  ]);
  const deadline = Date.now() + 30_000;
  for (;;) {
    const match = /\{"port":(\d+)\}/.exec(proxy.output);
    if (match)
      return {
        name: 'bare proxy',
        origin: `http://127.0.0.1:${match[1]}`,
        headers: { authorization: `Bearer ${UPSTREAM_KEY}` },
        model: 'fake-model',
      };
    if (!proxy.running) throw new BenchFailure(`the bare proxy exited:\n${proxy.output}`);
    if (Date.now() > deadline) throw new BenchFailure(`the bare proxy did not start:\n${proxy.output}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function startKeyway(
  children: Children,
  dataDir: string,
  upstreamPort: number,
  burstPort: number,
): Promise<{ keyway: Target; limited: Target }> {
  const env = { KEYWAY_LOG_LEVEL: 'warn' };
  const data = ['--data', dataDir];
  const user = await runKeyway(
    ['admin', 'create-user', '--username', 'bench', '--admin', '--password-stdin', ...data],
    env,
    'bench password, long enough\n',
  );
  if (user.code !== 0)
    throw new BenchFailure(`keyway admin create-user failed (${user.code}):\n${user.stderr}`);
  const created = await runKeyway(
    ['admin', 'create-token', '--username', 'bench', '--name', 'bench', ...data],
    env,
  );
  const token = created.stdout.trim();
  if (created.code !== 0 || !token.startsWith('kw_')) {
    throw new BenchFailure(
      `keyway admin create-token failed (${created.code}):\n${created.stdout}\n${created.stderr}`,
    );
  }

  const limitedToken = await createLimitedMember(data, env);

  // At log level warn the "ready on" line is not written: a chosen port and /readyz tell instead.
  const port = await freePort();
  const server = new KeywayProcess(['serve', '--host', '127.0.0.1', '--port', String(port), ...data], env);
  const managed = children.adopt('keyway serve', server.child);
  const origin = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(`${origin}/readyz`, managed, 60_000, 200);
  } catch (error) {
    throw new BenchFailure(`${(error as Error).message}\n${server.stdout}\n${server.stderr}`);
  }

  for (const [name, port] of [
    ['bench', upstreamPort],
    ['burst', burstPort],
  ] as const) {
    const response = await fetch(`${origin}/api/credentials`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        name,
        provider: 'openai-compatible',
        secret: UPSTREAM_KEY,
        settings: { baseUrl: `http://127.0.0.1:${port}/v1` },
      }),
    });
    if (response.status !== 201 && response.status !== 200) {
      throw new BenchFailure(`POST /api/credentials answered ${response.status}: ${await response.text()}`);
    }
    await response.arrayBuffer();
  }
  const limited = await startLimitedCaller(origin, token, limitedToken, upstreamPort);
  return {
    keyway: {
      name: 'Keyway',
      origin,
      headers: { authorization: `Bearer ${token}` },
      model: 'bench/fake-model',
    },
    limited,
  };
}

/** A member for the limited caller, made offline before `serve` (the embedded database has one process at a time). */
async function createLimitedMember(data: string[], env: Record<string, string>): Promise<string> {
  const user = await runKeyway(
    ['admin', 'create-user', '--username', 'limited', '--password-stdin', ...data],
    env,
    'bench password, long enough\n',
  );
  if (user.code !== 0)
    throw new BenchFailure(`keyway admin create-user limited failed (${user.code}):\n${user.stderr}`);
  const created = await runKeyway(
    ['admin', 'create-token', '--username', 'limited', '--name', 'bench', ...data],
    env,
  );
  const token = created.stdout.trim();
  if (created.code !== 0 || !token.startsWith('kw_'))
    throw new BenchFailure(`keyway admin create-token limited failed (${created.code}):\n${created.stderr}`);
  return token;
}

/**
 * The same Keyway, called by a member whose requests use a grant that carries a USD budget and a
 * requests-per-minute limit, both far larger than the run can use: every request reserves from the
 * allowance ledger and settles its priced usage, and nothing is ever refused. A credential of its own
 * (same upstream) with a price for the fake model, granted to that member alone.
 */
async function startLimitedCaller(
  origin: string,
  adminToken: string,
  token: string,
  upstreamPort: number,
): Promise<Target> {
  const api = async (method: string, apiPath: string, body: unknown) => {
    const response = await fetch(`${origin}${apiPath}`, {
      method,
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const text = await response.text();
    if (response.status !== 201 && response.status !== 200)
      throw new BenchFailure(`${method} ${apiPath} answered ${response.status}: ${text}`);
    return JSON.parse(text) as { id: string };
  };
  const credential = await api('POST', '/api/credentials', {
    name: 'limited',
    provider: 'openai-compatible',
    secret: UPSTREAM_KEY,
    settings: { baseUrl: `http://127.0.0.1:${upstreamPort}/v1` },
    prices: { 'fake-model': { input: 1, output: 1 } },
  });
  const users = await fetch(`${origin}/api/users`, { headers: { authorization: `Bearer ${adminToken}` } });
  const listed = (await users.json()) as { id: string; username: string }[];
  const member = listed.find((entry) => entry.username === 'limited');
  if (!member) throw new BenchFailure('GET /api/users does not list the user "limited"');
  await api('POST', `/api/credentials/${credential.id}/grants`, {
    subject: { type: 'user', id: member.id },
    limits: { usd: { amount: 1_000_000, period: 'month' }, requestsPerMinute: 10_000_000 },
  });
  return {
    name: 'Keyway with limits',
    origin,
    headers: { authorization: `Bearer ${token}` },
    model: 'limited/fake-model',
  };
}

async function startPortkey(children: Children, upstreamPort: number): Promise<Target> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.NODE_OPTIONS;
  const portkey = children.spawn(
    'portkey',
    process.execPath,
    ['--import', path.join(BENCH, 'loopback-only.mjs'), PORTKEY_ENTRY, '--headless', `--port=${port}`],
    env,
  );
  const origin = `http://127.0.0.1:${port}`;
  await waitForHttp(`${origin}/`, portkey, 30_000);
  return {
    name: 'Portkey',
    origin,
    headers: {
      authorization: `Bearer ${UPSTREAM_KEY}`,
      'x-portkey-provider': 'openai',
      'x-portkey-custom-host': `http://127.0.0.1:${upstreamPort}/v1`,
    },
    model: 'fake-model',
  };
}

const chatBody = (target: Target, stream: boolean) =>
  JSON.stringify({
    model: target.model,
    messages: [{ role: 'user', content: 'hi' }],
    ...(stream ? { stream: true } : {}),
  });

// ---------------------------------------------------------------------------------------------
// Single requests: a sanity check of every target, and the overhead header sample

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

function post(target: Target, body: string, agent: http.Agent): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      target.origin + CHAT_PATH,
      { method: 'POST', agent, headers: { ...target.headers, 'content-type': 'application/json' } },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (part: string) => (text += part));
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, headers: response.headers, text }),
        );
        response.on('error', reject);
      },
    );
    request.setTimeout(15_000, () => request.destroy(new Error('timed out after 15 s')));
    request.on('error', reject);
    request.end(body);
  });
}

async function sanityCheck(target: Target, settings: GatewayBenchSettings): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const plain = await post(target, chatBody(target, false), agent).catch((error: Error) => {
      throw new BenchFailure(`${target.name}: a non-streamed request failed: ${error.message}`);
    });
    if (plain.status !== 200 || !plain.text.includes('"chat.completion"')) {
      throw new BenchFailure(
        `${target.name}: a non-streamed request answered ${plain.status}: ${plain.text.slice(0, 500)}`,
      );
    }
    if (target.name === 'Keyway' && plain.headers['x-keyway-overhead-ms'] === undefined) {
      throw new BenchFailure('Keyway: the response has no x-keyway-overhead-ms header');
    }
    await streamOnce(target, agent, settings);
  } finally {
    agent.destroy();
  }
}

async function overheadSample(target: Target, samples: number): Promise<GatewayReport['overhead']> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const values: number[] = [];
  try {
    for (let i = 0; i < samples; i++) {
      const reply = await post(target, chatBody(target, false), agent);
      const header = reply.headers['x-keyway-overhead-ms'];
      const value = Number(Array.isArray(header) ? header[0] : header);
      if (reply.status !== 200 || !Number.isFinite(value)) {
        throw new BenchFailure(
          `Keyway: overhead sample got ${reply.status}, header ${String(header)}: ${reply.text.slice(0, 300)}`,
        );
      }
      values.push(value);
    }
  } finally {
    agent.destroy();
  }
  const sorted = sortNumbers(values);
  return { samples, p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
}

// ---------------------------------------------------------------------------------------------
// Load with autocannon; latencies recorded per response at full (sub-millisecond) resolution

interface LoadOptions {
  connections: number;
  durationS: number;
  overallRate?: number;
  label: string;
}

async function load(target: Target, options: LoadOptions): Promise<ThroughputRow> {
  const latencies: number[] = [];
  const instance = autocannon({
    url: target.origin + CHAT_PATH,
    method: 'POST',
    headers: { ...target.headers, 'content-type': 'application/json' },
    body: chatBody(target, false),
    connections: options.connections,
    duration: options.durationS,
    timeout: 10,
    ...(options.overallRate ? { overallRate: options.overallRate } : {}),
  });
  instance.on('response', (_client, statusCode, _bytes, responseTime) => {
    if (statusCode >= 200 && statusCode < 300) latencies.push(responseTime);
  });
  const result = await instance;
  const bad = result.non2xx + result.errors + result.timeouts + result.resets + result.mismatches;
  if (bad > 0 || result['2xx'] === 0) {
    const codes = Object.entries(result.statusCodeStats)
      .map(([code, { count }]) => `${code}×${count}`)
      .join(', ');
    let example = '';
    const agent = new http.Agent({ keepAlive: false });
    try {
      const reply = await post(target, chatBody(target, false), agent);
      example = `\n  a request now answers ${reply.status}: ${reply.text.slice(0, 500)}`;
    } catch (error) {
      example = `\n  a request now fails: ${(error as Error).message}`;
    } finally {
      agent.destroy();
    }
    throw new BenchFailure(
      `${target.name} (${options.label}): ${result['2xx']} ok, ${result.non2xx} non-2xx [${codes}], ` +
        `${result.errors} errors, ${result.timeouts} timeouts, ${result.resets} resets${example}`,
    );
  }
  const sorted = sortNumbers(latencies);
  return {
    target: target.name,
    requests: result['2xx'],
    rps: result['2xx'] / result.duration,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
  };
}

/**
 * An open-loop load at an even rate: request i is sent at start + i × 1000/rate ms, over a keep-alive
 * pool of `connections` sockets, whatever the earlier ones are doing. Latency runs from the moment a
 * request is issued (a wait for a free socket counts) to the end of its response.
 */
async function paced(
  target: Target,
  rate: number,
  connections: number,
  durationS: number,
): Promise<ThroughputRow> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const body = chatBody(target, false);
  const run = async (seconds: number) => {
    const interval = 1000 / rate;
    const total = Math.round(rate * seconds);
    const latencies: number[] = [];
    const failures: string[] = [];
    const inflight: Promise<void>[] = [];
    const fire = () => {
      const issued = performance.now();
      inflight.push(
        post(target, body, agent).then(
          (reply) => {
            if (reply.status === 200) latencies.push(performance.now() - issued);
            else failures.push(`HTTP ${reply.status}: ${reply.text.slice(0, 300)}`);
          },
          (error: Error) => void failures.push(error.message),
        ),
      );
    };
    const started = performance.now();
    await new Promise<void>((resolve) => {
      let sent = 0;
      const tick = () => {
        const now = performance.now();
        while (sent < total && started + sent * interval <= now) {
          fire();
          sent++;
        }
        if (sent >= total) return resolve();
        setTimeout(tick, Math.max(0, started + sent * interval - performance.now()));
      };
      tick();
    });
    await Promise.all(inflight);
    const elapsedS = (performance.now() - started) / 1000;
    if (failures.length > 0) {
      throw new BenchFailure(
        `${target.name} (paced ${rate} req/s): ${failures.length} of ${total} failed, e.g. ${failures[0]}`,
      );
    }
    return { latencies, elapsedS };
  };
  try {
    await run(1); // opens the pool's connections
    const { latencies, elapsedS } = await run(durationS);
    const sorted = sortNumbers(latencies);
    return {
      target: target.name,
      requests: latencies.length,
      rps: latencies.length / elapsedS,
      p50: percentile(sorted, 50),
      p99: percentile(sorted, 99),
    };
  } finally {
    agent.destroy();
  }
}

const addedVersusFirst = (rows: ThroughputRow[]): RateRow[] =>
  rows.map((row) => ({ ...row, addedP50: row.p50 - rows[0]!.p50, addedP99: row.p99 - rows[0]!.p99 }));

// ---------------------------------------------------------------------------------------------
// Streaming: time to the first content chunk, and the gaps between content chunks at the client

/** How a streamed request is sent on one `/v1` ingress, and how its content and its last event look. */
interface Ingress {
  name: 'chat completions' | 'responses' | 'messages';
  path: string;
  body(model: string): string;
  /** One SSE `data:` payload: true when it carries content, `'end'` for the stream's last event. */
  read(data: string): boolean | 'end';
}

const CHAT_INGRESS: Ingress = {
  name: 'chat completions',
  path: CHAT_PATH,
  body: (model) => JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], stream: true }),
  read(data) {
    if (data === '[DONE]') return 'end';
    const chunk = JSON.parse(data) as { choices?: { delta?: { content?: unknown } }[] };
    const content = chunk.choices?.[0]?.delta?.content;
    return typeof content === 'string' && content.length > 0;
  },
};

/** `/v1/responses` and `/v1/messages`, translated to the same OpenAI-wire upstream as chat completions. */
const TRANSLATED_INGRESSES: Ingress[] = [
  {
    name: 'responses',
    path: '/v1/responses',
    body: (model) => JSON.stringify({ model, input: 'hi', stream: true }),
    read(data) {
      const event = JSON.parse(data) as { type?: string; delta?: unknown };
      if (event.type === 'response.completed') return 'end';
      return (
        event.type === 'response.output_text.delta' && typeof event.delta === 'string' && event.delta !== ''
      );
    },
  },
  {
    name: 'messages',
    path: '/v1/messages',
    body: (model) =>
      JSON.stringify({ model, max_tokens: 256, messages: [{ role: 'user', content: 'hi' }], stream: true }),
    read(data) {
      const event = JSON.parse(data) as { type?: string; delta?: { type?: string; text?: unknown } };
      if (event.type === 'message_stop') return 'end';
      return (
        event.type === 'content_block_delta' &&
        typeof event.delta?.text === 'string' &&
        event.delta.text !== ''
      );
    },
  },
];

interface StreamSample {
  headers: number;
  ttft: number;
  /** `x-keyway-overhead-ms`, where the response has one. */
  overheadMs: number | null;
  /** Arrival time of every content chunk, relative to the request being sent. */
  arrivals: number[];
}

function streamOnce(
  target: Target,
  agent: http.Agent,
  settings: Pick<GatewayBenchSettings, 'chunks'>,
  timeoutMs = 15_000,
  ingress: Ingress = CHAT_INGRESS,
): Promise<StreamSample> {
  return new Promise((resolve, reject) => {
    const fail = (message: string) => reject(new BenchFailure(`${target.name} (streaming): ${message}`));
    const arrivals: number[] = [];
    let sentAt = 0;
    let pending = '';
    let done = false;
    const request = http.request(
      target.origin + ingress.path,
      { method: 'POST', agent, headers: { ...target.headers, 'content-type': 'application/json' } },
      (response) => {
        const headersAt = performance.now() - sentAt;
        response.setEncoding('utf8');
        const type = String(response.headers['content-type'] ?? '');
        const overheadHeader = response.headers['x-keyway-overhead-ms'];
        const overheadMs = typeof overheadHeader === 'string' ? Number(overheadHeader) : null;
        if (response.statusCode !== 200 || !type.startsWith('text/event-stream')) {
          let text = '';
          response.on('data', (part: string) => (text += part));
          response.on('end', () => fail(`HTTP ${response.statusCode} ${type}: ${text.slice(0, 500)}`));
          return;
        }
        response.on('data', (part: string) => {
          const now = performance.now() - sentAt;
          pending += part;
          let end: number;
          while ((end = pending.indexOf('\n\n')) >= 0) {
            const event = pending.slice(0, end);
            pending = pending.slice(end + 2);
            for (const line of event.split('\n')) {
              if (!line.startsWith('data:')) continue;
              const read = ingress.read(line.slice(5).trim());
              if (read === 'end') done = true;
              else if (read) arrivals.push(now);
            }
          }
        });
        response.on('end', () => {
          if (!done)
            return fail(`the stream ended without its last event (${arrivals.length} content chunks)`);
          if (arrivals.length !== settings.chunks) {
            return fail(`${arrivals.length} content chunks arrived, the upstream sent ${settings.chunks}`);
          }
          resolve({ headers: headersAt, ttft: arrivals[0]!, overheadMs, arrivals });
        });
        response.on('error', (error) => fail(error.message));
      },
    );
    request.setTimeout(timeoutMs, () => request.destroy(new Error(`timed out after ${timeoutMs} ms`)));
    request.on('error', (error) => fail(error.message));
    sentAt = performance.now();
    request.end(ingress.body(target.model));
  });
}

async function streaming(
  target: Target,
  settings: GatewayBenchSettings,
  ingress: Ingress = CHAT_INGRESS,
): Promise<Omit<StreamRow, 'ttftAdded'> & { overheadMs: number[] }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const overheadMs: number[] = [];
  const ttfts: number[] = [];
  const headers: number[] = [];
  const spans: number[] = [];
  const gaps: number[] = [];
  try {
    for (let i = 0; i < settings.streams; i++) {
      const sample = await streamOnce(target, agent, settings, 15_000, ingress);
      ttfts.push(sample.ttft);
      headers.push(sample.headers);
      if (sample.overheadMs !== null) overheadMs.push(sample.overheadMs);
      spans.push(sample.arrivals.at(-1)! - sample.arrivals[0]!);
      for (let j = 1; j < sample.arrivals.length; j++)
        gaps.push(sample.arrivals[j]! - sample.arrivals[j - 1]!);
    }
  } finally {
    agent.destroy();
  }
  const sortedGaps = sortNumbers(gaps);
  return {
    target: target.name,
    headersMedian: median(headers),
    ttftMedian: median(ttfts),
    gapMedian: percentile(sortedGaps, 50),
    gapMin: sortedGaps[0] ?? Number.NaN,
    gapMax: sortedGaps.at(-1) ?? Number.NaN,
    paced: gaps.filter((gap) => gap >= settings.delayMs / 2).length,
    gaps: gaps.length,
    spanMedian: median(spans),
    overheadMs,
  };
}

/**
 * Many streams at once, as a busy gateway sees them: `burstStreams` streamed requests opened evenly
 * over `burstOpenMs`, each on its own connection. Every stream must arrive whole.
 */
async function burst(
  target: Target,
  settings: GatewayBenchSettings,
): Promise<Omit<BurstRow, 'addedP99' | 'round'>> {
  const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
  const chunkSettings = { ...settings, chunks: settings.burstChunks };
  try {
    const samples = await Promise.all(
      Array.from({ length: settings.burstStreams }, async (_, i) => {
        await new Promise((resolve) =>
          setTimeout(resolve, (i * settings.burstOpenMs) / settings.burstStreams),
        );
        return streamOnce(target, agent, chunkSettings, 60_000);
      }),
    );
    const firsts = sortNumbers(samples.map((sample) => sample.ttft));
    let maxGap = 0;
    for (const sample of samples)
      for (let j = 1; j < sample.arrivals.length; j++)
        maxGap = Math.max(maxGap, sample.arrivals[j]! - sample.arrivals[j - 1]!);
    return {
      target: target.name,
      firstChunkP50: percentile(firsts, 50),
      firstChunkP99: percentile(firsts, 99),
      complete: samples.length,
      streams: settings.burstStreams,
      maxGap,
    };
  } finally {
    agent.destroy();
  }
}

// ---------------------------------------------------------------------------------------------

const log = (message: string) => process.stderr.write(`[bench] ${message}\n`);

/** Starts the fake upstream, Keyway and Portkey, measures all three, and stops everything. */
export async function gatewayBenchmark(
  settings: GatewayBenchSettings = gatewaySettingsFromEnv(),
): Promise<GatewayReport> {
  if (!fs.existsSync(PORTKEY_ENTRY)) {
    throw new BenchFailure(`${PORTKEY_ENTRY} is missing: run npm install --prefix bench`);
  }
  const loadBefore = os.loadavg()[0]!;
  const children = new Children();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'keyway-bench-gateway-'));
  const cleanUpNow = () => {
    children.killAllNow();
    fs.rmSync(root, { recursive: true, force: true });
  };
  const onSignal = (signal: NodeJS.Signals) => {
    cleanUpNow();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.on('exit', cleanUpNow);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    log('starting the fake upstreams, a bare undici proxy, Keyway and Portkey');
    const upstreamPort = await startFakeUpstream(children, settings);
    const burstPort = await startFakeUpstream(children, {
      chunks: settings.burstChunks,
      delayMs: settings.burstDelayMs,
    });
    const [{ keyway, limited }, portkey, bare] = await Promise.all([
      startKeyway(children, path.join(root, 'keyway-data'), upstreamPort, burstPort),
      startPortkey(children, upstreamPort),
      startBareProxy(children, upstreamPort),
    ]);
    const direct: Target = {
      name: 'direct',
      origin: `http://127.0.0.1:${upstreamPort}`,
      headers: { authorization: `Bearer ${UPSTREAM_KEY}` },
      model: 'fake-model',
    };
    const targets = [direct, keyway, portkey];
    for (const target of [...targets, bare, limited]) await sanityCheck(target, settings);

    const throughput: ThroughputRow[] = [];
    // Keyway with and without limits back to back, so the machine's state is as alike as it gets.
    for (const target of [direct, bare, keyway, limited, portkey]) {
      log(`throughput: ${target.name} (${settings.warmupS} s warm-up, ${settings.durationS} s measured)`);
      await load(target, {
        connections: settings.connections,
        durationS: settings.warmupS,
        label: 'warm-up',
      });
      throughput.push(
        await load(target, {
          connections: settings.connections,
          durationS: settings.durationS,
          label: 'throughput',
        }),
      );
    }

    if (settings.throughputOnly) {
      return {
        load: { cores: os.availableParallelism(), before: loadBefore, after: os.loadavg()[0]! },
        settings,
        throughput,
        rate: [],
        paced: null,
        streaming: [],
        ingresses: [],
        burst: [],
        overhead: null,
        streamOverheadP50: Number.NaN,
      };
    }

    const rateRuns: ThroughputRow[] = [];
    for (const target of targets) {
      log(`fixed rate: ${target.name} (${settings.rate} req/s for ${settings.rateDurationS} s)`);
      rateRuns.push(
        await load(target, {
          connections: settings.rateConnections,
          durationS: settings.rateDurationS,
          overallRate: settings.rate,
          label: `${settings.rate} req/s`,
        }),
      );
    }
    const rate = addedVersusFirst(rateRuns);

    let pacedRows: RateRow[] | null = null;
    if (settings.paced) {
      const pacedRuns: ThroughputRow[] = [];
      for (const target of targets) {
        log(`evenly paced: ${target.name} (${settings.rate} req/s for ${settings.rateDurationS} s)`);
        pacedRuns.push(await paced(target, settings.rate, settings.rateConnections, settings.rateDurationS));
      }
      pacedRows = addedVersusFirst(pacedRuns);
    }

    const streamRows: StreamRow[] = [];
    let streamOverheadP50 = Number.NaN;
    for (const target of targets) {
      log(`streaming: ${target.name} (${settings.streams} sequential requests)`);
      const { overheadMs, ...row } = await streaming(target, settings);
      if (target.name === 'Keyway') streamOverheadP50 = median(overheadMs);
      streamRows.push({ ...row, ttftAdded: row.ttftMedian - (streamRows[0]?.ttftMedian ?? row.ttftMedian) });
    }

    // The other ingresses, translated: what they add to the first chunk next to chat completions.
    const ingressRows: IngressRow[] = [];
    const directTtft = streamRows[0]!.ttftMedian;
    const chatAdded = streamRows.find((row) => row.target === 'Keyway')!.ttftAdded;
    for (const ingress of TRANSLATED_INGRESSES) {
      log(`streaming: Keyway ${ingress.path} (${settings.streams} sequential requests)`);
      const row = await streaming(keyway, settings, ingress);
      const added = row.ttftMedian - directTtft;
      ingressRows.push({
        path: ingress.path,
        ttftMedian: row.ttftMedian,
        added,
        versusChat: added / Math.max(chatAdded, 0.01),
      });
    }

    const burstRows: BurstRow[] = [];
    const burstTargets: Target[] = [
      { ...direct, origin: `http://127.0.0.1:${burstPort}` },
      { ...bare, headers: { ...bare.headers, 'x-bare-upstream': `http://127.0.0.1:${burstPort}` } },
      { ...keyway, model: 'burst/fake-model' },
    ];
    // Each target twice in a row: the first burst also opens its upstream connections and runs cold
    // code paths; the second shows the steady state. Both are reported.
    for (const round of ['first', 'second'] as const)
      for (const target of burstTargets) {
        log(
          `burst (${round}): ${target.name} (${settings.burstStreams} streams opened over ${settings.burstOpenMs} ms)`,
        );
        const row = await burst(target, settings);
        const direct = burstRows.find((other) => other.round === round && other.target === 'direct');
        burstRows.push({
          ...row,
          round,
          addedP99: row.firstChunkP99 - (direct?.firstChunkP99 ?? row.firstChunkP99),
        });
      }

    log(`x-keyway-overhead-ms: ${settings.overheadSamples} sequential requests`);
    const overhead = await overheadSample(keyway, settings.overheadSamples);
    return {
      load: { cores: os.availableParallelism(), before: loadBefore, after: os.loadavg()[0]! },
      settings,
      throughput,
      rate,
      paced: pacedRows,
      streaming: streamRows,
      ingresses: ingressRows,
      burst: burstRows,
      overhead,
      streamOverheadP50,
    };
  } finally {
    await children.stopAll();
    fs.rmSync(root, { recursive: true, force: true });
    process.off('exit', cleanUpNow);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

// ---------------------------------------------------------------------------------------------
// Report

const ms = (value: number) => `${value.toFixed(2)} ms`;
const signedMs = (value: number) => `${value >= 0 ? '+' : '−'}${Math.abs(value).toFixed(2)} ms`;
const count = (value: number) => Math.round(value).toLocaleString('en-US');

export function formatGatewayReport(report: GatewayReport): string {
  const { settings: s } = report;
  const lines: string[] = [];
  const by = <T extends { target: TargetName }>(rows: T[], name: TargetName) =>
    rows.find((row) => row.target === name)!;

  const direct = by(report.throughput, 'direct');
  const { load } = report;
  lines.push(
    `Gateway: direct to the fake upstream vs through Keyway vs through Portkey 1.15.2, all on 127.0.0.1; ` +
      `${load.cores} cores shared by the load generator, upstream and gateway; 1-min load average ${load.before.toFixed(2)} before the run` +
      (load.before > load.cores / 4 ? ' (other work was running: treat the numbers with care)' : '') +
      `, ${load.after.toFixed(2)} after it (its own load included)`,
    '',
    `Throughput: non-streamed POST ${CHAT_PATH}, autocannon c=${s.connections}, ${s.durationS} s after a ${s.warmupS} s warm-up`,
    '',
    '| target | req/s | p50 | p99 | requests | share of direct |',
    '|---|---:|---:|---:|---:|---:|',
  );
  for (const row of report.throughput) {
    lines.push(
      `| ${row.target} | ${count(row.rps)} | ${ms(row.p50)} | ${ms(row.p99)} | ${count(row.requests)} | ${((100 * row.rps) / direct.rps).toFixed(1)} % |`,
    );
  }
  const ratio = by(report.throughput, 'Keyway').rps / by(report.throughput, 'Portkey').rps;
  const bareRatio = by(report.throughput, 'Keyway').rps / by(report.throughput, 'bare proxy').rps;
  lines.push(
    '',
    `Keyway / Portkey throughput: **${ratio.toFixed(2)}×** (goal ≥ 6×: ${ratio >= 6 ? 'met' : 'NOT met'}); ` +
      `Keyway / bare undici proxy: **${bareRatio.toFixed(2)}×** (goal ≥ 0.65×: ${bareRatio >= 0.65 ? 'met' : 'NOT met'})`,
    '',
  );
  const limitedRatio = by(report.throughput, 'Keyway with limits').rps / by(report.throughput, 'Keyway').rps;
  lines.push(
    `Keyway with limits / Keyway: **${limitedRatio.toFixed(2)}×** (the caller's grant carries a USD budget and a ` +
      `requests-per-minute limit, both far from reached; goal ≥ 0.9×: ${limitedRatio >= 0.9 ? 'met' : 'NOT met'})`,
    '',
  );
  if (s.throughputOnly) return lines.join('\n');

  const rateTable = (title: string, rows: RateRow[]) => {
    lines.push(
      title,
      '',
      '| target | req/s | p50 | p99 | added p50 | added p99 |',
      '|---|---:|---:|---:|---:|---:|',
    );
    for (const row of rows) {
      const added =
        row.target === 'direct' ? '| — | — |' : `| ${signedMs(row.addedP50)} | ${signedMs(row.addedP99)} |`;
      lines.push(`| ${row.target} | ${count(row.rps)} | ${ms(row.p50)} | ${ms(row.p99)} ${added}`);
    }
    const keyway = by(rows, 'Keyway');
    const met = keyway.addedP50 <= 1 && keyway.addedP99 <= 3;
    lines.push('', `Keyway added latency goal (≤ 1 ms p50, ≤ 3 ms p99): ${met ? 'met' : 'NOT met'}`, '');
  };
  rateTable(
    `Added latency at ${s.rate} req/s: autocannon overallRate=${s.rate}, c=${s.rateConnections}, ${s.rateDurationS} s ` +
      `(autocannon sends each connection's share of a second back to back at the start of the second: bursts at c=${s.rateConnections})`,
    report.rate,
  );
  if (report.paced) {
    rateTable(
      `Added latency at ${s.rate} req/s sent evenly: one request every ${(1000 / s.rate).toFixed(1)} ms, open loop, ` +
        `keep-alive pool of ${s.rateConnections}, ${s.rateDurationS} s after 1 s`,
      report.paced,
    );
  }

  lines.push(
    `Streaming: ${s.streams} sequential streamed requests per target; the upstream sends ${s.chunks} content chunks ${s.delayMs} ms apart (the first at once)`,
    '',
    `| target | response headers (median) | first chunk (median) | added vs direct | gap between chunks (median) | min gap | max gap | gaps ≥ ${s.delayMs / 2} ms | first → last chunk (median; upstream ${(s.chunks - 1) * s.delayMs} ms) |`,
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  );
  for (const row of report.streaming) {
    const added = row.target === 'direct' ? '—' : signedMs(row.ttftAdded);
    lines.push(
      `| ${row.target} | ${ms(row.headersMedian)} | ${ms(row.ttftMedian)} | ${added} | ${ms(row.gapMedian)} | ${ms(row.gapMin)} | ${ms(row.gapMax)} | ${row.paced}/${row.gaps} | ${ms(row.spanMedian)} |`,
    );
  }
  if (report.ingresses.length > 0) {
    const chat = report.streaming.find((row) => row.target === 'Keyway');
    lines.push(
      '',
      `Other ingresses, translated to the same OpenAI-wire upstream (${s.streams} sequential streamed requests each; chat completions add ${chat ? signedMs(chat.ttftAdded) : '?'} to the first chunk)`,
      '',
      '| route | first chunk (median) | added vs direct | added / chat completions’ | goal ≤ 2× |',
      '|---|---:|---:|---:|---|',
    );
    for (const row of report.ingresses)
      lines.push(
        `| ${row.path} | ${ms(row.ttftMedian)} | ${signedMs(row.added)} | ${row.versusChat.toFixed(2)}× | ${row.versusChat <= 2 ? 'met' : 'NOT met'} |`,
      );
  }
  lines.push(
    '',
    `Many streams at once: ${s.burstStreams} streams opened evenly over ${s.burstOpenMs} ms, the upstream sending ${s.burstChunks} chunks ${s.burstDelayMs} ms apart`,
    '',
    '| burst | target | first chunk p50 | first chunk p99 | added p99 vs direct | complete | longest gap |',
    '|---|---|---:|---:|---:|---:|---:|',
  );
  for (const row of report.burst) {
    const added = row.target === 'direct' ? '—' : signedMs(row.addedP99);
    lines.push(
      `| ${row.round} | ${row.target} | ${ms(row.firstChunkP50)} | ${ms(row.firstChunkP99)} | ${added} | ${row.complete}/${row.streams} | ${ms(row.maxGap)} |`,
    );
  }
  for (const round of ['first', 'second'] as const) {
    const burstKeyway = report.burst.find((row) => row.round === round && row.target === 'Keyway');
    const burstBare = report.burst.find((row) => row.round === round && row.target === 'bare proxy');
    if (!burstKeyway || !burstBare) continue;
    const burstRatio = burstKeyway.addedP99 / Math.max(burstBare.addedP99, 0.01);
    const met =
      burstRatio <= 1.5 && burstKeyway.complete === burstKeyway.streams && burstKeyway.maxGap <= 250;
    lines.push(
      '',
      `${round === 'first' ? 'First' : 'Second'} burst: Keyway added first-chunk p99 / the bare proxy's: **${burstRatio.toFixed(2)}×**; every stream complete and no gap over 250 ms: ` +
        `goal (≤ 1.5×) ${met ? 'met' : 'NOT met'}`,
    );
  }
  if (report.overhead)
    lines.push(
      '',
      `Keyway \`x-keyway-overhead-ms\` over ${report.overhead.samples} sequential non-streamed requests: median ${ms(report.overhead.p50)}, p99 ${ms(report.overhead.p99)}` +
        ` (streamed responses: median ${ms(report.streamOverheadP50)} to the response headers)`,
    );
  return lines.join('\n');
}
