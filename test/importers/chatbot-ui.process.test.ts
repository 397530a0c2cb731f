import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startFakeOpenAiChat, type FakeOpenAiChat } from '../fakes/fake-openai-chat.ts';
import { startFakeProvider, type FakeProvider } from '../fakes/fake-providers.ts';
import { fakeKey } from '../support/gateway-harness.ts';
import { ProcessPool, runKeyway } from '../support/keyway-process.ts';
import { bootstrapAdmin, callServer, serveReady } from '../support/process-keyway.ts';
import { BACKENDS, createTestDatabase, type TestDatabaseTarget } from '../support/test-database.ts';
import { chatbotUiFixture, type SourceFixture } from './source-fixtures.ts';
import { dumpPostgres, filesContaining } from '../support/secret-scan.ts';

describe.each(BACKENDS)('keyway import chatbot-ui, end to end [%s]', (backend) => {
  const pool = new ProcessPool();
  let target: TestDatabaseTarget;
  let source: SourceFixture | undefined;
  let local: FakeOpenAiChat;
  let azure: FakeProvider;

  const keys = {
    aliceOpenai: fakeKey('sk-'),
    aliceAnthropic: fakeKey('sk-ant-'),
    aliceAzure: fakeKey('az'),
    aliceLocal: fakeKey('sk-local-'),
    bobGroq: fakeKey('gsk_'),
    danMistral: fakeKey('mi'),
    erinPerplexity: fakeKey('pplx-'),
  };
  const secrets = Object.values(keys);

  beforeEach(async () => {
    target = await createTestDatabase(backend);
    local = await startFakeOpenAiChat({ validKeys: [keys.aliceLocal] });
    azure = await startFakeProvider({ wire: 'azure-openai', validKeys: [keys.aliceAzure] });
  });
  afterEach(async () => {
    await pool.stopAll();
    await source?.dispose();
    await local.close();
    await azure.close();
    await target.dispose();
  });

  it('plans (dry run), imports, imports nothing twice, and an imported key answers through /v1; no secret leaks', async () => {
    source = await chatbotUiFixture({
      profiles: [
        {
          username: 'alice',
          values: {
            openai_api_key: keys.aliceOpenai,
            openai_organization_id: 'org-alice',
            anthropic_api_key: keys.aliceAnthropic,
            azure_openai_api_key: keys.aliceAzure,
            azure_openai_endpoint: azure.url,
            azure_openai_45_turbo_id: 'gpt-4o',
            azure_openai_embeddings_id: 'text-embedding-3-small',
          },
        },
        // Bob stored Alice's OpenAI key too: a credential of his own (tenants never share by accident).
        { username: 'bob', values: { openai_api_key: keys.aliceOpenai, groq_api_key: keys.bobGroq } },
        { username: 'carol' },
        { username: 'dan', values: { mistral_api_key: keys.danMistral } },
        { username: 'erin', values: { perplexity_api_key: keys.erinPerplexity, openrouter_api_key: '   ' } },
      ],
      models: [
        {
          username: 'alice',
          name: 'Local Llama',
          modelId: 'llama3',
          baseUrl: local.url,
          apiKey: keys.aliceLocal,
        },
        {
          username: 'alice',
          name: 'Local Qwen',
          modelId: 'qwen2',
          baseUrl: local.url,
          apiKey: keys.aliceLocal,
        },
      ],
    });
    const env: Record<string, string> = { KEYWAY_LOG_LEVEL: 'debug', ...target.env };
    const outputs: string[] = [];
    const cli = async (args: string[]) => {
      const result = await runKeyway(args, env);
      outputs.push(result.stdout, result.stderr);
      return result;
    };
    const adminToken = await bootstrapAdmin(target.flags, env);
    const importArgs = [
      'import',
      'chatbot-ui',
      '--from',
      source.url,
      '--owner-map',
      'dan=admin',
      ...target.flags,
    ];

    const dry = await cli([...importArgs, '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain(
      'Dry run, nothing was written: would create 4 user(s), 8 credential(s), 0 bot(s); would reuse 1; would skip 0.',
    );

    const first = await cli(importArgs);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain('Created 4 user(s), 8 credential(s), 0 bot(s); reused 1; skipped 0.');
    expect(first.stdout).toMatch(/credential\s+alice\s+local-llama\s+created\s+openai-compatible/);
    expect(first.stdout).toMatch(/credential\s+admin\s+mistral\s+created/);
    expect(first.stdout).toContain(
      'call it as local-llama/qwen2 (shares credential local-llama: same base URL and key)',
    );
    expect(first.stdout).toContain('GPT-4 Turbo: azure-openai/gpt-4o');
    // The custom models run on this host: a member's credential may not call it, and the report says so.
    expect(first.stdout).toContain(
      "only an admin's credentials may reach: it answers once alice is an admin",
    );
    expect(first.stdout).toMatch(/4 user\(s\) were created without a password \(alice, bob, carol, erin\)/);

    const second = await cli(importArgs);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toContain('Nothing new: everything was already imported (13 reused, 0 skipped).');

    // The imported user gets a token offline; the imported custom-model key answers through /v1.
    const token = await cli([
      'admin',
      'create-token',
      '--username',
      'alice',
      '--name',
      'chat',
      ...target.flags,
    ]);
    expect(token.code, token.stderr).toBe(0);
    const aliceToken = token.stdout.trim();
    const { server, url } = await serveReady(pool, target.flags, env);
    const call = async (method: string, route: string, bearer: string, body?: unknown) => {
      const response = await callServer(url, method, route, { token: bearer, ...(body ? { body } : {}) });
      outputs.push(response.text);
      return response;
    };
    const ask = () =>
      call('POST', '/v1/chat/completions', aliceToken, {
        model: 'local-llama/llama3',
        messages: [{ role: 'user', content: 'hi' }],
      });
    const refused = await ask();
    expect(refused.status, refused.text).toBe(502);
    expect(refused.body.error.code).toBe('upstream_blocked');
    expect(local.requests).toHaveLength(0);
    // As the report says: once alice is an admin, her imported local model answers.
    const users = await call('GET', '/api/users', adminToken);
    const alice = (users.body as { id: string; username: string }[]).find(
      (user) => user.username === 'alice',
    )!;
    expect((await call('PATCH', `/api/users/${alice.id}`, adminToken, { role: 'admin' })).status).toBe(200);
    const chat = await ask();
    expect(chat.status, chat.text).toBe(200);
    expect(chat.body.choices[0].message.content).toBe('Hello from the fake.');
    expect(local.requests.at(-1)!.headers.authorization).toBe(`Bearer ${keys.aliceLocal}`);

    const listed = await call('GET', '/api/credentials', aliceToken);
    expect(listed.body.map((c: { name: string }) => c.name).sort()).toEqual([
      'anthropic',
      'azure-openai',
      'local-llama',
      'openai',
    ]);
    const openai = listed.body.find((c: { name: string }) => c.name === 'openai');
    expect(openai.settings).toEqual({ organization: 'org-alice' });
    const azureCredential = listed.body.find((c: { name: string }) => c.name === 'azure-openai');
    const tested = await call('POST', `/api/credentials/${azureCredential.id}/test`, aliceToken);
    expect(tested.body.status).toBe('valid');
    const adminCredentials = await call('GET', '/api/credentials', adminToken);
    expect(adminCredentials.body.map((c: { name: string }) => c.name)).toEqual(['mistral']);

    server.kill('SIGTERM');
    await server.exited;
    outputs.push(server.stdout, server.stderr);

    const everything = outputs.join('\n');
    expect(everything).toContain('"msg":"request"'); // the server's logs are part of the scan
    for (const secret of secrets) expect(everything.includes(secret), 'a secret in the output').toBe(false);
    if (target.target.kind === 'postgres') {
      const text = (await dumpPostgres(target.target.url)).text;
      expect(text.length).toBeGreaterThan(1000);
      for (const secret of secrets) expect(text.includes(secret), 'a secret in the database').toBe(false);
    } else {
      expect(filesContaining(target.target.dataDir, secrets)).toEqual([]);
    }
  }, 240_000); // several processes, each starting Keyway

  it('needs --from; on the embedded database refuses while a server holds it; on PostgreSQL prints progress on a long import', async () => {
    const env: Record<string, string> = { ...target.env };
    const missing = await runKeyway(['import', 'chatbot-ui', ...target.flags], env);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('needs --from');
    if (backend === 'embedded') {
      source = await chatbotUiFixture({
        profiles: [{ username: 'alice', values: { openai_api_key: keys.aliceOpenai } }],
      });
      const { server } = await serveReady(pool, target.flags, env);
      const refused = await runKeyway(['import', 'chatbot-ui', '--from', source.url, ...target.flags], env);
      expect(refused.code).toBe(11);
      expect(refused.stderr).toContain(`in use by another Keyway process: pid ${server.pid}`);
      return;
    }
    // 40 profiles with 3 keys each: 160 items, past the 100 from which progress is shown.
    source = await chatbotUiFixture({
      profiles: Array.from({ length: 40 }, (_, i) => ({
        username: `user${i}`,
        values: {
          openai_api_key: fakeKey('sk-'),
          groq_api_key: fakeKey('gsk_'),
          mistral_api_key: fakeKey('mi'),
        },
      })),
    });
    const long = await runKeyway(['import', 'chatbot-ui', '--from', source.url, ...target.flags], env);
    expect(long.code, long.stderr).toBe(0);
    expect(long.stderr).toContain('  160/160 (100%)');
    expect(long.stdout).toContain('Created 40 user(s), 120 credential(s), 0 bot(s); reused 0; skipped 0.');
  }, 240_000);

  // The embedded database cannot be imported into while a server holds it (see the test above).
  if (backend === 'postgres')
    it('on PostgreSQL, a running server uses the imported key at once (its cached "no such credential" is dropped at commit)', async () => {
      const env: Record<string, string> = { ...target.env };
      source = await chatbotUiFixture({
        profiles: [{ username: 'alice' }],
        models: [
          {
            username: 'alice',
            name: 'Local Llama',
            modelId: 'llama3',
            baseUrl: local.url,
            apiKey: keys.aliceLocal,
          },
        ],
      });
      await bootstrapAdmin(target.flags, env);
      // An admin: only an admin's credentials may call the local model (a member's reach public addresses).
      await runKeyway(
        ['admin', 'create-user', '--username', 'alice', '--admin', '--password-stdin', ...target.flags],
        env,
        'a long enough password\n',
      );
      const token = (
        await runKeyway(['admin', 'create-token', '--username', 'alice', '--name', 't', ...target.flags], env)
      ).stdout.trim();
      const { url } = await serveReady(pool, target.flags, env);
      const ask = () =>
        callServer(url, 'POST', '/v1/chat/completions', {
          token,
          body: { model: 'local-llama/llama3', messages: [{ role: 'user', content: 'hi' }] },
        });
      expect((await ask()).status).toBe(404);
      const imported = await runKeyway(['import', 'chatbot-ui', '--from', source.url, ...target.flags], env);
      expect(imported.code, imported.stderr).toBe(0);
      expect(imported.stdout).toMatch(/user\s+alice\s+alice\s+reused/);
      const answered = await ask();
      expect(answered.status, answered.text).toBe(200);
    });
});
