import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startFakeOpenAiChat, type FakeOpenAiChat } from './fakes/fake-openai-chat.ts';
import { dumpPostgres, filesContaining } from './support/secret-scan.ts';
import { BACKENDS } from './support/test-database.ts';
import { createTestKeyway, type TestKeyway } from './support/test-keyway.ts';

/**
 * Sharing adds new places a provider key could leak to: grants, teams, limits, refusals, spend and
 * cost reports. A canary key is stored, granted to a team with limits and used until a limit refuses;
 * then it must be in no API answer, no log line (debug level) and nowhere in the database.
 */
describe.each(BACKENDS)('canary: sharing writes no secret out in plaintext [%s]', (backend) => {
  const canary = `sk-canary-${randomBytes(16).toString('hex')}`;
  const wrongCanary = `sk-canary-wrong-${randomBytes(16).toString('hex')}`;
  const canaries = [canary, wrongCanary];
  let upstream: FakeOpenAiChat;
  let harness: TestKeyway;
  let closed = false;

  beforeEach(async () => {
    upstream = await startFakeOpenAiChat({ validKeys: [canary] });
    harness = await createTestKeyway(backend, { logLevel: 'debug' });
    closed = false;
  });
  afterEach(async () => {
    if (!closed) await harness.close();
    await upstream.close();
  });

  it('finds no canary in responses, logs or the database after teams, grants, limits, usage and refusals', async () => {
    const outputs: string[] = [];
    const root = await harness.user('root', 'admin');
    const mia = await harness.user('mia');
    const call = async (token: string, method: string, path: string, body?: unknown) => {
      const response = await harness.call(method, path, { token, ...(body === undefined ? {} : { body }) });
      outputs.push(`${method} ${path} → ${response.status}\n${response.text}`);
      return response;
    };

    // The admins' key, priced so that cost and USD limits apply; and one the provider refuses.
    const created = await call(root.token, 'POST', '/api/credentials', {
      name: 'canary',
      provider: 'openai',
      secret: canary,
      settings: { baseUrl: upstream.url },
      prices: { 'gpt-4o-mini': { input: 0.15, output: 0.6 } },
    });
    expect(created.status, created.text).toBe(201);
    const credentialId = created.body.id as string;
    const wrong = await call(root.token, 'POST', '/api/credentials', {
      name: 'canary-wrong',
      provider: 'openai',
      secret: wrongCanary,
      settings: { baseUrl: upstream.url },
    });
    expect(wrong.status, wrong.text).toBe(201);

    // A team with limits, mia in it; grants of both keys to the team, with limits of their own.
    const team = await call(root.token, 'POST', '/api/teams', {
      name: 'Canaries',
      limits: { usd: { amount: 5, period: 'month' } },
    });
    expect(team.status, team.text).toBe(201);
    const teamId = team.body.id as string;
    expect(
      (await call(root.token, 'PUT', `/api/teams/${teamId}/members/${mia.id}`, { role: 'member' })).status,
    ).toBe(200);
    await call(root.token, 'PUT', `/api/teams/${teamId}/limits`, {
      usd: { amount: 5, period: 'month' },
      requestsPerMinute: 100,
    });
    const granted = await call(root.token, 'POST', `/api/credentials/${credentialId}/grants`, {
      subject: { type: 'team', id: teamId },
      models: ['gpt-4o*'],
      limits: { tokens: { amount: 2_000, period: 'day' } },
    });
    expect(granted.status, granted.text).toBe(201);
    await call(root.token, 'POST', `/api/credentials/${wrong.body.id}/grants`, {
      subject: { type: 'team', id: teamId },
    });
    await call(root.token, 'PATCH', `/api/credentials/${credentialId}/grants/${granted.body.id}`, {
      expiresAt: '2999-01-01T00:00:00Z',
    });
    await call(root.token, 'PUT', `/api/users/${mia.id}/limits`, {
      tokens: { amount: 1_000_000, period: 'week' },
    });

    // Everything mia and the admin can read about it.
    await call(root.token, 'GET', '/api/teams');
    await call(root.token, 'GET', `/api/teams/${teamId}`);
    await call(mia.token, 'GET', `/api/teams/${teamId}`);
    await call(root.token, 'GET', `/api/credentials/${credentialId}`);
    await call(root.token, 'GET', `/api/credentials/${credentialId}/grants`);
    await call(mia.token, 'GET', '/api/credentials');
    await call(mia.token, 'GET', `/api/credentials/${credentialId}`);
    await call(mia.token, 'GET', `/api/credentials/${credentialId}/grants`);
    await call(mia.token, 'GET', '/api/me/limits');

    // Requests through the grant: one that fits, one the provider refuses (the wrong key), one the
    // grant's token allowance refuses (its max_tokens cannot fit in 2,000), streamed or not.
    const chat = (model: string, extra: Record<string, unknown> = {}) =>
      call(mia.token, 'POST', '/v1/chat/completions', {
        model,
        messages: [{ role: 'user', content: 'Hi' }],
        ...extra,
      });
    const fits = await chat('canary/gpt-4o-mini', { max_tokens: 50 });
    expect(fits.status, fits.text).toBe(200);
    expect(upstream.requests.at(-1)!.headers.authorization).toBe(`Bearer ${canary}`);
    const rejected = await chat('canary-wrong/gpt-4o-mini', { max_tokens: 50 });
    expect(rejected.status).toBeGreaterThanOrEqual(400);
    for (const extra of [{ max_tokens: 5_000 }, { max_tokens: 5_000, stream: true }]) {
      const refused = await chat('canary/gpt-4o-mini', extra);
      expect([refused.status, refused.body?.error?.code]).toEqual([429, 'budget_exceeded']);
      expect(refused.body.error.message).toContain('grant');
    }
    const outside = await chat('canary/o3-mini', { max_tokens: 50 });
    expect([outside.status, outside.body.error.code]).toEqual([404, 'model_not_found']);

    const limits = await call(mia.token, 'GET', '/api/me/limits');
    const grantLimit = limits.body.limits.find((limit: { scope: string }) => limit.scope === 'grant');
    expect(grantLimit).toMatchObject({ kind: 'tokens', amount: 2_000 });
    // Usage is written after the answer: wait until the request shows, then read every grouping.
    const start = Date.now();
    for (;;) {
      const usage = await harness.call('GET', '/api/usage?groupBy=credential&all=true', {
        token: root.token,
      });
      if (usage.body?.rows?.some((row: { requests: number }) => row.requests > 0)) break;
      if (Date.now() - start > 10_000) throw new Error('no usage row within 10 s');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    for (const groupBy of ['user', 'team', 'credential', 'token', 'model', 'day'])
      await call(root.token, 'GET', `/api/usage?groupBy=${groupBy}&all=true`);
    await call(mia.token, 'GET', '/api/usage?groupBy=credential');
    await call(root.token, 'GET', `/api/credentials/${credentialId}/grants`);
    await call(root.token, 'GET', '/api/openapi.json');
    await call(root.token, 'GET', '/metrics');

    // Revoking and deleting.
    await call(root.token, 'DELETE', `/api/credentials/${credentialId}/grants/${granted.body.id}`);
    await call(root.token, 'DELETE', `/api/teams/${teamId}`);
    await call(mia.token, 'GET', '/api/me/limits');

    const everything = outputs.join('\n');
    expect(everything).toContain('budget_exceeded');
    for (const secret of canaries)
      expect(everything.includes(secret), 'a canary in an API answer').toBe(false);
    expect(harness.logLines.some((line) => line.includes('"level":"debug"'))).toBe(true);
    const logs = harness.logLines.join('\n');
    for (const secret of canaries) expect(logs.includes(secret), 'a canary in a log line').toBe(false);

    // Refusals are counted in memory and written with the ledger's next report (every second).
    const refusalsFrom = Date.now();
    for (;;) {
      const counted = await sql<{ n: number }>`SELECT count(*)::int AS n FROM limit_refusals`.execute(
        harness.database.db,
      );
      if (counted.rows[0]!.n > 0) break;
      if (Date.now() - refusalsFrom > 10_000) throw new Error('no refusal counted within 10 s');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }

    // Every column of every table, as text (bytea decoded too).
    const tables = await sql<{ table_name: string }>`SELECT table_name FROM information_schema.tables
      WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`.execute(harness.database.db);
    let rows = '';
    for (const { table_name } of tables.rows) {
      const all = await sql<Record<string, unknown>>`SELECT * FROM ${sql.table(table_name)}`.execute(
        harness.database.db,
      );
      for (const row of all.rows)
        for (const value of Object.values(row))
          rows +=
            (Buffer.isBuffer(value)
              ? value.toString('hex') + ' ' + value.toString('latin1')
              : JSON.stringify(value)) + '\n';
    }
    expect(tables.rows.map((t) => t.table_name)).toEqual(
      expect.arrayContaining(['credential_grants', 'teams', 'limit_windows', 'usage_events', 'audit_log']),
    );
    // The scan reads what sharing wrote: the credential, the team's audit rows, the counted refusals.
    for (const written of [credentialId, teamId, 'budget_exceeded']) expect(rows).toContain(written);
    for (const secret of canaries) expect(rows.includes(secret), 'a canary in a database row').toBe(false);

    if (harness.target.target.kind === 'postgres') {
      const dump = await dumpPostgres(harness.target.target.url);
      expect(dump.text.length).toBeGreaterThan(1000);
      for (const secret of canaries)
        expect(dump.text.includes(secret), `a canary in ${dump.how}`).toBe(false);
    } else {
      // The data directory, byte for byte, once the database has written everything out.
      closed = true;
      await harness.keyway.close();
      await harness.database.close();
      try {
        expect(filesContaining(harness.target.target.dataDir, canaries)).toEqual([]);
      } finally {
        await harness.target.dispose();
      }
    }
  });
});
