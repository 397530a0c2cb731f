import { afterEach, describe, expect, it } from 'vitest';
import { planEvolutionImport } from '../../src/importers/evolution.plan.ts';
import { readEvolution } from '../../src/importers/evolution.reader.ts';
import { openSourceDatabase } from '../../src/importers/source-database.ts';
import { createDefaultRegistry } from '../../src/providers/registry.ts';
import {
  EVOLUTION_MIGRATIONS,
  evolutionMysql,
  evolutionPostgres,
  evolutionScenario,
  type EvolutionData,
} from './evolution-fixtures.ts';
import type { SourceFixture } from './source-fixtures.ts';

const options = {
  providers: createDefaultRegistry(),
  policy: { allowLoopback: true, allowPrivate: false },
  owner: 'admin',
  serverUrl: 'http://127.0.0.1:8080',
  instances: null,
};

async function planOf(url: string) {
  const source = await openSourceDatabase(url);
  try {
    const snapshot = await readEvolution(source);
    return { snapshot, plan: planEvolutionImport(snapshot, options) };
  } finally {
    await source.close();
  }
}

describe('reading Evolution API databases', () => {
  const fixtures: SourceFixture[] = [];
  afterEach(async () => {
    await Promise.all(fixtures.splice(0).map((fixture) => fixture.dispose()));
  });

  it('reads the same plan from PostgreSQL and from MariaDB (booleans, JSON and enums normalised)', async () => {
    const scenario = evolutionScenario();
    const postgres = await evolutionPostgres(scenario.data);
    fixtures.push(postgres);
    const mariadb = await evolutionMysql(scenario.data);
    fixtures.push(mariadb);
    const fromPostgres = await planOf(postgres.url);
    const fromMariadb = await planOf(mariadb.url);
    expect(fromMariadb.snapshot).toEqual(fromPostgres.snapshot);
    expect(fromMariadb.plan).toEqual(fromPostgres.plan);

    const { plan, snapshot } = fromPostgres;
    expect(snapshot.missingColumns).toEqual([]);
    expect(snapshot.bots.find((bot) => bot.description === 'Sales')).toMatchObject({
      enabled: true,
      stopBotFromMe: true,
      ignoreJids: ['@g.us'],
      triggerOperator: 'startsWith',
    });
    expect(plan.credentials.map((credential) => credential.name)).toEqual(['sales-key-1', 'support']);
    expect(plan.bots.map((bot) => [bot.input.name, bot.fallbackBotName])).toEqual([
      ['support-fallback', null],
      ['sales-1-sales', null],
      ['sales-2-sales', null],
      ['sales-3-sales', null],
      ['sales-4-sales', null],
      ['sales-5-sales', null],
      ['support-helpdesk', 'support-fallback'],
    ]);
    expect(plan.skipped.map((skip) => skip.message).join('\n')).toMatch(
      /no API key[\s\S]*assistant-mode bot/,
    );
  });

  it('reads an older Evolution API without splitMessages/timePerChar from MariaDB, reporting the missing columns', async () => {
    const scenario = evolutionScenario({ withSplit: false });
    const mariadb = await evolutionMysql(scenario.data, { withSplit: false });
    fixtures.push(mariadb);
    const { plan } = await planOf(mariadb.url);
    expect(plan.bots).toHaveLength(7);
    expect(plan.notes[0]!.message).toContain(
      'no column OpenaiBot.splitMessages, OpenaiBot.timePerChar, OpenaiSetting.splitMessages, OpenaiSetting.timePerChar',
    );
  });

  /**
   * One instance as Evolution API 2.3 leaves it: a bot with trigger "none" (which 2.3 answers for
   * every message), its own empty ignoreJids (the manager saves []) and the instance's ['@g.us'].
   */
  function instanceWithNoneTrigger(): EvolutionData {
    const instanceId = 'cinstance0000000000000001';
    const credsId = 'ccreds00000000000000000001';
    return {
      Instance: [{ id: instanceId, name: 'desk', token: 'A1B2C3D4E5F6A7B8C9D0E1F2A3B4C5D6' }],
      OpenaiCreds: [{ id: credsId, name: 'main', apiKey: 'sk-' + 'x'.repeat(40), instanceId }],
      OpenaiBot: [
        {
          id: 'cbot00000000000000000000001',
          description: 'Everyone',
          botType: 'chatCompletion',
          model: 'gpt-4o-mini',
          triggerType: 'none',
          ignoreJids: [],
          openaiCredsId: credsId,
          instanceId,
        },
      ],
      OpenaiSetting: [
        { id: 'csetting000000000000000001', ignoreJids: ['@g.us'], openaiCredsId: credsId, instanceId },
      ],
    };
  }

  it.each([
    ['PostgreSQL', evolutionPostgres],
    ['MariaDB', evolutionMysql],
  ])(
    'from %s: tells 2.3 from 2.2 by _prisma_migrations ("none" answers everything since 2.3), and keeps the instance ignoreJids',
    async (_, make) => {
      const recent = await make(instanceWithNoneTrigger(), {
        migrations: [...EVOLUTION_MIGRATIONS.before23, ...EVOLUTION_MIGRATIONS.from23],
      });
      fixtures.push(recent);
      const older = await make(instanceWithNoneTrigger(), { migrations: EVOLUTION_MIGRATIONS.before23 });
      fixtures.push(older);

      const fromRecent = (await planOf(recent.url)).plan;
      expect(fromRecent.bots.map((bot) => [bot.input.name, bot.input.trigger, bot.input.ignore])).toEqual([
        ['desk-everyone', { type: 'all' }, ['*@g.us']],
      ]);
      expect(fromRecent.notes.map((note) => note.message)).toContain(
        'Evolution API 2.3 or later (migration 20250514232744_add_n8n_table applied): a bot with trigger "none" answers every message there, so it is imported with trigger all',
      );

      const fromOlder = (await planOf(older.url)).plan;
      expect(fromOlder.bots.map((bot) => [bot.input.trigger, bot.input.ignore])).toEqual([
        [{ type: 'none' }, ['*@g.us']],
      ]);
      expect(fromOlder.notes.map((note) => note.message).join('\n')).toContain(
        'Evolution API before 2.3 (last migration 20250225180031_add_nats_integration)',
      );
    },
  );
});
