import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createBotWriter } from '../../src/importers/bot-writer.ts';
import { planEvolutionImport } from '../../src/importers/evolution.plan.ts';
import { readEvolution } from '../../src/importers/evolution.reader.ts';
import { applyImport } from '../../src/importers/import-applier.ts';
import { openSourceDatabase } from '../../src/importers/source-database.ts';
import { createDefaultRegistry } from '../../src/providers/registry.ts';
import { BACKENDS } from '../support/test-database.ts';
import { createTestKeyway, type TestKeyway } from '../support/test-keyway.ts';
import { evolutionPostgres, evolutionScenario } from './evolution-fixtures.ts';
import type { SourceFixture } from './source-fixtures.ts';

describe.each(BACKENDS)('applying an Evolution API import [%s]', (backend) => {
  let harness: TestKeyway;
  let source: SourceFixture;
  const scenario = evolutionScenario();

  beforeEach(async () => {
    harness = await createTestKeyway(backend, { logLevel: 'info' });
    source = await evolutionPostgres(scenario.data);
  });
  afterEach(async () => {
    await source.dispose();
    await harness.close();
  });

  it('a failure after bots were written leaves Keyway unchanged; the next run imports everything once', async () => {
    const admin = await harness.user('ops', 'admin');
    const policy = { allowLoopback: true, allowPrivate: false };
    const providers = createDefaultRegistry();
    const reader = await openSourceDatabase(source.url);
    const plan = planEvolutionImport(await readEvolution(reader), {
      providers,
      policy,
      owner: 'ops',
      serverUrl: 'http://127.0.0.1:8080',
      instances: null,
    });
    await reader.close();
    const options = {
      db: harness.database.db,
      cipher: harness.keyway.cipher,
      bots: createBotWriter({ cipher: harness.keyway.cipher, policy }),
    };
    const counts = async () => {
      const db = harness.database.db;
      const [credentials, bots, audit] = (await Promise.all(
        (['credentials', 'bots', 'audit_log'] as const).map(async (table) =>
          Number(
            (
              await db
                .selectFrom(table)
                .select((eb) => eb.fn.countAll<number>().as('n'))
                .executeTakeFirstOrThrow()
            ).n,
          ),
        ),
      )) as [number, number, number];
      return { credentials, bots, audit };
    };
    const before = await counts();

    // 1 user + 2 credentials + 7 bots: fail at the 6th item, with three bots already written.
    await expect(
      applyImport(plan, {
        ...options,
        dryRun: false,
        onProgress: (done) => {
          if (done === 6) throw new Error('injected failure');
        },
      }),
    ).rejects.toThrow('injected failure');
    expect(await counts()).toEqual(before);

    const first = await applyImport(plan, { ...options, dryRun: false });
    expect(first.createdBots).toHaveLength(7);
    expect(await counts()).toEqual({
      credentials: before.credentials + 2,
      bots: before.bots + 7,
      // credential.create ×2 and bot.create ×7, as the services record them
      audit: before.audit + 9,
    });
    const listed = await harness.call('GET', '/api/bots', { token: admin.token });
    expect(listed.body.map((bot: { name: string }) => bot.name)).toEqual([
      'sales-1-sales',
      'sales-2-sales',
      'sales-3-sales',
      'sales-4-sales',
      'sales-5-sales',
      'support-fallback',
      'support-helpdesk',
    ]);
    const sales = listed.body.find((bot: { name: string }) => bot.name === 'sales-2-sales');
    expect(sales.channels.evolution).toEqual({
      serverUrl: 'http://127.0.0.1:8080',
      instance: 'sales-2',
      apiKeyHint: expect.stringMatching(/…/),
    });
    expect(sales.trigger).toEqual({
      type: 'keyword',
      operator: 'startsWith',
      value: 'buy',
      caseSensitive: false,
    });
    expect(sales.ignore).toEqual(['*@g.us']);
    // The support instance's OpenaiSetting transcribes voice notes; the sales instances have none.
    const helpdesk = listed.body.find((bot: { name: string }) => bot.name === 'support-helpdesk');
    expect({ speechToText: helpdesk.speechToText, images: helpdesk.images }).toEqual({
      speechToText: true,
      images: true,
    });
    expect(sales.speechToText).toBe(false);

    const second = await applyImport(plan, { ...options, dryRun: false });
    expect(second.rows.filter((row) => row.outcome === 'created')).toEqual([]);
    expect(await counts()).toEqual({
      credentials: before.credentials + 2,
      bots: before.bots + 7,
      audit: before.audit + 9,
    });
  });
});
