import { randomBytes } from 'node:crypto';
import OpenAI, { APIError } from 'openai';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startFakeOpenAiChat, type FakeOpenAiChat } from './fakes/fake-openai-chat.ts';
import { fakeKey } from './support/gateway-harness.ts';
import { ProcessPool } from './support/keyway-process.ts';
import { bootstrapAdmin, callServer, serveReady } from './support/process-keyway.ts';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy.ts';
import { createTestDatabase, type TestDatabaseTarget } from './support/test-database.ts';

/** One request of the load: when it was sent and answered, on the test's clock. */
interface Answered {
  method: string;
  path: string;
  status: number;
  sentAt: number;
  answeredAt: number;
}

/**
 * PostgreSQL goes away under load: its connections are terminated (a restart, a failover,
 * `pg_terminate_backend`) or the server cannot be reached at all. Keyway must stay up, answer 503
 * (never 500) while the database is away — on `/api` and on `/v1`, in OpenAI's envelope — and only
 * then, say so on `/readyz`, and serve again by itself.
 */
describe('PostgreSQL outages under load [postgres]', () => {
  const pool = new ProcessPool();
  const key = fakeKey();
  let target: TestDatabaseTarget;
  let proxy: TcpProxy;
  let upstream: FakeOpenAiChat;

  beforeEach(async () => {
    target = await createTestDatabase('postgres');
    const url = new URL(target.flags[1]!);
    proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port || 5432) });
    upstream = await startFakeOpenAiChat({ validKeys: [key] });
  });
  afterEach(async () => {
    await pool.stopAll();
    await proxy.close();
    await upstream.close();
    await target.dispose();
  });

  it('survives terminated connections and an unreachable server, answering 503 only while it is down and resuming', async () => {
    const env = { KEYWAY_MASTER_KEY: randomBytes(32).toString('base64') };
    const token = await bootstrapAdmin(target.flags, env);
    const direct = new URL(target.flags[1]!);
    const viaProxy = new URL(direct);
    viaProxy.host = `127.0.0.1:${proxy.port}`;
    const { server, url } = await serveReady(pool, ['--database-url', viaProxy.toString()], env);
    // An admin's credential on the fake provider (loopback is allowed for the test's admin).
    const credential = await callServer(url, 'POST', '/api/credentials', {
      token,
      body: { name: 'fake', provider: 'openai', secret: key, settings: { baseUrl: upstream.url } },
    });
    expect(credential.status, credential.text).toBe(201);
    // A token first used while the database is away: its owner cannot be looked up.
    const fresh = await callServer(url, 'POST', '/api/tokens', { token, body: { name: 'fresh' } });
    expect(fresh.status, fresh.text).toBe(201);
    const freshToken = fresh.body.token as string;

    // Load: reads, acknowledged writes and /v1 completions, as fast as two cores allow, until told to stop.
    const answered: Answered[] = [];
    const created: string[] = [];
    let running = true;
    // A request that got no HTTP answer at all (the process died, the socket was cut) counts as 0.
    const send = async (method: string, path: string, body?: unknown) => {
      const sentAt = Date.now();
      const response = await callServer(url, method, path, { token, ...(body ? { body } : {}) }).catch(
        () => ({ status: 0, body: undefined, text: '' }),
      );
      answered.push({ method, path, status: response.status, sentAt, answeredAt: Date.now() });
      return response;
    };
    const worker = async () => {
      while (running) {
        const write = await send('POST', '/api/conversations', {
          model: 'any/model',
          title: `t-${randomBytes(4).toString('hex')}`,
        });
        if (write.status === 201) created.push(write.body.id as string);
        await send('GET', '/api/conversations?limit=5');
        await send('POST', '/v1/chat/completions', {
          model: 'fake/gpt-4o-mini',
          messages: [{ role: 'user', content: 'hi' }],
        });
      }
    };
    const workers = Array.from({ length: 8 }, worker);
    // When the database went away and came back, on the same clock as `answered`.
    const times = { firstKill: 0, killsOver: 0, cut: 0, restore: 0, restored: 0 };

    const admin = new pg.Client({ connectionString: direct.toString() });
    admin.on('error', () => {});
    await admin.connect();
    try {
      const terminateKeyway = async () =>
        (
          await admin.query(
            `SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
              WHERE datname = current_database() AND pid <> pg_backend_pid()`,
          )
        ).rowCount ?? 0;
      const until = async (predicate: () => Promise<boolean>, what: string) => {
        const deadline = Date.now() + 20_000;
        while (!(await predicate())) {
          if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      };
      const served = () => created.length;

      // Three rounds of every Keyway connection being killed mid-load (the listener's included).
      for (let round = 0; round < 3; round++) {
        const before = served();
        await until(async () => served() > before + 5, 'writes before a kill');
        times.firstKill ||= Date.now();
        expect(await terminateKeyway()).toBeGreaterThan(0);
      }
      const afterKills = served();
      await until(async () => served() > afterKills + 20, 'writes after the kills');
      times.killsOver = Date.now();
      // Load that starts now is served in full before the cut.
      const settled = served();
      await until(async () => served() > settled + 20, 'writes between the kills and the outage');

      // The server becomes unreachable: /readyz and requests say 503, nothing says 500.
      times.cut = Date.now();
      proxy.cut();
      await until(async () => (await fetch(`${url}/readyz`)).status === 503, '/readyz 503');
      const readyz = await callServer(url, 'GET', '/readyz');
      expect(readyz.body).toMatchObject({ status: 'not_ready' });
      const during = await callServer(url, 'GET', '/api/conversations', { token });
      expect(during.status).toBe(503);
      expect(during.body.error.code).toBe('database_unavailable');
      expect(during.text).not.toMatch(/ECONN|pg_|at .*\.js|127\.0\.0\.1/);
      // /v1 serves warm tokens from memory (its hot path makes no database round trip; usage is
      // kept for later). What needs the database answers 503 in OpenAI's envelope, which an SDK
      // reads as a retryable server error: here, a token not seen before.
      const v1During = await fetch(`${url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${freshToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'fake/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
      });
      const v1Text = await v1During.text();
      expect(v1During.status).toBe(503);
      expect(JSON.parse(v1Text)).toEqual({
        error: {
          message: expect.any(String),
          type: 'api_error',
          param: null,
          code: 'database_unavailable',
        },
      });
      expect(v1During.headers.get('retry-after')).toBe('1');
      expect(v1Text).not.toMatch(/ECONN|pg_|at .*\.js|127\.0\.0\.1/);
      const openai = new OpenAI({ baseURL: `${url}/v1`, apiKey: freshToken, maxRetries: 0 });
      const sdkError = await openai.chat.completions
        .create({ model: 'fake/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] })
        .then(
          () => null,
          (error: unknown) => error,
        );
      expect(sdkError).toBeInstanceOf(APIError);
      expect([(sdkError as APIError).status, (sdkError as APIError).code]).toEqual([
        503,
        'database_unavailable',
      ]);

      times.restore = Date.now();
      proxy.restore();
      await until(async () => (await fetch(`${url}/readyz`)).status === 200, '/readyz 200 again');
      times.restored = Date.now();
      const afterOutage = served();
      await until(async () => served() > afterOutage + 20, 'writes after the outage');
    } finally {
      running = false;
      await Promise.all(workers);
      await admin.end();
    }

    expect(server.child.exitCode).toBeNull();
    expect(server.child.signalCode).toBeNull();
    // Only successes and 503s: no 500, no dropped connection (a request with no answer counts as 0).
    const statuses = new Set(answered.map((request) => request.status));
    expect([...statuses].sort()).toEqual(expect.arrayContaining([200, 201, 503]));
    expect(answered.filter((request) => ![200, 201, 503].includes(request.status))).toEqual([]);
    expect(server.stdout + server.stderr).not.toMatch(/unhandled error|Unhandled 'error'/);

    // 503s only while the database is away: every request answered before the first kill, sent
    // after the kills were over and answered before the cut, or sent after /readyz said 200 again
    // succeeded — /v1 included.
    const whileUp = answered.filter(
      (request) =>
        request.answeredAt < times.firstKill ||
        (request.sentAt > times.killsOver && request.answeredAt < times.cut) ||
        request.sentAt > times.restored,
    );
    const v1WhileUp = whileUp.filter((request) => request.path === '/v1/chat/completions');
    expect(v1WhileUp.length).toBeGreaterThan(10);
    expect(whileUp.filter((request) => request.status !== 200 && request.status !== 201)).toEqual([]);
    // While the server was unreachable, /api answered 503 and /v1 (warm) 200 or 503, nothing else.
    const whileCut = answered.filter(
      (request) => request.sentAt > times.cut && request.answeredAt < times.restore,
    );
    const seen = new Set(
      whileCut.map((request) => `${request.method} ${request.path.split('?')[0]} ${request.status}`),
    );
    expect(seen).toContain('POST /api/conversations 503');
    expect(seen).toContain('GET /api/conversations 503');
    expect(
      [...seen].filter((answer) => !answer.endsWith(' 503') && answer !== 'POST /v1/chat/completions 200'),
    ).toEqual([]);

    // Every acknowledged write is there.
    const check = new pg.Client({ connectionString: direct.toString() });
    check.on('error', () => {});
    await check.connect();
    const rows = await check
      .query<{ id: string }>('SELECT id FROM chat_conversations')
      .then((result) => result.rows)
      .finally(() => check.end());
    const stored = new Set(rows.map((row) => row.id));
    expect(created.filter((id) => !stored.has(id))).toEqual([]);
  });
});
