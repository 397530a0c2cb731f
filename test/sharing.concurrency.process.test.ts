import OpenAI, { APIError } from 'openai';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeMeteredOpenAi, type FakeMeteredOpenAi } from './fakes/fake-metered-openai.ts';
import { fakeKey } from './support/gateway-harness.ts';
import { ProcessPool, runKeyway } from './support/keyway-process.ts';
import { bootstrapAdmin, callServer, serveReady } from './support/process-keyway.ts';
import { createTestDatabase, type TestDatabaseTarget } from './support/test-database.ts';

/**
 * Two Keyway processes on one PostgreSQL, 200 requests at once split over both: whatever the
 * interleaving, a grant's budget, tokens-per-minute and requests-per-minute limits hold across the
 * nodes — every request is answered (a success or a 429 naming the limit), and what is settled never
 * passes the limit.
 */
const REQUESTS = 200;
/** Each full answer: 20 completion tokens, streamed 2 ms apart. */
const PIECES = 20;
const MAX_TOKENS = PIECES;
const MESSAGES = [{ role: 'user' as const, content: 'Count to twenty, please.' }];
/** Per million tokens. */
const PRICE = { input: 1, output: 1 };

type Outcome =
  | { kind: 'ok'; tokens: number }
  | { kind: 'refused'; status: number; code: string | null; retryAfter: string | null }
  | { kind: 'failed'; detail: string };

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('limits across two Keyway processes on one PostgreSQL [postgres]', () => {
  const pool = new ProcessPool();
  const key = fakeKey();
  let target: TestDatabaseTarget;
  let upstream: FakeMeteredOpenAi;
  let db: pg.Client;
  let adminToken: string;
  let clients: OpenAI[];
  let nodes: string[];
  let credentials = 0;

  beforeAll(async () => {
    target = await createTestDatabase('postgres');
    upstream = await startFakeMeteredOpenAi({ validKey: key, pieces: PIECES, delayMs: 2 });
    const env = { ...target.env };
    adminToken = await bootstrapAdmin(target.flags, env);
    const member = await runKeyway(
      ['admin', 'create-user', '--username', 'bob', '--password-stdin', ...target.flags],
      env,
      'a long member password\n',
    );
    expect(member.code, member.stderr).toBe(0);
    const token = await runKeyway(
      ['admin', 'create-token', '--username', 'bob', '--name', 'load', ...target.flags],
      env,
    );
    expect(token.code, token.stderr).toBe(0);
    const started = await Promise.all([0, 1].map(() => serveReady(pool, target.flags, env)));
    nodes = started.map(({ url }) => url);
    clients = nodes.map(
      (url) =>
        new OpenAI({ apiKey: token.stdout.trim(), baseURL: `${url}/v1`, maxRetries: 0, timeout: 30_000 }),
    );
    db = new pg.Client({ connectionString: target.flags[1] });
    await db.connect();
  });
  afterAll(async () => {
    await db?.end();
    await pool.stopAll();
    await upstream?.close();
    await target?.dispose();
  });

  /** A credential of the fake upstream, priced, granted to everyone with `limits`. */
  async function grantWith(limits: Record<string, unknown>) {
    const name = `lab${++credentials}`;
    const credential = await callServer(nodes[0]!, 'POST', '/api/credentials', {
      token: adminToken,
      body: {
        name,
        provider: 'openai-compatible',
        secret: key,
        settings: { baseUrl: upstream.url },
        prices: { 'model-x': PRICE },
      },
    });
    expect(credential.status, credential.text).toBe(201);
    const grant = await callServer(nodes[0]!, 'POST', `/api/credentials/${credential.body.id}/grants`, {
      token: adminToken,
      body: { subject: { type: 'everyone' }, limits },
    });
    expect(grant.status, grant.text).toBe(201);
    return { model: `${name}/model-x`, credentialId: credential.body.id as string, grantId: grant.body.id };
  }

  /** One request through node `i % 2`; every fourth pair streams (half of them in all). */
  async function send(i: number, model: string, options: { stream: boolean }): Promise<Outcome> {
    const client = clients[i % 2]!;
    try {
      if (!options.stream) {
        const answer = await client.chat.completions.create({
          model,
          messages: MESSAGES,
          max_tokens: MAX_TOKENS,
        });
        return { kind: 'ok', tokens: answer.usage!.total_tokens };
      }
      const stream = await client.chat.completions.create({
        model,
        messages: MESSAGES,
        max_tokens: MAX_TOKENS,
        stream: true,
        stream_options: { include_usage: true },
      });
      let tokens: number | undefined;
      for await (const chunk of stream) if (chunk.usage) tokens = chunk.usage.total_tokens;
      if (tokens === undefined) return { kind: 'failed', detail: 'a stream ended without its usage' };
      return { kind: 'ok', tokens };
    } catch (error) {
      if (error instanceof APIError && error.status !== undefined && error.status < 500)
        return {
          kind: 'refused',
          status: error.status,
          code: (error.code as string | null | undefined) ?? null,
          retryAfter: error.headers?.get('retry-after') ?? null,
        };
      return { kind: 'failed', detail: `${(error as Error).name}: ${(error as Error).message}` };
    }
  }

  async function burst(model: string, streaming: boolean): Promise<Outcome[]> {
    return Promise.all(
      Array.from({ length: REQUESTS }, (_, i) => send(i, model, { stream: streaming && i % 4 >= 2 })),
    );
  }

  /** Waits until both nodes reported everything and gave back what they held idle. */
  async function settledWindows(prefix: string, credentialId: string, successes: number) {
    let last: unknown;
    return until(`both nodes to settle ${prefix}`, async () => {
      const windows = await db.query<{ window_start: Date; cap: string; settled: string; leased: string }>(
        'SELECT window_start, cap, settled, leased FROM limit_windows WHERE key = $1 ORDER BY window_start',
        [prefix],
      );
      const usage = await db.query<{ rows: string; cost: string | null; tokens: string | null }>(
        `SELECT count(*) AS rows, sum(cost_usd) AS cost, sum(input_tokens + output_tokens) AS tokens
           FROM usage_events WHERE credential_id = $1 AND status = 200`,
        [credentialId],
      );
      const row = usage.rows[0]!;
      const leased = windows.rows.reduce((sum, window) => sum + Number(window.leased), 0);
      last = { windows: windows.rows, usage: row, successes };
      if (Number(row.rows) !== successes || leased !== 0) return undefined;
      return {
        windows: windows.rows.map((window) => ({
          start: window.window_start,
          cap: Number(window.cap),
          settled: Number(window.settled),
        })),
        cost: Number(row.cost ?? 0),
        tokens: Number(row.tokens ?? 0),
      };
    }).catch((error: Error) => {
      throw new Error(`${error.message}; last seen: ${JSON.stringify(last)}`);
    });
  }

  function tally(outcomes: Outcome[]) {
    const ok = outcomes.filter((outcome) => outcome.kind === 'ok');
    const refused = outcomes.filter((outcome) => outcome.kind === 'refused');
    const failed = outcomes.filter((outcome) => outcome.kind === 'failed');
    expect(failed.map((outcome) => outcome.detail)).toEqual([]);
    expect(ok.length + refused.length).toBe(REQUESTS);
    return { ok, refused };
  }

  const costOf = (tokens: { prompt_tokens: number; completion_tokens: number }) =>
    (tokens.prompt_tokens * PRICE.input + tokens.completion_tokens * PRICE.output) / 1e6;

  it('never spends past a grant’s USD budget, and refuses the rest with budget_exceeded', async () => {
    const full = upstream.usageFor(MESSAGES, MAX_TOKENS);
    // Enough for about 50 whole answers of the 200.
    const budget = 50 * costOf(full);
    const { model, credentialId, grantId } = await grantWith({ usd: { amount: budget, period: 'month' } });

    const outcomes = await burst(model, true);
    const { ok, refused } = tally(outcomes);
    expect(ok.length).toBeGreaterThan(0);
    expect(ok.every((outcome) => outcome.tokens === full.prompt_tokens + full.completion_tokens)).toBe(true);
    for (const outcome of refused) expect(outcome).toMatchObject({ status: 429, code: 'budget_exceeded' });

    const settled = await settledWindows(`grant:${grantId}:usd:month`, credentialId, ok.length);
    expect(settled.windows).toHaveLength(1);
    expect(settled.windows[0]!.settled).toBeLessThanOrEqual(budget + 1e-12);
    expect(settled.cost).toBeLessThanOrEqual(budget + 1e-12);
    // What the ledger settled is exactly what the usage rows cost.
    expect(settled.windows[0]!.settled).toBeCloseTo(settled.cost, 12);
    expect(settled.cost).toBeCloseTo(ok.length * costOf(full), 12);
    // Both nodes agree on what the grant spent.
    for (const node of nodes) {
      const grants = await callServer(node, 'GET', `/api/credentials/${credentialId}/grants`, {
        token: adminToken,
      });
      expect(grants.body.grants[0].spent.usd).toBeCloseTo(settled.cost, 6);
    }
    console.info(
      `[usd] budget $${budget.toFixed(6)}: ${ok.length} answered, ${refused.length} refused; settled $${settled.cost.toFixed(6)}`,
    );
  });

  it('never settles more tokens in a minute than a grant’s tokensPerMinute', async () => {
    const full = upstream.usageFor(MESSAGES, MAX_TOKENS);
    const perMinute = 50 * (full.prompt_tokens + full.completion_tokens);
    const { model, credentialId, grantId } = await grantWith({ tokensPerMinute: perMinute });

    const outcomes = await burst(model, true);
    const { ok, refused } = tally(outcomes);
    expect(ok.length).toBeGreaterThan(0);
    for (const outcome of refused) {
      expect(outcome).toMatchObject({ status: 429, code: 'rate_limited' });
      expect(Number(outcome.kind === 'refused' && outcome.retryAfter)).toBeGreaterThan(0);
    }

    const settled = await settledWindows(`grant:${grantId}:tpm`, credentialId, ok.length);
    // One minute window, or two when the minute turned during the burst: each within the limit.
    expect(settled.windows.length).toBeGreaterThanOrEqual(1);
    expect(settled.windows.length).toBeLessThanOrEqual(2);
    for (const window of settled.windows) expect(window.settled).toBeLessThanOrEqual(perMinute);
    const total = settled.windows.reduce((sum, window) => sum + window.settled, 0);
    expect(total).toBe(settled.tokens);
    expect(total).toBe(ok.length * (full.prompt_tokens + full.completion_tokens));
    console.info(
      `[tpm] ${perMinute} tokens/min: ${ok.length} answered, ${refused.length} refused; ${settled.windows.length} window(s), ${total} tokens settled`,
    );
  });

  it('lets at most requestsPerMinute requests through across both nodes, refusing the rest with retry-after', async () => {
    const perMinute = 30;
    const { model, credentialId, grantId } = await grantWith({ requestsPerMinute: perMinute });
    const before = Math.floor(Date.now() / 60_000);
    const outcomes = await burst(model, false);
    const after = Math.floor(Date.now() / 60_000);
    const { ok, refused } = tally(outcomes);
    expect(ok.length).toBeGreaterThan(0);
    expect(ok.length).toBeLessThanOrEqual(perMinute * (after - before + 1));
    if (before === after) expect(ok.length).toBeLessThanOrEqual(perMinute);
    for (const outcome of refused) {
      expect(outcome).toMatchObject({ status: 429, code: 'rate_limited' });
      const retryAfter = Number(outcome.kind === 'refused' ? outcome.retryAfter : NaN);
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
    }
    const settled = await settledWindows(`grant:${grantId}:rpm`, credentialId, ok.length);
    for (const window of settled.windows) expect(window.settled).toBeLessThanOrEqual(perMinute);
    expect(settled.windows.reduce((sum, window) => sum + window.settled, 0)).toBe(ok.length);
    console.info(`[rpm] ${perMinute}/min: ${ok.length} answered, ${refused.length} refused`);
  });
});
