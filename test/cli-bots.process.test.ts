import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../src/cli/main.ts';
import { hintFor } from '../src/vault/cipher.ts';
import { evolutionUpsert, startFakeEvolution, type FakeEvolution } from './fakes/fake-evolution.ts';
import { startFakeOpenAiChat, type FakeOpenAiChat } from './fakes/fake-openai-chat.ts';
import { fakeKey } from './support/gateway-harness.ts';
import { ProcessPool, runKeyway } from './support/keyway-process.ts';
import { bootstrapAdmin, callServer, serveReady } from './support/process-keyway.ts';
import { createTestDatabase, type TestDatabaseTarget } from './support/test-database.ts';

// The CLI talks to the server over HTTP, so one backend says all there is to say about it.
describe('keyway bots, through the HTTP API [embedded]', () => {
  const pool = new ProcessPool();
  const providerKey = fakeKey();
  const evolutionKey = fakeKey('evo-');
  let target: TestDatabaseTarget;
  let upstream: FakeOpenAiChat;
  let evolution: FakeEvolution;
  let scratch: string;

  beforeEach(async () => {
    target = await createTestDatabase('embedded');
    upstream = await startFakeOpenAiChat({ validKeys: [providerKey] });
    evolution = await startFakeEvolution({ instances: { 'sales-1': evolutionKey } });
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'keyway-cli-bots-'));
  });
  afterEach(async () => {
    await pool.stopAll();
    await upstream.close();
    await evolution.close();
    await target.dispose();
    fs.rmSync(scratch, { recursive: true, force: true });
  });

  it('creates, lists, shows, runs sessions of and deletes bots; bad input exits 2; the Evolution key is never printed [embedded]', async () => {
    const env = { ...target.env, KEYWAY_UPSTREAM_ALLOW_LOOPBACK: 'true' };
    const token = await bootstrapAdmin(target.flags, env);
    const { url } = await serveReady(pool, target.flags, env);
    const outputs: string[] = [];
    const bots = async (args: string[], stdin?: string) => {
      const result = await runKeyway(
        ['bots', ...args],
        { KEYWAY_URL: url, KEYWAY_TOKEN: token, XDG_CONFIG_HOME: scratch },
        stdin,
      );
      outputs.push(result.stdout, result.stderr);
      return result;
    };
    // The long table of usage errors runs in this process (same code, no process start per case).
    const inProcess = async (args: string[]) => {
      let stdout = '';
      let stderr = '';
      const code = await runCli(['bots', ...args], {
        out: (text) => (stdout += text),
        err: (text) => (stderr += text),
        env: { KEYWAY_URL: url, KEYWAY_TOKEN: token, XDG_CONFIG_HOME: scratch },
      });
      outputs.push(stdout, stderr);
      return { code, stdout, stderr };
    };
    const api = (method: string, route: string, body?: unknown) =>
      callServer(url, method, route, { token, ...(body === undefined ? {} : { body }) });

    const credential = await api('POST', '/api/credentials', {
      name: 'main',
      provider: 'openai-compatible',
      secret: providerKey,
      settings: { baseUrl: upstream.url },
    });
    expect(credential.status, credential.text).toBe(201);

    // create: every group of flags, the Evolution key on stdin.
    const created = await bots(
      [
        'create',
        '--name',
        'support',
        '--credential',
        'main',
        '--model',
        'gpt-4o-mini',
        '--system-prompt',
        'You are the support desk.',
        '--trigger',
        'keyword',
        '--operator',
        'startsWith',
        '--value',
        'hi',
        '--keyword-finish',
        '#stop',
        '--expire-minutes',
        '30',
        '--history',
        '5',
        '--ignore',
        '*@g.us',
        '--ignore',
        '5511999990000@s.whatsapp.net',
        '--split',
        '--split-delay-ms',
        '0',
        '--temperature',
        '0.5',
        '--max-tokens',
        '200',
        '--unknown-message',
        'Text only, please.',
        '--webhook-url',
        'http://127.0.0.1:9/callback',
        '--evolution-url',
        evolution.url,
        '--evolution-instance',
        'sales-1',
        '--evolution-key-stdin',
      ],
      evolutionKey + '\n',
    );
    expect(created.code, created.stderr).toBe(0);
    const [listedBot] = (await api('GET', '/api/bots')).body as { id: string; name: string }[];
    const id = listedBot!.id;
    const secret = /x-keyway-secret: (\S+)/.exec(created.stdout)?.[1];
    expect(secret).toBeTruthy();
    expect(created.stdout).toContain('shown only now');
    expect(created.stdout).toContain(`POST ${url}/hooks/bots/${id}`);
    expect(created.stdout).toContain(`${url}/hooks/evolution/${id}?secret=${encodeURIComponent(secret!)}`);

    // The printed Evolution URL is the one to configure: a message sent to it is answered through
    // the instance, with the key given on stdin.
    const hooked = await fetch(`${url}/hooks/evolution/${id}?secret=${encodeURIComponent(secret!)}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(
        evolutionUpsert({
          instance: 'sales-1',
          remoteJid: '5511000000002@s.whatsapp.net',
          text: 'hi from WhatsApp',
          pushName: 'Joao',
          apikey: evolutionKey,
        }),
      ),
    });
    expect(hooked.status).toBe(202);
    const [delivered] = await evolution.waitForSent(1);
    expect(delivered).toMatchObject({
      instance: 'sales-1',
      number: '5511000000002@s.whatsapp.net',
      text: 'Hello from the fake.',
    });

    // list
    const list = await bots(['list']);
    expect(list.code, list.stderr).toBe(0);
    const row = list.stdout.split('\n').find((line) => line.startsWith('support'));
    expect(list.stdout.split('\n')[0]).toMatch(/^NAME\s+MODEL\s+CREDENTIAL\s+TRIGGER\s+CHANNELS\s+ID$/);
    expect(row).toMatch(/^support\s+gpt-4o-mini\s+main\s+keyword startsWith "hi"\s+webhook, evolution\s+/);
    expect(row).toContain(id);
    const listJson = JSON.parse((await bots(['list', '--json'])).stdout) as Record<string, unknown>[];
    expect(listJson.map((bot) => bot.name)).toEqual(['support']);
    expect(listJson[0]!.inboundSecret).toBeUndefined();

    // show: every setting, the key's hint only, never the inbound secret.
    const show = await bots(['show', 'support']);
    expect(show.code, show.stderr).toBe(0);
    for (const expected of [
      'You are the support desk.',
      'keyword startsWith "hi"',
      '"#stop"',
      '30 min of inactivity',
      '5 message(s)',
      'temperature 0.5, maxTokens 200',
      '*@g.us, 5511999990000@s.whatsapp.net',
      'on blank lines, 0 ms apart',
      '"Text only, please."',
      'POST http://127.0.0.1:9/callback',
      `${evolution.url}, instance sales-1, key ${hintFor(evolutionKey)}`,
      `${url}/hooks/evolution/${id}?secret=<inbound secret>`,
    ])
      expect(show.stdout).toContain(expected);
    expect(show.stdout).not.toContain(secret);
    const shownById = JSON.parse((await bots(['show', id, '--json'])).stdout) as {
      params: unknown;
      channels: { evolution: { apiKeyHint: string } };
    };
    expect(shownById.params).toEqual({ temperature: 0.5, maxTokens: 200 });
    expect(shownById.channels.evolution.apiKeyHint).toBe(hintFor(evolutionKey));

    // --from-json, with flags on top; names of other bots resolve to ids.
    const bodyFile = path.join(scratch, 'sales.json');
    fs.writeFileSync(
      bodyFile,
      JSON.stringify({
        name: 'sales',
        credentialId: 'main',
        model: 'gpt-4o',
        systemPrompt: 'From the file.',
        trigger: { type: 'none' },
        historyWindow: 3,
      }),
    );
    const fromJson = await bots([
      'create',
      '--from-json',
      bodyFile,
      '--model',
      'gpt-4o-mini',
      '--fallback-bot',
      'support',
      '--json',
    ]);
    expect(fromJson.code, fromJson.stderr).toBe(0);
    const sales = JSON.parse(fromJson.stdout) as Record<string, unknown>;
    expect(sales).toMatchObject({
      name: 'sales',
      model: 'gpt-4o-mini',
      systemPrompt: 'From the file.',
      trigger: { type: 'none' },
      historyWindow: 3,
      fallbackBotId: id,
      credentialId: credential.body.id,
    });
    expect(typeof sales.inboundSecret).toBe('string');
    expect((await bots(['show', 'sales'])).stdout).toMatch(/fallback bot\s+support/);

    // Knowledge and media: a knowledge base named (case-insensitive), each setting shown.
    const kb = await api('POST', '/api/knowledge', {
      name: 'Handbook',
      embeddingModel: 'main/text-embedding-3-small',
    });
    expect(kb.status, kb.text).toBe(201);
    const helper = await bots([
      'create',
      '--name',
      'helper',
      '--credential',
      'main',
      '--model',
      'gpt-4o-mini',
      '--knowledge',
      'handbook',
      '--retrieval-token-budget',
      '900',
      '--cite-sources',
      '--images',
      '--speech-to-text',
      '--json',
    ]);
    expect(helper.code, helper.stderr).toBe(0);
    expect(JSON.parse(helper.stdout)).toMatchObject({
      knowledgeBaseIds: [kb.body.id],
      retrievalTokenBudget: 900,
      citeSources: true,
      images: true,
      speechToText: true,
    });
    const helperShown = (await bots(['show', 'helper'])).stdout;
    for (const expected of [
      /knowledge bases\s+Handbook/,
      /retrieved tokens\s+at most 900/,
      /sources line\s+on messaging channels/,
      /images\s+sent to the model/,
      /voice notes\s+transcribed with whisper-1/,
    ])
      expect(helperShown).toMatch(expected);
    expect((await bots(['rm', 'helper', '--yes'])).code).toBe(0);

    // sessions: one message through the HTTP channel, then human takeover from the CLI.
    const contact = '5511000000001@s.whatsapp.net';
    const conversed = await api('POST', `/api/bots/${id}/messages`, {
      contact,
      text: 'hi, I need help',
      name: 'Maria',
    });
    expect(conversed.body, conversed.text).toMatchObject({ replies: ['Hello from the fake.'] });
    expect(upstream.requests.at(-1)!.headers.authorization).toBe(`Bearer ${providerKey}`);

    const sessions = await bots(['sessions', 'support']);
    expect(sessions.code, sessions.stderr).toBe(0);
    expect(sessions.stdout.split('\n')[0]).toMatch(/^CONTACT\s+NAME\s+STATUS\s+MESSAGES\s+LAST ACTIVITY$/);
    expect(sessions.stdout).toMatch(
      new RegExp(`^${contact.replace(/\./g, '\\.')}\\s+Maria\\s+opened\\s+2\\s+\\d{4}-`, 'm'),
    );
    expect(sessions.stdout).toMatch(/^5511000000002@s\.whatsapp\.net\s+Joao\s+opened\s+/m);

    const paused = await bots(['sessions', 'support', '--contact', contact, '--set', 'paused']);
    expect(paused.code, paused.stderr).toBe(0);
    expect(paused.stdout).toContain(`The session of ${contact} with support is now paused.`);
    const pausedOnly = JSON.parse(
      (await bots(['sessions', 'support', '--status', 'paused', '--json'])).stdout,
    ) as { contact: string; status: string }[];
    expect(pausedOnly.map((session) => [session.contact, session.status])).toEqual([[contact, 'paused']]);
    const silent = await api('POST', `/api/bots/${id}/messages`, { contact, text: 'hi again' });
    expect(silent.body).toMatchObject({ replies: [], reason: 'paused' });
    // A contact id with characters that need encoding in a path.
    const odd = 'team/alpha #1';
    const opened = await bots(['sessions', 'support', '--contact', odd, '--set', 'opened', '--json']);
    expect(opened.code, opened.stderr).toBe(0);
    expect(JSON.parse(opened.stdout)).toMatchObject({ contact: odd, status: 'opened' });

    // Bad input: a usage error (exit 2) that says what is wrong, before anything is sent. A few
    // through the real process (the exit code as a shell sees it), the rest in this process.
    const countBefore = (await api('GET', '/api/bots')).body.length;
    const viaProcess: [string[], RegExp][] = [
      [['create', '--name', 'x', '--credential', 'main'], /needs --model/],
      [
        [
          'create',
          '--name',
          'x',
          '--credential',
          'main',
          '--model',
          'm',
          '--evolution-url',
          evolution.url,
          '--evolution-instance',
          'sales-1',
        ],
        /--evolution-key-stdin/,
      ],
      [['rm', 'support'], /needs --yes/],
    ];
    const inThisProcess: [string[], RegExp][] = [
      [
        ['create', '--name', 'x', '--credential', 'main', '--model', 'm', '--temperature', 'warm'],
        /--temperature takes a number/,
      ],
      [
        ['create', '--name', 'x', '--credential', 'main', '--model', 'm', '--temperature', '5'],
        /params\.temperature/,
      ],
      [
        ['create', '--name', 'x', '--credential', 'main', '--model', 'm', '--history', '2.5'],
        /--history takes a whole number/,
      ],
      [
        ['create', '--name', 'x', '--credential', 'main', '--model', 'm', '--trigger', 'keyword'],
        /needs --operator/,
      ],
      [
        [
          'create',
          '--name',
          'x',
          '--credential',
          'main',
          '--model',
          'm',
          '--trigger',
          'all',
          '--value',
          'hi',
        ],
        /go with --trigger keyword/,
      ],
      [
        [
          'create',
          '--name',
          'x',
          '--credential',
          'main',
          '--model',
          'm',
          '--operator',
          'regex',
          '--value',
          '([',
        ],
        /regular expression/,
      ],
      [
        ['create', '--name', 'x', '--credential', 'main', '--model', 'm', '--trigger', 'sometimes'],
        /--trigger takes all, none or keyword/,
      ],
      [['create', '--name', 'has space', '--credential', 'main', '--model', 'm'], /name: letters, digits/],
      [
        ['create', '--name', 'x', '--credential', 'main', '--model', 'm', '--evolution-url', evolution.url],
        /both --evolution-url and --evolution-instance/,
      ],
      [
        ['create', '--name', 'x', '--credential', 'main', '--model', 'm', '--evolution-key-stdin'],
        /needs the Evolution channel/,
      ],
      [
        ['create', '--name', 'x', '--credential', 'main', '--model', 'm', '--evolution-key', evolutionKey],
        /never taken from a flag/,
      ],
      [
        ['create', '--name', 'x', '--credential', 'main', '--model', 'm', '--webhook-url', 'not a url'],
        /channels\.webhook\.callbackUrl/,
      ],
      [['create', '--from-json', path.join(scratch, 'missing.json')], /cannot read/],
      [['list', '--name', 'x'], /--name does not go with `bots list`/],
      [['show'], /Name the bot/],
      [['show', 'support', 'extra'], /Unexpected argument "extra"/],
      [
        ['sessions', 'support', '--set', 'asleep', '--contact', contact],
        /--set takes opened, paused or closed/,
      ],
      [['sessions', 'support', '--set', 'closed'], /--set needs --contact/],
      [['sessions', 'support', '--status', 'gone'], /--status takes/],
      [['frobnicate'], /Unknown bots command: frobnicate/],
      [[], /bots needs a command/],
    ];
    for (const [args, message] of [...viaProcess, ...inThisProcess]) {
      const result = await (viaProcess.some(([a]) => a === args) ? bots(args) : inProcess(args));
      expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(2);
      expect(result.stderr).toContain('[usage]');
      expect(result.stderr).toContain('`keyway bots help` lists every command and flag.');
      expect(result.stderr).toMatch(message);
      expect(result.stderr).not.toMatch(/\n\s+at /);
    }
    expect((await api('GET', '/api/bots')).body).toHaveLength(countBefore);
    const help = await inProcess(['help']);
    expect([help.code, help.stdout]).toEqual([0, expect.stringContaining('--evolution-key-stdin')]);

    // API errors: the server's message, no stack.
    const taken = await bots(['create', '--name', 'support', '--credential', 'main', '--model', 'm']);
    expect(taken.code).not.toBe(0);
    expect(taken.stderr).toMatch(/^keyway: \[name_taken\] /);
    expect(taken.stderr).not.toMatch(/\n\s+at /);
    const unknown = await inProcess(['show', 'nope']);
    expect([unknown.code, unknown.stderr]).toEqual([1, expect.stringContaining('No bot named nope')]);
    const noCredential = await inProcess(['create', '--name', 'x', '--credential', 'nope', '--model', 'm']);
    expect(noCredential.stderr).toContain('No credential named nope');

    // rm
    const removed = await bots(['rm', 'sales', '--yes']);
    expect([removed.code, removed.stdout]).toEqual([0, 'Deleted bot sales.\n']);
    expect((await bots(['rm', id, '--yes'])).code).toBe(0);
    expect((await bots(['list'])).stdout).toBe('(none)\n');

    const everything = outputs.join('\n');
    expect(everything.includes(evolutionKey)).toBe(false);
    expect(everything.includes(providerKey)).toBe(false);
  }, 300_000);
});
