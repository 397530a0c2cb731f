import { afterEach, describe, expect, it } from 'vitest';
import { planEvolutionImport } from '../../src/importers/evolution.plan.ts';
import { readEvolution } from '../../src/importers/evolution.reader.ts';
import { openSourceDatabase } from '../../src/importers/source-database.ts';
import { createDefaultRegistry } from '../../src/providers/registry.ts';
import { evolutionMysql, evolutionPostgres, evolutionScenario } from './evolution-fixtures.ts';
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
});
