import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { evolutionUpsert, startFakeEvolution } from './fakes/fake-evolution.ts';
import { startFakeProvider, type FakeProvider } from './fakes/fake-providers.ts';
import { ProcessPool, runKeyway } from './support/keyway-process.ts';
import { dumpPostgres, filesContaining } from './support/secret-scan.ts';
import { bootstrapAdmin, callServer, serveReady } from './support/process-keyway.ts';
import { BACKENDS, createTestDatabase, type TestDatabaseTarget } from './support/test-database.ts';

describe.each(BACKENDS)('canary: no secret is ever written out in plaintext [%s]', (backend) => {
  const pool = new ProcessPool();
  let target: TestDatabaseTarget;
  let upstream: FakeProvider;
  let configHome: string;
  const canary = `sk-canary-${randomBytes(16).toString('hex')}`;
  const rotatedCanary = `sk-canary-rotated-${randomBytes(16).toString('hex')}`;
  const wrongCanary = `sk-canary-wrong-${randomBytes(16).toString('hex')}`;
  // A bot's Evolution API instance key; Evolution also puts it in every webhook it sends.
  const evolutionCanary = `evo-canary-${randomBytes(16).toString('hex')}`;
  const canaries = [canary, rotatedCanary, wrongCanary, evolutionCanary];

  beforeEach(async () => {
    target = await createTestDatabase(backend);
    // The fake echoes rejected keys in its errors, as some servers do: Keyway must scrub them.
    upstream = await startFakeProvider({
      wire: 'openai',
      validKeys: [canary, rotatedCanary],
      echoKeyInErrors: true,
    });
    configHome = fs.mkdtempSync(path.join(os.tmpdir(), 'keyway-cli-'));
  });
  afterEach(async () => {
    await pool.stopAll();
    await upstream.close();
    await target.dispose();
    fs.rmSync(configHome, { recursive: true, force: true });
  });

  it('finds no canary in logs, responses, CLI output, the database dump or the data directory', async () => {
    const env: Record<string, string> = {
      KEYWAY_LOG_LEVEL: 'debug',
      ...(backend === 'postgres' ? { KEYWAY_MASTER_KEY: randomBytes(32).toString('base64') } : {}),
    };
    const outputs: string[] = [];
    const cli = async (args: string[], stdin?: string) => {
      const result = await runKeyway(args, { ...env, XDG_CONFIG_HOME: configHome, KEYWAY_URL: url }, stdin);
      outputs.push(result.stdout, result.stderr);
      return result;
    };
    const adminToken = await bootstrapAdmin(target.flags, env);
    const { server, url } = await serveReady(pool, target.flags, env);
    const call = async (method: string, route: string, body?: unknown, token = adminToken) => {
      const response = await callServer(url, method, route, {
        token,
        ...(body === undefined ? {} : { body }),
      });
      outputs.push(response.text);
      return response;
    };

    // CLI: sign in, store the key twice (a duplicate), list, test, rotate, tokens.
    expect(
      (await cli(['login', '--username', 'admin', '--password-stdin'], 'a long admin password\n')).code,
    ).toBe(0);
    expect(
      (
        await cli(
          [
            'creds',
            'add',
            '--name',
            'main',
            '--provider',
            'openai',
            '--setting',
            `baseUrl=${upstream.url}`,
            '--secret-stdin',
          ],
          canary + '\n',
        )
      ).code,
    ).toBe(0);
    const second = await cli(
      [
        'creds',
        'add',
        '--name',
        'copy',
        '--provider',
        'openai',
        '--setting',
        `baseUrl=${upstream.url}`,
        '--secret-stdin',
      ],
      canary + '\n',
    );
    expect(second.stderr).toContain('also stored as "main"');
    expect((await cli(['creds', 'list'])).stdout).toContain('main');
    expect((await cli(['creds', 'list', '--json'])).code).toBe(0);
    expect((await cli(['creds', 'test', 'main'])).stdout).toContain('valid');
    expect((await cli(['creds', 'rotate', 'copy', '--secret-stdin'], rotatedCanary + '\n')).code).toBe(0);
    expect((await cli(['creds', 'test', 'copy'])).stdout).toContain('valid');
    const token = (await cli(['tokens', 'create', '--name', 'canary-run'])).stdout.trim();
    expect((await cli(['tokens', 'list'])).code).toBe(0);

    // HTTP: every credential endpoint, including failures that carry the key.
    const listed = await call('GET', '/api/credentials');
    const main = listed.body.find((c: { name: string }) => c.name === 'main');
    await call('GET', `/api/credentials/${main.id}`);
    await call('PATCH', `/api/credentials/${main.id}`, { name: 'main-renamed' });
    await call('GET', `/api/credentials/${main.id}/models`);
    await call('POST', `/api/credentials/${main.id}/test`);
    const wrong = await call('POST', '/api/credentials', {
      name: 'wrong',
      provider: 'openai',
      secret: wrongCanary,
      settings: { baseUrl: upstream.url },
    });
    const failed = await call('POST', `/api/credentials/${wrong.body.id}/test`);
    expect(failed.body.status).toBe('invalid');
    await call('GET', `/api/credentials/${wrong.body.id}/models`);
    await call('POST', '/api/credentials', { name: 'bad one', provider: 'openai', secret: canary });
    await call('POST', '/api/credentials', { name: 'x', provider: 'nope', secret: canary });
    await call('POST', '/api/credentials', {
      name: 'x',
      provider: 'openai',
      secret: canary,
      settings: { baseUrl: 'http://169.254.169.254' },
    });
    await call('POST', `/api/credentials/${main.id}/rotate`, { secret: canary, extra: canary });
    await call('GET', '/api/me', undefined, token);
    await call('GET', '/api/providers');
    await call('GET', '/api/openapi.json');
    await call('GET', '/metrics');
    const broken = await fetch(`${url}/api/credentials`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: `{"secret":"${canary}",`,
    });
    outputs.push(await broken.text());
    // The gateway, with the credentials holding the canaries (the wrong key's provider errors echo it).
    const models = await call('GET', '/v1/models', undefined, token);
    expect(models.body.data.length).toBeGreaterThan(0);
    await call(
      'POST',
      '/v1/chat/completions',
      { model: 'main-renamed/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] },
      token,
    );
    await call(
      'POST',
      '/v1/chat/completions',
      { model: 'wrong/gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'hi' }] },
      token,
    );
    await call(
      'POST',
      '/v1/chat/completions',
      { model: 'nobody/gpt', messages: [{ role: 'user', content: canary }] },
      token,
    );
    // Bots: the Evolution instance key goes in once, the inbound secret comes out once, at creation.
    const evolution = await startFakeEvolution({ instances: { 'sales-1': evolutionCanary } });
    try {
      const created = await callServer(url, 'POST', '/api/bots', {
        token: adminToken,
        body: {
          name: 'canary-bot',
          credentialId: main.id,
          model: 'gpt-4o-mini',
          channels: { evolution: { serverUrl: evolution.url, instance: 'sales-1', apiKey: evolutionCanary } },
        },
      });
      expect(created.status).toBe(201);
      expect(created.text.includes(evolutionCanary)).toBe(false);
      const bot = created.body as { id: string; inboundSecret: string };
      canaries.push(bot.inboundSecret);
      await call('GET', `/api/bots/${bot.id}`);
      await call('GET', '/api/bots');
      await call('PATCH', `/api/bots/${bot.id}`, { systemPrompt: 'Be brief.' });
      await call('POST', '/api/bots', {
        name: 'bad',
        credentialId: main.id,
        model: 'm',
        channels: { evolution: { serverUrl: 'ftp://x', instance: 'a', apiKey: evolutionCanary } },
      });
      const hook = await fetch(`${url}/hooks/evolution/${bot.id}?secret=${bot.inboundSecret}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(
          evolutionUpsert({
            instance: 'sales-1',
            remoteJid: '5511000000001@s.whatsapp.net',
            text: 'hi',
            apikey: evolutionCanary,
          }),
        ),
      });
      outputs.push(await hook.text());
      expect(hook.status).toBe(202);
      await evolution.waitForSent(1, 20_000);
      const wrongSecret = await fetch(`${url}/hooks/evolution/${bot.id}?secret=${canary}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      outputs.push(await wrongSecret.text());
      await call('GET', `/api/bots/${bot.id}/sessions`);
      await call(
        'POST',
        '/v1/chat/completions',
        { model: 'bot:canary-bot', messages: [{ role: 'user', content: 'hi' }] },
        token,
      );
    } finally {
      await evolution.close();
    }
    expect((await cli(['usage'])).code).toBe(0);
    expect((await cli(['usage', '--group-by', 'credential', '--json'])).code).toBe(0);
    expect((await cli(['creds', 'rm', 'wrong'])).code).toBe(0);

    server.kill('SIGTERM');
    await server.exited;
    outputs.push(server.stdout, server.stderr);
    expect(server.logs().some((line) => line.level === 'debug')).toBe(true);

    const everything = outputs.join('\n');
    for (const secret of canaries) expect(everything.includes(secret), `a canary in the output`).toBe(false);
    // The CLI's saved login holds a Keyway token, never a provider key.
    expect(filesContaining(configHome, canaries)).toEqual([]);

    if (target.target.kind === 'postgres') {
      const dump = await dumpPostgres(target.target.url);
      console.log(`[postgres] database scanned with ${dump.how}: ${dump.text.length} characters`);
      expect(dump.text.length).toBeGreaterThan(1000);
      for (const secret of canaries) expect(dump.text.includes(secret)).toBe(false);
    } else {
      expect(filesContaining(target.target.dataDir, canaries)).toEqual([]);
    }
  }, 300_000);
});
