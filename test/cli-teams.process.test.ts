import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startFakeOpenAiChat, type FakeOpenAiChat } from './fakes/fake-openai-chat.ts';
import { fakeKey } from './support/gateway-harness.ts';
import { ProcessPool, runKeyway } from './support/keyway-process.ts';
import { bootstrapAdmin, callServer, serveReady } from './support/process-keyway.ts';
import { createTestDatabase, type TestDatabaseTarget } from './support/test-database.ts';

// Needs the API of docs/sharing.md (credential prices, teams, grants, limits) and the gateway filling each
// usage event's cost: until those are merged it fails at the first of them, the credential's `prices`.
// The CLI talks to the server over HTTP, so one backend says all there is to say about it.
describe('keyway teams, creds grant and usage cost, through the HTTP API [embedded]', () => {
  const pool = new ProcessPool();
  const providerKey = fakeKey();
  let target: TestDatabaseTarget;
  let upstream: FakeOpenAiChat;
  let scratch: string;

  beforeEach(async () => {
    target = await createTestDatabase('embedded');
    upstream = await startFakeOpenAiChat({ validKeys: [providerKey] });
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'keyway-cli-teams-'));
  });
  afterEach(async () => {
    await pool.stopAll();
    await upstream.close();
    await target.dispose();
    fs.rmSync(scratch, { recursive: true, force: true });
  });

  /** A member and their API token, made offline before the server holds the data directory. */
  async function member(env: Record<string, string>, username: string): Promise<string> {
    const created = await runKeyway(
      ['admin', 'create-user', '--username', username, '--password-stdin', ...target.flags],
      env,
      'a long member password\n',
    );
    expect(created.code, created.stderr).toBe(0);
    const token = await runKeyway(
      ['admin', 'create-token', '--username', username, '--name', 'cli', ...target.flags],
      env,
    );
    expect(token.code, token.stderr).toBe(0);
    return token.stdout.trim();
  }

  it('makes a team, grants it a credential within limits, shows the cost by team and user, and revokes [embedded]', async () => {
    const env = { ...target.env, KEYWAY_UPSTREAM_ALLOW_LOOPBACK: 'true' };
    const token = await bootstrapAdmin(target.flags, env);
    const aliceToken = await member(env, 'alice');
    await member(env, 'bob');
    const { url } = await serveReady(pool, target.flags, env);
    const keyway = async (args: string[], as = token) =>
      runKeyway(args, { KEYWAY_URL: url, KEYWAY_TOKEN: as, XDG_CONFIG_HOME: scratch });
    const ok = async (args: string[], as = token) => {
      const result = await keyway(args, as);
      expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(0);
      return result.stdout;
    };
    const api = (method: string, route: string, body?: unknown) =>
      callServer(url, method, route, { token, ...(body === undefined ? {} : { body }) });
    const chat = (as: string) =>
      callServer(url, 'POST', '/v1/chat/completions', {
        token: as,
        // A cap on the answer: the reservation is what the request can cost at most.
        body: { model: 'main/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], max_tokens: 50 },
      });

    // An admin-owned credential with its own prices (the provider is self-hosted, so free unless priced).
    const credential = await api('POST', '/api/credentials', {
      name: 'main',
      provider: 'openai-compatible',
      secret: providerKey,
      settings: { baseUrl: upstream.url },
      prices: { 'gpt-4o-mini': { input: 1000, output: 2000, cachedInput: 500 } },
    });
    expect(credential.status, credential.text).toBe(201);
    expect((await chat(aliceToken)).status).toBe(404);

    // Teams.
    expect(await ok(['teams', 'create', 'Physics 101', '--usd', '20/month'])).toContain(
      'Created team Physics 101',
    );
    expect(await ok(['teams', 'add', 'physics 101', 'alice', '--admin'])).toContain(
      'alice is a team admin of Physics 101',
    );
    await ok(['teams', 'add', 'Physics 101', 'bob']);
    const list = await ok(['teams', 'list']);
    expect(list.split('\n')[0]).toMatch(/^ID\s+NAME\s+MEMBERS\s+YOUR ROLE\s+LIMITS$/);
    expect(list).toMatch(/Physics 101\s+2\s+-\s+\$20\.00\/month/);
    expect(await ok(['teams', 'limits', 'Physics 101', '--tokens', '2M/day', '--rpm', '60'])).toContain(
      'Physics 101: $20.00/month, 2,000,000 tokens/day, 60 requests/min',
    );
    expect(await ok(['teams', 'limits', 'Physics 101', '--usd', 'none'])).toContain(
      'Physics 101: 2,000,000 tokens/day, 60 requests/min',
    );
    expect(await ok(['teams', 'rename', 'Physics 101', 'Physics 102'])).toContain(
      'Renamed Physics 101 to Physics 102',
    );
    const shown = await ok(['teams', 'show', 'Physics 102']);
    expect(shown).toMatch(/^alice\s+admin$/m);
    expect(shown).toMatch(/^bob\s+member$/m);
    // Alice, a team admin, sees the team from her side.
    expect(await ok(['teams', 'list'], aliceToken)).toMatch(/Physics 102\s+2\s+admin/);

    // A grant to the team: alice may now use the credential, for the models it names.
    const granted = await ok([
      'creds',
      'grant',
      'main',
      '--to',
      'team:Physics 102',
      '--models',
      'gpt-4o*',
      '--usd',
      '5/month',
      '--rpm',
      '60',
      '--expires',
      '2099-01-01',
    ]);
    const grantId = /grant ([0-9a-f-]{36})/.exec(granted)?.[1];
    expect(grantId, granted).toBeTruthy();
    const answered = await chat(aliceToken);
    expect(answered.status, answered.text).toBe(200);

    const grants = await ok(['creds', 'grants', 'main']);
    expect(grants.split('\n')[0]).toMatch(/^ID\s+TO\s+MODELS\s+LIMITS\s+SPENT\s+EXPIRES$/);
    // 8 input at $1000/M, 3 cached at $500/M, 7 output at $2000/M.
    expect(grants).toMatch(
      /team Physics 102\s+gpt-4o\*\s+\$5\.00\/month, 60 requests\/min\s+\$0\.0235\s+2099-01-01/,
    );

    // The cost by team, by user and by day.
    const byTeam = await ok(['usage', '--group-by', 'team', '--all']);
    expect(byTeam.split('\n')[1]).toMatch(
      /^TEAM\s+REQUESTS\s+ERRORS\s+INPUT\s+OUTPUT\s+CACHED\s+AVG MS\s+COST$/,
    );
    expect(byTeam).toMatch(/^Physics 102\s+1\s+0\s+11\s+7\s+3\s+\d+\s+\$0\.0235$/m);
    expect(await ok(['usage', '--group-by', 'user', '--all'])).toMatch(/^alice\s+1\s.*\$0\.0235$/m);
    const asJson = JSON.parse(await ok(['usage', '--group-by', 'user', '--json'], aliceToken));
    expect(asJson.rows).toEqual([expect.objectContaining({ label: 'alice', costUsd: 0.0235 })]);

    // Revoking by the first characters of the id: alice is back to not seeing the model at all.
    expect(await ok(['creds', 'revoke', 'main', grantId!.slice(0, 8)])).toContain(`Revoked grant ${grantId}`);
    expect((await chat(aliceToken)).status).toBe(404);
    expect(await ok(['creds', 'grants', 'main'])).toBe('(none)\n');

    // Members leave; the team goes.
    expect(await ok(['teams', 'remove', 'Physics 102', 'bob'])).toContain('Removed bob from Physics 102');
    expect(await ok(['teams', 'limits', 'Physics 102', '--clear'])).toContain('Physics 102: none');
    expect(await ok(['teams', 'delete', 'Physics 102'])).toContain('Deleted team Physics 102');
    expect(await ok(['teams', 'list'])).toBe('(none)\n');

    // Mistakes are said plainly; usage mistakes exit 2.
    for (const [args, said, code] of [
      [['teams', 'show', 'Nowhere'], 'No team named Nowhere', 1],
      [['creds', 'grant', 'main', '--to', 'group:staff'], 'Cannot tell whom "group:staff" names', 2],
      [['creds', 'grant', 'main', '--to', 'user:nobody'], 'No user named nobody', 1],
      [['creds', 'grant', 'main', '--to', 'everyone', '--usd', '20/year'], '"year" is not a period', 2],
      [['creds', 'grant', 'main', '--to', 'everyone', '--expires', '2001-01-01'], 'has passed', 2],
      [['teams', 'limits', 'x', '--clear', '--rpm', '5'], 'does not go with', 2],
    ] as const) {
      const result = await keyway([...args]);
      expect(result.code, args.join(' ')).toBe(code);
      expect(result.stderr, args.join(' ')).toContain(said);
    }
  });
});
