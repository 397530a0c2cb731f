import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BACKENDS } from '../../test/support/test-database.ts';
import { createTestKeyway, type TestKeyway } from '../../test/support/test-keyway.ts';
import { UsageRepository, type UsageEvent } from './usage.repository.ts';

describe.each(BACKENDS)('usage cost, by user and by team [%s]', (backend) => {
  let harness: TestKeyway;
  let admin: { id: string; token: string };
  let alice: { id: string; token: string };
  let bob: { id: string; token: string };
  let carol: { id: string; token: string };

  beforeEach(async () => {
    harness = await createTestKeyway(backend);
    admin = await harness.user('root', 'admin');
    alice = await harness.user('alice');
    bob = await harness.user('bob');
    carol = await harness.user('carol');
  });
  afterEach(async () => {
    await harness.close();
  });

  const event = (userId: string, costUsd: number | null, at = new Date()): UsageEvent => ({
    at,
    userId,
    tokenId: null,
    botId: null,
    credentialId: null,
    provider: 'openai',
    model: 'gpt-4o',
    inputTokens: 1000,
    outputTokens: 100,
    cachedTokens: 0,
    latencyMs: 10,
    status: 200,
    costUsd,
  });

  async function team(name: string, members: string[]): Promise<string> {
    const id = randomUUID();
    await harness.database.db.insertInto('teams').values({ id, name }).execute();
    for (const userId of members)
      await harness.database.db
        .insertInto('team_members')
        .values({ team_id: id, user_id: userId, role: 'member' })
        .execute();
    return id;
  }

  const usage = (token: string, query: string) => harness.call('GET', `/api/usage?${query}`, { token });

  it('adds each request’s cost into the day and reads it back as a number; an unpriced request adds nothing', async () => {
    const repository = new UsageRepository(harness.database.db);
    // Two batches into the same daily row: the second adds to the first.
    await repository.writeBatch([event(alice.id, 0.0125), event(alice.id, null)]);
    await repository.writeBatch([event(alice.id, 0.000001)]);
    const byDay = await usage(alice.token, 'groupBy=day');
    expect(byDay.status).toBe(200);
    expect(byDay.body.rows).toEqual([
      expect.objectContaining({ requests: 3, inputTokens: 3000, costUsd: 0.012501 }),
    ]);
    const stored = await harness.database.db
      .selectFrom('usage_events')
      .select('cost_usd')
      .orderBy('id')
      .execute();
    expect(stored.map((row) => (row.cost_usd === null ? null : Number(row.cost_usd)))).toEqual([
      0.0125,
      null,
      0.000001,
    ]);
  });

  it('groups by user with usernames; members see only their own row, admins everyone’s with all=true', async () => {
    await new UsageRepository(harness.database.db).writeBatch([
      event(alice.id, 1),
      event(alice.id, 2),
      event(bob.id, 0.5),
    ]);
    const everyone = await usage(admin.token, 'groupBy=user&all=true');
    expect(everyone.status).toBe(200);
    expect(everyone.body.groupBy).toBe('user');
    expect(
      everyone.body.rows.map((row: { label: string; requests: number; costUsd: number }) => [
        row.label,
        row.requests,
        row.costUsd,
      ]),
    ).toEqual(
      expect.arrayContaining([
        ['alice', 2, 3],
        ['bob', 1, 0.5],
      ]),
    );
    expect(everyone.body.rows).toHaveLength(2);
    const own = await usage(bob.token, 'groupBy=user');
    expect(own.body.rows).toEqual([expect.objectContaining({ key: bob.id, label: 'bob', costUsd: 0.5 })]);
    expect((await usage(bob.token, 'groupBy=user&all=true')).status).toBe(403);
  });

  it('groups by team: a user in two teams counts in both, a user in no team in none', async () => {
    const physics = await team('Physics 101', [alice.id, bob.id]);
    const chemistry = await team('Chemistry', [alice.id]);
    await team('Empty', []);
    await new UsageRepository(harness.database.db).writeBatch([
      event(alice.id, 1),
      event(bob.id, 0.25),
      event(carol.id, 100),
    ]);
    const byTeam = await usage(admin.token, 'groupBy=team&all=true');
    expect(byTeam.status).toBe(200);
    const rows = Object.fromEntries(
      byTeam.body.rows.map((row: { key: string; label: string; requests: number; costUsd: number }) => [
        row.key,
        [row.label, row.requests, row.costUsd],
      ]),
    );
    expect(rows).toEqual({
      [physics]: ['Physics 101', 2, 1.25],
      [chemistry]: ['Chemistry', 1, 1],
    });
    // A member sees their own usage in each of their teams, not their teammates'.
    const bobs = await usage(bob.token, 'groupBy=team');
    expect(bobs.body.rows).toEqual([
      expect.objectContaining({ key: physics, label: 'Physics 101', requests: 1, costUsd: 0.25 }),
    ]);
    expect((await usage(carol.token, 'groupBy=team')).body.rows).toEqual([]);
  });

  it('puts a cost on every grouping and refuses an unknown one', async () => {
    await new UsageRepository(harness.database.db).writeBatch([event(alice.id, 0.5)]);
    for (const groupBy of ['day', 'credential', 'model', 'token', 'bot', 'user']) {
      const answer = await usage(alice.token, `groupBy=${groupBy}`);
      expect(answer.status, groupBy).toBe(200);
      expect(answer.body.rows, groupBy).toEqual([expect.objectContaining({ costUsd: 0.5 })]);
    }
    expect((await usage(alice.token, 'groupBy=planet')).status).toBe(400);
  });
});
