import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fakeKey } from '../support/gateway-harness.ts';
import { ProcessPool, runKeyway } from '../support/keyway-process.ts';
import { bootstrapAdmin, callServer, serveReady } from '../support/process-keyway.ts';
import { BACKENDS, createTestDatabase, type TestDatabaseTarget } from '../support/test-database.ts';
import { chatbotUiFixture, type SourceFixture } from './source-fixtures.ts';

describe.each(BACKENDS)('keyway import chatbot-ui --history, end to end [%s]', (backend) => {
  const pool = new ProcessPool();
  let target: TestDatabaseTarget;
  let source: SourceFixture | undefined;

  beforeEach(async () => {
    target = await createTestDatabase(backend);
  });
  afterEach(async () => {
    await pool.stopAll();
    await source?.dispose();
    await target.dispose();
  });

  it('--history brings the chats (dry run first, then once); the imported user reads them in order', async () => {
    const key = fakeKey('sk-');
    source = await chatbotUiFixture({
      profiles: [{ username: 'alice', values: { openai_api_key: key } }],
      history: {
        workspaces: [{ username: 'alice', name: 'Home', isHome: true }],
        prompts: [{ username: 'alice', name: 'Fix', content: 'Fix {{code}}', workspaces: ['Home'] }],
        chats: [
          {
            username: 'alice',
            workspace: 'Home',
            name: 'Greetings',
            model: 'gpt-4-turbo-preview',
            messages: [
              { role: 'assistant', content: 'Hello, Alice.', sequence: 1 },
              { role: 'user', content: 'Hello?', sequence: 0 },
            ],
          },
        ],
      },
    });
    const env: Record<string, string> = { ...target.env };
    await bootstrapAdmin(target.flags, env);
    const args = ['import', 'chatbot-ui', '--from', source.url, '--history', ...target.flags];

    const help = await runKeyway(['import', 'nowhere'], env);
    expect(help.stderr).toContain('[--history]');

    const dry = await runKeyway([...args, '--dry-run'], env);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain(
      'would create 1 user(s), 1 credential(s), 0 bot(s), 1 folder(s), 1 conversation(s) with 2 message(s), 1 prompt(s), 0 preset(s), 0 assistant(s)',
    );
    const first = await runKeyway(args, env);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(
      /conversation\s+alice\s+1 conversation\(s\)\s+created\s+with 2 message\(s\)/,
    );
    expect(first.stdout).not.toContain(key);
    const second = await runKeyway(args, env);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toContain('Nothing new: everything was already imported');
    // Without --history, the history is not read at all.
    const keysOnly = await runKeyway(
      args.filter((arg) => arg !== '--history'),
      env,
    );
    expect(keysOnly.stdout).not.toMatch(/conversation/);

    const token = await runKeyway(
      ['admin', 'create-token', '--username', 'alice', '--name', 't', ...target.flags],
      env,
    );
    const { url } = await serveReady(pool, target.flags, env);
    const list = await callServer(url, 'GET', '/api/conversations', { token: token.stdout.trim() });
    expect(list.body.map((conversation: { title: string }) => conversation.title)).toEqual(['Greetings']);
    const opened = await callServer(url, 'GET', `/api/conversations/${list.body[0].id}`, {
      token: token.stdout.trim(),
    });
    expect(opened.body.messages.map((message: { content: string }) => message.content)).toEqual([
      'Hello?',
      'Hello, Alice.',
    ]);
  });
});
