import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ProcessPool } from './support/keyway-process.ts';
import { bootstrapAdmin, callServer, serveReady } from './support/process-keyway.ts';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy.ts';
import { createTestDatabase, type TestDatabaseTarget } from './support/test-database.ts';

/**
 * PostgreSQL goes away under load: its connections are terminated (a restart, a failover,
 * `pg_terminate_backend`) or the server cannot be reached at all. Keyway must stay up, answer 503
 * (never 500) while the database is away, say so on `/readyz`, and serve again by itself.
 */
describe('PostgreSQL outages under load [postgres]', () => {
  const pool = new ProcessPool();
  let target: TestDatabaseTarget;
  let proxy: TcpProxy;

  beforeEach(async () => {
    target = await createTestDatabase('postgres');
    const url = new URL(target.flags[1]!);
    proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port || 5432) });
  });
  afterEach(async () => {
    await pool.stopAll();
    await proxy.close();
    await target.dispose();
  });

  it('survives terminated connections and an unreachable server, answering 503 and resuming', async () => {
    const env = { KEYWAY_MASTER_KEY: randomBytes(32).toString('base64') };
    const token = await bootstrapAdmin(target.flags, env);
    const direct = new URL(target.flags[1]!);
    const viaProxy = new URL(direct);
    viaProxy.host = `127.0.0.1:${proxy.port}`;
    const { server, url } = await serveReady(pool, ['--database-url', viaProxy.toString()], env);

    // Load: reads and acknowledged writes, as fast as two cores allow, until told to stop.
    const statuses = new Map<number, number>();
    const created: string[] = [];
    let running = true;
    // A request that got no HTTP answer at all (the process died, the socket was cut) counts as 0.
    const send = (method: string, path: string, body?: unknown) =>
      callServer(url, method, path, { token, ...(body ? { body } : {}) }).catch(() => ({
        status: 0,
        body: undefined,
        text: '',
      }));
    const worker = async () => {
      while (running) {
        const write = await send('POST', '/api/conversations', {
          model: 'any/model',
          title: `t-${randomBytes(4).toString('hex')}`,
        });
        statuses.set(write.status, (statuses.get(write.status) ?? 0) + 1);
        if (write.status === 201) created.push(write.body.id as string);
        const read = await send('GET', '/api/conversations?limit=5');
        statuses.set(read.status, (statuses.get(read.status) ?? 0) + 1);
      }
    };
    const workers = Array.from({ length: 8 }, worker);

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
        expect(await terminateKeyway()).toBeGreaterThan(0);
      }
      const afterKills = served();
      await until(async () => served() > afterKills + 20, 'writes after the kills');

      // The server becomes unreachable: /readyz and requests say 503, nothing says 500.
      proxy.cut();
      await until(async () => (await fetch(`${url}/readyz`)).status === 503, '/readyz 503');
      const readyz = await callServer(url, 'GET', '/readyz');
      expect(readyz.body).toMatchObject({ status: 'not_ready' });
      const during = await callServer(url, 'GET', '/api/conversations', { token });
      expect(during.status).toBe(503);
      expect(during.body.error.code).toBe('database_unavailable');
      expect(during.text).not.toMatch(/ECONN|pg_|at .*\.js|127\.0\.0\.1/);

      proxy.restore();
      await until(async () => (await fetch(`${url}/readyz`)).status === 200, '/readyz 200 again');
      const afterOutage = served();
      await until(async () => served() > afterOutage + 20, 'writes after the outage');
    } finally {
      running = false;
      await Promise.all(workers);
      await admin.end();
    }

    expect(server.child.exitCode).toBeNull();
    expect(server.child.signalCode).toBeNull();
    // Only successes and 503s: no 500, no dropped connection (a fetch failure would have thrown).
    expect([...statuses.keys()].sort()).toEqual(expect.arrayContaining([200, 201]));
    for (const status of statuses.keys()) expect([200, 201, 503]).toContain(status);
    expect(server.stdout + server.stderr).not.toMatch(/unhandled error|Unhandled 'error'/);

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
