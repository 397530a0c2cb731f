import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeKey } from './support/gateway-harness.ts';
import { BACKENDS } from './support/test-database.ts';
import { createTestKeyway, type TestKeyway } from './support/test-keyway.ts';

/**
 * Who may do what with teams, grants and limits (issue 13). Admin `root` makes teams A and B; alice
 * is A's team admin, bob a member of A, carol a member of B; dave is in no team. Every answer is the
 * one a user would get: 404 for what they cannot see, 403 for what they see but may not change.
 */
describe.each(BACKENDS)('sharing: authorization of teams, grants and limits [%s]', (backend) => {
  let harness: TestKeyway;
  type Person = { id: string; token: string };
  let root: Person, alice: Person, bob: Person, carol: Person, dave: Person;
  let teamA: string, teamB: string;
  /** Credentials by owner: bob's, carol's (granted to bob, to team A and to team B), dave's, the admins'. */
  let bobKey: string, carolKey: string, daveKey: string, adminKey: string;
  /** carol's grants on carolKey: to bob, to team A, to team B. */
  let grantToBob: string, grantToA: string, grantToB: string;
  /** The grant to everyone that `shared: true` made on adminKey. */
  let adminEveryone: string;

  const call = (person: Person, method: string, path: string, body?: unknown) =>
    harness.call(method, path, { token: person.token, ...(body === undefined ? {} : { body }) });
  const statusOf = async (person: Person, method: string, path: string, body?: unknown) =>
    (await call(person, method, path, body)).status;

  async function credential(person: Person, name: string, extra: Record<string, unknown> = {}) {
    const created = await call(person, 'POST', '/api/credentials', {
      name,
      provider: 'openai',
      secret: fakeKey(),
      ...extra,
    });
    expect(created.status, created.text).toBe(201);
    return created.body.id as string;
  }

  async function grant(person: Person, credentialId: string, body: Record<string, unknown>) {
    const created = await call(person, 'POST', `/api/credentials/${credentialId}/grants`, body);
    expect(created.status, created.text).toBe(201);
    return created.body.id as string;
  }

  beforeAll(async () => {
    harness = await createTestKeyway(backend);
    root = await harness.user('root', 'admin');
    alice = await harness.user('alice');
    bob = await harness.user('bob');
    carol = await harness.user('carol');
    dave = await harness.user('dave');
    const a = await call(root, 'POST', '/api/teams', { name: 'Team A' });
    const b = await call(root, 'POST', '/api/teams', { name: 'Team B' });
    expect([a.status, b.status]).toEqual([201, 201]);
    teamA = a.body.id;
    teamB = b.body.id;
    for (const [team, person, role] of [
      [teamA, alice, 'admin'],
      [teamA, bob, 'member'],
      [teamB, carol, 'member'],
    ] as const) {
      const put = await call(root, 'PUT', `/api/teams/${team}/members/${person.id}`, { role });
      expect(put.status, put.text).toBe(200);
    }

    bobKey = await credential(bob, 'bobs');
    carolKey = await credential(carol, 'carols');
    daveKey = await credential(dave, 'daves');
    adminKey = await credential(root, 'company', { shared: true });
    grantToBob = await grant(carol, carolKey, { subject: { type: 'user', id: bob.id } });
    grantToA = await grant(carol, carolKey, { subject: { type: 'team', id: teamA } });
    grantToB = await grant(carol, carolKey, { subject: { type: 'team', id: teamB } });
    const adminGrants = await call(root, 'GET', `/api/credentials/${adminKey}/grants`);
    expect(adminGrants.body.grants.map((g: { subject: { type: string } }) => g.subject.type)).toEqual([
      'everyone',
    ]);
    adminEveryone = adminGrants.body.grants[0].id;
  });
  afterAll(async () => {
    await harness?.close();
  });

  it("a team admin of A cannot touch team B, which does not exist for them (404); A's limits and deletion are the admins' (403)", async () => {
    const b = `/api/teams/${teamB}`;
    expect(await statusOf(alice, 'GET', b)).toBe(404);
    expect(await statusOf(alice, 'PATCH', b, { name: 'Taken over' })).toBe(404);
    expect(await statusOf(alice, 'PUT', `${b}/members/${dave.id}`, { role: 'member' })).toBe(404);
    expect(await statusOf(alice, 'DELETE', `${b}/members/${carol.id}`)).toBe(404);
    expect(await statusOf(alice, 'PUT', `${b}/limits`, { requestsPerMinute: 1 })).toBe(404);
    expect(await statusOf(alice, 'DELETE', b)).toBe(404);

    const a = `/api/teams/${teamA}`;
    expect(await statusOf(alice, 'PUT', `${a}/limits`, { requestsPerMinute: 1 })).toBe(403);
    expect(await statusOf(alice, 'DELETE', a)).toBe(403);

    // Nothing changed: B keeps its name, members and limits; A still exists without limits.
    const seen = await call(root, 'GET', b);
    expect(seen.body).toMatchObject({ name: 'Team B', limits: {}, memberCount: 1 });
    expect(seen.body.members.map((m: { userId: string }) => m.userId)).toEqual([carol.id]);
    expect((await call(root, 'GET', a)).body).toMatchObject({ name: 'Team A', limits: {}, memberCount: 2 });
  });

  it('a team admin manages their own team: renames it, adds and removes members', async () => {
    const a = `/api/teams/${teamA}`;
    const renamed = await call(alice, 'PATCH', a, { name: 'Team A (renamed)' });
    expect([renamed.status, renamed.body.name, renamed.body.myRole]).toEqual([
      200,
      'Team A (renamed)',
      'admin',
    ]);
    expect(await statusOf(alice, 'PUT', `${a}/members/${dave.id}`, { role: 'member' })).toBe(200);
    expect(await statusOf(alice, 'DELETE', `${a}/members/${dave.id}`)).toBe(204);
    expect(await statusOf(alice, 'PATCH', a, { name: 'Team A' })).toBe(200);
  });

  it('a plain member cannot rename their team nor add or remove members (403)', async () => {
    const a = `/api/teams/${teamA}`;
    expect(await statusOf(bob, 'PUT', `${a}/members/${dave.id}`, { role: 'member' })).toBe(403);
    expect(await statusOf(bob, 'PUT', `${a}/members/${bob.id}`, { role: 'admin' })).toBe(403);
    expect(await statusOf(bob, 'DELETE', `${a}/members/${alice.id}`)).toBe(403);
    expect(await statusOf(bob, 'PATCH', a, { name: 'Bob’s team' })).toBe(403);
    const seen = await call(root, 'GET', a);
    expect(
      seen.body.members.map((m: { username: string; role: string }) => `${m.username}:${m.role}`),
    ).toEqual(['alice:admin', 'bob:member']);
  });

  it('a member sees only their teams: carol lists B and gets 404 for A; admins see both', async () => {
    expect(await statusOf(carol, 'GET', `/api/teams/${teamA}`)).toBe(404);
    const carols = await call(carol, 'GET', '/api/teams');
    expect(carols.body.teams.map((t: { id: string; myRole: string }) => [t.id, t.myRole])).toEqual([
      [teamB, 'member'],
    ]);
    const bobsView = await call(bob, 'GET', `/api/teams/${teamA}`);
    expect(bobsView.status).toBe(200);
    expect(bobsView.body.grants.map((g: { id: string }) => g.id)).toEqual([grantToA]);
    const roots = await call(root, 'GET', '/api/teams');
    expect(roots.body.teams.map((t: { id: string }) => t.id).sort()).toEqual([teamA, teamB].sort());
    expect(await statusOf(dave, 'GET', `/api/teams/${teamB}`)).toBe(404);
    expect((await call(dave, 'GET', '/api/teams')).body.teams).toEqual([]);
  });

  it('only the owner grants a credential: granted to me → 403, not visible → 404, the admins’ → 403', async () => {
    const body = { subject: { type: 'user', id: dave.id } };
    const post = (id: string) => call(bob, 'POST', `/api/credentials/${id}/grants`, body);
    const granted = await post(carolKey);
    expect([granted.status, granted.body.error.code]).toEqual([403, 'forbidden']);
    const invisible = await post(daveKey);
    expect([invisible.status, invisible.body.error.code]).toEqual([404, 'not_found']);
    // The same answer as for a credential that never existed: nothing tells dave's key exists.
    const never = await post('00000000-0000-4000-8000-000000000000');
    expect([never.status, never.body.error.message]).toEqual([404, invisible.body.error.message]);
    const admins = await post(adminKey);
    expect([admins.status, admins.body.error.code]).toEqual([403, 'forbidden']);
    // The team admin of A holds carol's key through A's grant, and still may not pass it on.
    expect(await statusOf(alice, 'POST', `/api/credentials/${carolKey}/grants`, body)).toBe(403);
    // Dave received nothing: he sees his own key and the admins' one (granted to everyone), no more.
    const daves = await call(dave, 'GET', '/api/credentials');
    expect(daves.body.map((c: { id: string }) => c.id).sort()).toEqual([daveKey, adminKey].sort());
  });

  it("a member cannot grant their own credential to another user's bot or token (422 invalid_subject)", async () => {
    const bot = await call(alice, 'POST', '/api/bots', {
      name: 'alices-bot',
      credentialId: carolKey,
      model: 'gpt-4o',
    });
    expect(bot.status, bot.text).toBe(201);
    const tokens = await call(alice, 'GET', '/api/tokens');
    const alicesToken = tokens.body[0].id as string;
    for (const subject of [
      { type: 'bot', id: bot.body.id },
      { type: 'token', id: alicesToken },
      { type: 'team', id: '00000000-0000-4000-8000-000000000000' },
      { type: 'user', id: 'not-a-uuid' },
    ]) {
      const refused = await call(bob, 'POST', `/api/credentials/${bobKey}/grants`, { subject });
      expect([subject.type, refused.status, refused.body.error.code]).toEqual([
        subject.type,
        422,
        'invalid_subject',
      ]);
    }
    expect((await call(bob, 'GET', `/api/credentials/${bobKey}/grants`)).body.grants).toEqual([]);
    // bob's own token is fine.
    const bobsToken = (await call(bob, 'GET', '/api/tokens')).body[0].id as string;
    const own = await call(bob, 'POST', `/api/credentials/${bobKey}/grants`, {
      subject: { type: 'token', id: bobsToken },
    });
    expect(own.status, own.text).toBe(201);
    expect(await statusOf(bob, 'DELETE', `/api/credentials/${bobKey}/grants/${own.body.id}`)).toBe(204);
  });

  it('nobody but the owner (an admin, for the admins’ credentials) changes a grant', async () => {
    const patch = (person: Person, credentialId: string, grantId: string) =>
      statusOf(person, 'PATCH', `/api/credentials/${credentialId}/grants/${grantId}`, {
        models: ['gpt-4o-mini'],
      });
    expect(await patch(alice, carolKey, grantToA)).toBe(403); // A's team admin
    expect(await patch(bob, carolKey, grantToBob)).toBe(403); // the grant's own subject
    expect(await patch(dave, carolKey, grantToA)).toBe(404); // sees nothing of carol's key
    expect(await patch(root, carolKey, grantToA)).toBe(404); // an admin: carol's key is carol's
    expect(await patch(bob, adminKey, adminEveryone)).toBe(403);
    expect(await patch(alice, adminKey, adminEveryone)).toBe(403);
    const grants = await call(carol, 'GET', `/api/credentials/${carolKey}/grants`);
    expect(grants.body.grants.map((g: { models: unknown }) => g.models)).toEqual([null, null, null]);

    const byOwner = await call(carol, 'PATCH', `/api/credentials/${carolKey}/grants/${grantToA}`, {
      models: ['gpt-4o-mini'],
    });
    expect([byOwner.status, byOwner.body.models]).toEqual([200, ['gpt-4o-mini']]);
    // The subject stays what it was.
    expect(
      (
        await call(carol, 'PATCH', `/api/credentials/${carolKey}/grants/${grantToA}`, {
          subject: { type: 'everyone' },
        })
      ).status,
    ).toBe(400);
    const byAdmin = await call(root, 'PATCH', `/api/credentials/${adminKey}/grants/${adminEveryone}`, {
      expiresAt: '2999-01-01T00:00:00Z',
    });
    expect([byAdmin.status, byAdmin.body.expiresAt]).toEqual([200, '2999-01-01T00:00:00.000Z']);
    // A grant of another credential, under this credential's path, is not found.
    expect(await patch(carol, carolKey, adminEveryone)).toBe(404);
    expect(
      await statusOf(carol, 'PATCH', `/api/credentials/${carolKey}/grants/${grantToA}`, { models: null }),
    ).toBe(200);
  });

  it("lists a credential's grants to its owner only: 403 to a holder, 404 to anyone else", async () => {
    const list = (person: Person, id: string) => statusOf(person, 'GET', `/api/credentials/${id}/grants`);
    expect(await list(bob, carolKey)).toBe(403);
    expect(await list(alice, carolKey)).toBe(403);
    expect(await list(dave, carolKey)).toBe(404);
    expect(await list(bob, daveKey)).toBe(404);
    expect(await list(bob, adminKey)).toBe(403);
    expect(await list(carol, carolKey)).toBe(200);
    expect(await list(root, adminKey)).toBe(200);
  });

  it('a team admin revokes a grant made to their team, not one made to another team; a member revokes neither', async () => {
    const revoke = (person: Person, grantId: string) =>
      statusOf(person, 'DELETE', `/api/credentials/${carolKey}/grants/${grantId}`);
    // alice sees carol's key (through A) but B's grant is not hers to revoke.
    expect(await revoke(alice, grantToB)).toBe(403);
    expect(await revoke(alice, grantToBob)).toBe(403);
    expect(await revoke(bob, grantToA)).toBe(403);
    expect(await revoke(dave, grantToA)).toBe(404);
    expect(await revoke(alice, grantToA)).toBe(204);
    expect(await revoke(alice, grantToA)).toBe(404);
    const left = await call(carol, 'GET', `/api/credentials/${carolKey}/grants`);
    expect(left.body.grants.map((g: { id: string }) => g.id).sort()).toEqual([grantToBob, grantToB].sort());
    expect((await call(alice, 'GET', `/api/teams/${teamA}`)).body.grants).toEqual([]);
    // Without A's grant, carol's key is gone for alice: the answer for B's grant is now 404.
    expect(await revoke(alice, grantToB)).toBe(404);
    grantToA = await grant(carol, carolKey, { subject: { type: 'team', id: teamA } });
  });

  it("setting a user's limits is an admin's: 403 for a member and for a team admin", async () => {
    const body = { usd: { amount: 5, period: 'month' } };
    for (const person of [bob, alice]) {
      const refused = await call(person, 'PUT', `/api/users/${bob.id}/limits`, body);
      expect([refused.status, refused.body.error.code]).toEqual([403, 'forbidden']);
    }
    expect(await statusOf(bob, 'PUT', `/api/users/${dave.id}/limits`, body)).toBe(403);
    const me = await call(bob, 'GET', '/api/me/limits');
    expect(me.body.limits.filter((l: { scope: string }) => l.scope === 'user')).toEqual([]);
    const set = await call(root, 'PUT', `/api/users/${dave.id}/limits`, body);
    expect([set.status, set.body.limits]).toEqual([200, body]);
  });

  it('answers 404, never 500, for malformed ids everywhere', async () => {
    const bad = 'not-a-uuid';
    const uuid = '00000000-0000-4000-8000-000000000000';
    const calls: [Person, string, string, unknown?][] = [
      [bob, 'GET', `/api/teams/${bad}`],
      [bob, 'PATCH', `/api/teams/${bad}`, { name: 'x' }],
      [alice, 'PUT', `/api/teams/${bad}/members/${bad}`, { role: 'member' }],
      [alice, 'DELETE', `/api/teams/${bad}/members/${bad}`],
      [alice, 'DELETE', `/api/teams/${bad}`],
      [alice, 'PUT', `/api/teams/${bad}/limits`, {}],
      [root, 'GET', `/api/teams/${bad}`],
      [root, 'PATCH', `/api/teams/${bad}`, { name: 'x' }],
      [root, 'DELETE', `/api/teams/${bad}`],
      [root, 'PUT', `/api/teams/${bad}/limits`, {}],
      [root, 'PUT', `/api/teams/${bad}/members/${bob.id}`, { role: 'member' }],
      [root, 'PUT', `/api/teams/${teamA}/members/${bad}`, { role: 'member' }],
      [root, 'DELETE', `/api/teams/${teamA}/members/${bad}`],
      [root, 'DELETE', `/api/teams/${teamA}/members/${uuid}`],
      [root, 'GET', `/api/teams/${uuid}`],
      [alice, 'PUT', `/api/teams/${teamA}/members/${bad}`, { role: 'member' }],
      [carol, 'GET', `/api/credentials/${bad}/grants`],
      [carol, 'POST', `/api/credentials/${bad}/grants`, { subject: { type: 'everyone' } }],
      [carol, 'PATCH', `/api/credentials/${carolKey}/grants/${bad}`, { models: null }],
      [carol, 'PATCH', `/api/credentials/${bad}/grants/${grantToB}`, { models: null }],
      [carol, 'DELETE', `/api/credentials/${carolKey}/grants/${bad}`],
      [carol, 'DELETE', `/api/credentials/${bad}/grants/${grantToB}`],
      [carol, 'DELETE', `/api/credentials/${carolKey}/grants/${uuid}`],
      [root, 'PUT', `/api/users/${bad}/limits`, {}],
      [root, 'PUT', `/api/users/${uuid}/limits`, {}],
    ];
    const answers = [];
    for (const [person, method, path, body] of calls) {
      const response = await call(person, method, path, body);
      answers.push(`${method} ${path} → ${response.status}`);
    }
    expect(answers).toEqual(calls.map(([, method, path]) => `${method} ${path} → 404`));
  });

  it('records grant.create, grant.delete, team.create, team.member.put and limits.update in the audit log', async () => {
    const team = await call(root, 'POST', '/api/teams', { name: 'Audited' });
    await call(root, 'PUT', `/api/teams/${team.body.id}/members/${dave.id}`, { role: 'admin' });
    await call(root, 'PUT', `/api/teams/${team.body.id}/limits`, { requestsPerMinute: 10 });
    await call(root, 'PUT', `/api/users/${dave.id}/limits`, { requestsPerMinute: 20 });
    const granted = await grant(dave, daveKey, { subject: { type: 'team', id: team.body.id } });
    await call(dave, 'DELETE', `/api/credentials/${daveKey}/grants/${granted}`);
    // Refused attempts leave no row.
    await call(bob, 'PUT', `/api/users/${dave.id}/limits`, { requestsPerMinute: 1 });
    await call(bob, 'POST', `/api/credentials/${carolKey}/grants`, { subject: { type: 'everyone' } });

    const { rows } = await sql<{
      actor: string;
      action: string;
      target_type: string;
      target_id: string;
      details: Record<string, unknown>;
    }>`SELECT actor, action, target_type, target_id, details FROM audit_log
        WHERE target_id IN (${team.body.id}, ${dave.id}, ${daveKey}, ${carolKey}) ORDER BY id`.execute(
      harness.database.db,
    );
    const seen = rows.map((row) => [row.actor, row.action, row.target_type, row.target_id]);
    expect(seen).toEqual(
      expect.arrayContaining([
        [root.id, 'team.create', 'team', team.body.id],
        [root.id, 'team.member.put', 'team', team.body.id],
        [root.id, 'limits.update', 'team', team.body.id],
        [root.id, 'limits.update', 'user', dave.id],
        [dave.id, 'grant.create', 'credential', daveKey],
        [dave.id, 'grant.delete', 'credential', daveKey],
      ]),
    );
    const details = (action: string, target: string) =>
      rows.filter((row) => row.action === action && row.target_id === target).map((row) => row.details);
    expect(details('team.member.put', team.body.id)).toEqual([{ userId: dave.id, role: 'admin' }]);
    expect(details('limits.update', dave.id).at(-1)).toEqual({ limits: { requestsPerMinute: 20 } });
    expect(details('grant.delete', daveKey)).toEqual([{ grantId: granted, subject: 'team' }]);
    // bob's refused attempts were not recorded as changes.
    expect(rows.filter((row) => row.actor === bob.id)).toEqual([]);
    const carolsGrants = rows.filter((row) => row.action === 'grant.create' && row.target_id === carolKey);
    expect(carolsGrants.every((row) => row.actor === carol.id)).toBe(true);
  });
});
