import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { evolutionUpsert, startFakeEvolution, type FakeEvolution } from '../fakes/fake-evolution.ts';
import { startFakeOpenAiChat, type FakeOpenAiChat } from '../fakes/fake-openai-chat.ts';
import { ProcessPool, runKeyway } from '../support/keyway-process.ts';
import { bootstrapAdmin, callServer, serveReady } from '../support/process-keyway.ts';
import { BACKENDS, createTestDatabase, type TestDatabaseTarget } from '../support/test-database.ts';
import { evolutionMysql, evolutionPostgres, evolutionScenario } from './evolution-fixtures.ts';
import { type SourceFixture } from './source-fixtures.ts';
import { dumpPostgres, filesContaining } from '../support/secret-scan.ts';

// Keyway embedded reads Evolution from MariaDB; Keyway on PostgreSQL reads it from PostgreSQL.
describe.each(BACKENDS)('keyway import evolution-api, end to end [%s]', (backend) => {
  const pool = new ProcessPool();
  let target: TestDatabaseTarget;
  let source: SourceFixture;
  let openai: FakeOpenAiChat;
  let evolution: FakeEvolution;
  let scratch: string;
  const scenario = evolutionScenario();

  beforeEach(async () => {
    target = await createTestDatabase(backend);
    source =
      backend === 'embedded' ? await evolutionMysql(scenario.data) : await evolutionPostgres(scenario.data);
    openai = await startFakeOpenAiChat({ validKeys: [scenario.sharedKey, scenario.supportKey] });
    // It accepts a send only with the instance's own key (its token), as Evolution API does.
    evolution = await startFakeEvolution({ instances: Object.fromEntries(scenario.tokens) });
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'keyway-import-'));
  });
  afterEach(async () => {
    await pool.stopAll();
    await source.dispose();
    await openai.close();
    await evolution.close();
    await target.dispose();
    fs.rmSync(scratch, { recursive: true, force: true });
  });

  it('one credential for five instances, bots with triggers and channels; a message through Evolution is answered; nothing twice; no secret leaks', async () => {
    const env: Record<string, string> = { KEYWAY_LOG_LEVEL: 'debug', ...target.env };
    const outputs: string[] = [];
    const cli = async (args: string[]) => {
      const result = await runKeyway(args, env);
      outputs.push(result.stdout, result.stderr);
      return result;
    };
    const adminToken = await bootstrapAdmin(target.flags, env);
    const secretsFile = path.join(scratch, 'webhooks.tsv');
    const base = ['import', 'evolution-api', '--from', source.url, ...target.flags];

    const dry = await cli([...base, '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain(
      'Dry run, nothing was written: would create 0 user(s), 2 credential(s), 7 bot(s); would reuse 1; would skip 2.',
    );
    expect(dry.stdout).toContain('no --server-url: the Evolution channel is left out');

    const noServer = await cli(base);
    expect(noServer.code).toBe(2);
    expect(noServer.stderr).toContain('--server-url is required');

    const args = [...base, '--server-url', evolution.url, '--webhook-secrets', secretsFile];
    const first = await cli(args);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain('Created 0 user(s), 2 credential(s), 7 bot(s); reused 1; skipped 2.');
    expect(first.stdout).toMatch(/bot\s+admin\s+support-helpdesk\s+created/);
    expect(first.stdout).toMatch(/assistant-mode bot \(OpenAI Assistants API\) has no Keyway equivalent/);
    expect(first.stdout).toContain('one credential, sales-key-1, serves both');
    expect(first.stdout).toContain('timePerChar 80 ms has no equivalent');
    expect(fs.statSync(secretsFile).mode & 0o777).toBe(0o600);

    const second = await cli(args);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toContain('Nothing new: everything was already imported (10 reused, 2 skipped).');

    const { server, url } = await serveReady(pool, target.flags, env);
    const call = async (method: string, route: string, body?: unknown) => {
      const response = await callServer(url, method, route, { token: adminToken, ...(body ? { body } : {}) });
      outputs.push(response.text);
      return response;
    };
    const credentials = (await call('GET', '/api/credentials')).body;
    expect(
      credentials.map((c: { name: string; usedBy: { bots: number } }) => [c.name, c.usedBy.bots]),
    ).toEqual([
      ['sales-key-1', 5],
      ['support', 2],
    ]);
    const bots = (await call('GET', '/api/bots')).body;
    const helpdesk = bots.find((bot: { name: string }) => bot.name === 'support-helpdesk');
    const fallback = bots.find((bot: { name: string }) => bot.name === 'support-fallback');
    expect(helpdesk).toMatchObject({
      model: 'gpt-4o',
      trigger: { type: 'keyword', operator: 'regex', value: '^(help|ajuda)', caseSensitive: false },
      seedMessages: [
        { role: 'assistant', content: 'Hi! What went wrong?' },
        { role: 'user', content: 'My order is late.' },
      ],
      // The bot row holds expire's column default 0 (never), which Evolution uses over the instance's 60.
      expireMinutes: null,
      split: { enabled: true, delayMs: 500 },
      unknownMessage: 'Text only, please.',
      fallbackBotId: fallback.id,
      channels: { evolution: { serverUrl: evolution.url, instance: 'support' } },
    });

    // Point the imported key at the fake provider, then let an Evolution message reach a sales bot.
    const shared = credentials.find((c: { name: string }) => c.name === 'sales-key-1');
    expect(
      (await call('PATCH', `/api/credentials/${shared.id}`, { settings: { baseUrl: openai.url } })).status,
    ).toBe(200);
    const line = fs
      .readFileSync(secretsFile, 'utf8')
      .split('\n')
      .find((entry) => entry.startsWith('sales-3\t'))!;
    const hook = line.split('\t')[2]!.replace('KEYWAY_URL', url);
    const delivered = await fetch(hook, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      // As Evolution sends it, with the instance key inside the body: Keyway must not keep or log it.
      body: JSON.stringify(
        evolutionUpsert({
          instance: 'sales-3',
          remoteJid: '5511999990001@s.whatsapp.net',
          text: 'buy shoes',
          pushName: 'Ana',
          apikey: scenario.tokens.get('sales-3')!,
          serverUrl: evolution.url,
        }),
      ),
    });
    expect(delivered.status).toBe(202);
    const [reply] = await evolution.waitForSent(1, 30_000);
    expect(reply).toMatchObject({ instance: 'sales-3', text: 'Hello from the fake.' });
    expect(reply!.number).toContain('5511999990001');
    const asked = openai.requests.find((request) => request.path.startsWith('/v1/chat/completions'))!;
    expect(asked.headers.authorization).toBe(`Bearer ${scenario.sharedKey}`);
    expect((asked.body.messages as { content: string }[])[0]!.content).toBe('You sell shoes.');

    // The same imported credential through /v1, by bot name.
    const chat = await call('POST', '/v1/chat/completions', {
      model: 'bot:sales-1-sales',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(chat.status, chat.text).toBe(200);

    server.kill('SIGTERM');
    await server.exited;
    outputs.push(server.stdout, server.stderr);
    const everything = outputs.join('\n');
    for (const secret of scenario.secrets)
      expect(everything.includes(secret), 'a secret in the output').toBe(false);
    if (target.target.kind === 'postgres') {
      const text = (await dumpPostgres(target.target.url)).text;
      for (const secret of scenario.secrets)
        expect(text.includes(secret), 'a secret in the database').toBe(false);
    } else {
      expect(filesContaining(target.target.dataDir, scenario.secrets)).toEqual([]);
    }
  }, 240_000); // several processes, each starting Keyway
});
