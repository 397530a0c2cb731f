import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessPool, type KeywayProcess } from '../support/keyway-process.ts';
import { createTestDatabase, type TestDatabaseTarget } from '../support/test-database.ts';
import { startSlowOpenAi, type SlowOpenAi } from './fake-upstream.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SHOTS = path.join(ROOT, 'test-artifacts', 'screenshots');
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

/**
 * The web UI in Debian's Chromium against a real `keyway serve` (embedded database) and a fake
 * OpenAI upstream: first-run setup to sign-out, as a person would click through it.
 */
describe('web UI in a real browser [embedded]', () => {
  const pool = new ProcessPool();
  const password = 'a long admin password';
  const secret = `sk-canary-ui-${randomBytes(16).toString('hex')}`;
  let target: TestDatabaseTarget;
  let upstream: SlowOpenAi;
  let server: KeywayProcess;
  let base: string;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  /** Every response body the browser received, every page's HTML, for the canary check. */
  const seen: { where: string; text: string }[] = [];
  const pending: Promise<void>[] = [];
  const pageErrors: string[] = [];

  const shot = async (name: string) => {
    // From the top, so the sticky header is not captured in the middle of a full-page image.
    await page.evaluate('window.scrollTo(0, 0)');
    await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
    seen.push({ where: `HTML of ${name}`, text: await page.content() });
  };
  const heading = (name: string | RegExp) =>
    page.getByRole('heading', { level: 1, name, exact: true }).waitFor();
  const nav = async (name: string) => {
    // On a phone the navigation sits behind the header's Menu button.
    const menu = page.getByRole('button', { name: 'Menu' });
    if (await menu.isVisible()) await menu.click();
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name }).click();
  };

  beforeAll(async () => {
    // Builds web/dist when missing or older than web/src (what `npm start` does).
    execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'build-web-if-needed.mjs')], {
      stdio: 'inherit',
    });
    fs.mkdirSync(SHOTS, { recursive: true });
    upstream = await startSlowOpenAi({ validKey: secret, models: ['gpt-4o-mini', 'gpt-4o'] });
    target = await createTestDatabase('embedded');
    server = pool.serve(target.flags, target.env);
    const url = await server.ready();
    // keyway serve serves the built UI itself, as a user runs it.
    const root = await fetch(url + '/login', { headers: { accept: 'text/html' } });
    expect(root.headers.get('content-type')).toContain('text/html');
    base = url;
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    context = await browser.newContext({ viewport: { width: 1280, height: 860 }, colorScheme: 'light' });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
    page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    // The server's Content-Security-Policy must not block anything the UI does.
    page.on('console', (message) => {
      if (message.type() === 'error' && /Content Security Policy/i.test(message.text()))
        pageErrors.push(message.text());
    });
    page.on('response', (response) => {
      pending.push(
        response
          .text()
          .then((text) => void seen.push({ where: `${response.request().method()} ${response.url()}`, text }))
          .catch(() => {}),
      );
    });
  });

  afterAll(async () => {
    await browser?.close();
    await pool.stopAll();
    await upstream?.close();
    await target?.dispose();
  });

  it('walks setup, sign-in, a credential, a streamed and a stopped reply, reload, a bot, expiry, usage, sign-out [embedded]', async () => {
    const setupToken = /"token":"([^"]+)"/.exec(server.stderr)?.[1];
    expect(setupToken, 'the setup token on stderr').toBeTruthy();

    // First run: the app sends a signed-out visitor to sign-in, which links to setup.
    await page.goto(base + '/');
    await page.waitForURL(/\/(login|setup)/);
    if (page.url().includes('/login'))
      await page.getByRole('link', { name: 'Set up the first admin' }).click();
    await heading('Set up Keyway');
    await page.getByLabel('Setup token').fill(setupToken!);
    await page.getByLabel('Admin username').fill('admin');
    await page.getByLabel('Password', { exact: true }).fill(password);
    await page.getByLabel('Repeat the password').fill('not the same one');
    await page.getByRole('button', { name: 'Create admin and sign in' }).click();
    await page.getByText('The two passwords differ.').waitFor();
    await page.getByLabel('Repeat the password').fill(password);
    await shot('setup-light');
    await page.getByRole('button', { name: 'Create admin and sign in' }).click();

    // Signed in, no credential yet: the chat says so and links to the credentials page.
    await page.getByText('No provider credential is set up yet').waitFor();
    expect(await page.getByRole('link', { name: 'Add a credential' }).getAttribute('href')).toBe(
      '/credentials',
    );

    // Sign out and in again through the login form.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await heading('Sign in to Keyway');
    await page.getByText('You are signed out.').waitFor();
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill('wrong password!');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('Wrong username or password.').waitFor();
    await shot('login-light');
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('navigation', { name: 'Main' }).waitFor();

    // Sending without any credential: refused, the question goes back into the composer.
    await page.getByLabel('Model').fill('openai/gpt-4o-mini');
    await page.getByLabel('Message', { exact: true }).fill('hello?');
    await page.getByLabel('Message', { exact: true }).press('Enter');
    await expect.poll(() => page.getByLabel('Message', { exact: true }).inputValue()).toBe('hello?');
    await page.getByText('No provider credential is set up yet').waitFor();
    await expect.poll(() => page.locator('.message').count()).toBe(0);

    // A credential for the fake upstream; the key field is write-only.
    await nav('Credentials');
    await heading('Credentials');
    expect(await page.title()).toBe('Credentials — Keyway');
    // In-app navigation moves focus to the new page's heading.
    expect(await page.evaluate<string>('document.activeElement && document.activeElement.textContent')).toBe(
      'Credentials',
    );
    await page.getByRole('button', { name: 'Add credential' }).click();
    await page.getByLabel('Name', { exact: true }).fill('fake');
    await page.getByLabel('Provider').selectOption('openai');
    const keyField = page.getByLabel('API key');
    expect(await keyField.getAttribute('type')).toBe('password');
    expect(await keyField.getAttribute('autocomplete')).toBe('off');
    await keyField.fill(secret);
    await page.getByLabel('Base URL').fill(upstream.url);
    await page.getByRole('button', { name: 'Save and test' }).click();
    await page.getByText('Saved "fake" and tested it').waitFor();
    const card = page.locator('li.credential', { hasText: 'fake' });
    await card.getByText(secret.slice(0, 3), { exact: false }).first().waitFor();
    await card.getByRole('button', { name: 'Test' }).click();
    await page.getByText('"fake" works').waitFor();
    await card.getByText('valid', { exact: true }).waitFor();
    await shot('credentials-light');

    // Chat: pick the model, a full streamed reply rendered as Markdown with a highlighted code block.
    await nav('Chat');
    await page.getByLabel('Model').selectOption('fake/gpt-4o-mini');
    const composer = page.getByLabel('Message', { exact: true });
    await composer.fill('What is the answer?');
    await composer.press('Enter');
    await page.locator('.message.assistant .code-block').waitFor();
    await page.locator('.message.assistant strong', { hasText: 'the answer' }).waitFor();
    await page.locator('.message.assistant .tok-keyword', { hasText: 'const' }).waitFor();
    await page.getByText('Done.').waitFor();
    await page.waitForURL(/\/chat\/[^/]+$/);
    const conversationUrl = page.url();
    await page.getByRole('button', { name: 'Copy code' }).click();
    expect(await page.evaluate<string>('navigator.clipboard.readText()')).toBe('const answer = 42;');

    // A slow reply, stopped mid-stream with the Stop button: the partial text stays, marked stopped.
    await composer.fill('Tell me something long');
    await composer.press('Enter');
    await page.locator('.message.streaming', { hasText: 'word3' }).waitFor();
    await page.getByRole('button', { name: /^Stop/ }).click();
    await page.locator('.badge-stopped').waitFor();
    expect(await page.locator('.message.streaming').count()).toBe(0);
    await page.getByRole('button', { name: 'Send' }).waitFor();
    // The Stop button is gone; focus went back to the composer, not to the page body.
    await expect
      .poll(() => page.evaluate<string>('document.activeElement && document.activeElement.id'))
      .toBe('composer');
    const slowChat = upstream.chats.at(-1)!;
    await expect.poll(() => slowChat.aborted, { timeout: 10_000 }).toBe(true);

    // Reload: the conversation comes back from the server, with the stopped reply.
    await page.reload();
    expect(page.url()).toBe(conversationUrl);
    await page
      .getByRole('complementary', { name: 'Conversations' })
      .getByRole('link', { name: /What is the answer/ })
      .waitFor();
    await page.locator('.message.assistant', { hasText: 'word3' }).locator('.badge-stopped').waitFor();
    await page.getByText('Done.').waitFor();
    await shot('chat-light');
    await page.getByLabel('Theme').selectOption('dark');
    await shot('chat-dark');
    await page.setViewportSize({ width: 360, height: 740 });
    await shot('chat-dark-360px');
    await page.setViewportSize({ width: 1280, height: 860 });
    await page.getByLabel('Theme').selectOption('light');

    // Regenerate the stopped reply and stop it with Esc; then edit the first question and resend:
    // everything after it is replaced.
    await page.getByRole('button', { name: 'Regenerate' }).click();
    await page.locator('.message.streaming', { hasText: 'word2' }).waitFor();
    await page.keyboard.press('Escape');
    await page.locator('.badge-stopped').waitFor();
    await page.getByRole('button', { name: 'Send' }).waitFor();
    await page.getByRole('article', { name: 'You' }).first().getByRole('button', { name: 'Edit' }).click();
    await page.getByLabel('Edit message').fill('What is the answer, briefly?');
    await page.getByRole('button', { name: 'Send edit' }).click();
    await expect.poll(() => page.locator('.message').count(), { timeout: 15_000 }).toBe(2);
    await page.getByText('Done.').waitFor();
    expect(await page.locator('.badge-stopped').count()).toBe(0);
    expect(upstream.chats.at(-1)!.body.messages).toEqual([
      { role: 'user', content: 'What is the answer, briefly?' },
    ]);

    // Rename and search the conversation; Ctrl+K starts a new chat, which is then deleted.
    const sidebar = page.getByRole('complementary', { name: 'Conversations' });
    await sidebar.getByRole('button', { name: /^Rename / }).click();
    await page.getByLabel('New title').fill('Answers');
    await page.getByLabel('New title').press('Enter');
    await sidebar.getByRole('link', { name: 'Answers' }).waitFor();
    await page.getByRole('heading', { level: 1, name: 'Answers' }).waitFor();
    await page.keyboard.press('Control+k');
    await page.waitForURL(base + '/');
    await page.getByRole('heading', { level: 1, name: 'New chat' }).waitFor();
    await composer.fill('Second chat');
    await composer.press('Enter');
    await page.getByText('Done.').waitFor();
    await sidebar.getByRole('link', { name: 'Second chat' }).waitFor();
    await page.getByLabel('Search conversations').fill('answers');
    await expect.poll(() => sidebar.getByRole('link').count()).toBe(1);
    await page.getByLabel('Search conversations').fill('');
    await expect.poll(() => sidebar.getByRole('link').count()).toBe(2);
    page.once('dialog', (dialog) => void dialog.accept());
    await sidebar.getByRole('button', { name: 'Delete Second chat' }).click();
    await page.getByRole('heading', { level: 1, name: 'New chat' }).waitFor();
    await expect.poll(() => sidebar.getByRole('link').count()).toBe(1);

    // Bots: create one with a keyword trigger, copy its secret once, talk to it as a contact.
    await nav('Bots');
    await heading('Bots');
    await page.getByRole('link', { name: 'New bot' }).click();
    await heading('New bot');
    await page.getByLabel('Name', { exact: true }).fill('support');
    await page.getByLabel('Credential', { exact: true }).selectOption({ label: 'fake (openai)' });
    await page.getByLabel('Model', { exact: true }).fill('gpt-4o-mini');
    await page.getByLabel('System prompt').fill('You answer support questions.');
    await page.getByLabel('Trigger', { exact: true }).selectOption('keyword');
    await page.getByLabel('Operator', { exact: true }).selectOption('startsWith');
    await page.getByLabel('Keyword', { exact: true }).fill('hi');
    await page.getByLabel('Finish keyword').fill('#stop');
    await page.getByLabel('Expire after (minutes idle)').fill('30');
    await page.getByRole('button', { name: 'Create bot' }).click();
    await heading('Bot support created');
    const inbound = await page.getByTestId('inbound-secret').textContent();
    expect(inbound?.length).toBeGreaterThan(10);
    await page.getByText(/\/hooks\/bots\//).waitFor();
    await page.getByText(/\/hooks\/evolution\//).waitFor();
    await shot('bot-created-light');
    await page.getByRole('button', { name: 'I saved the secret, continue' }).click();
    await heading('Bot support');
    expect(await page.content()).not.toContain(inbound!);
    await page.getByLabel('Message', { exact: true }).fill('hi there');
    await page.getByRole('button', { name: 'Send as contact' }).click();
    await page.locator('.try-result').waitFor();
    await page.getByRole('button', { name: 'Refresh' }).click();
    await shot('bot-light');

    // Session expiry: with the cookie gone, the next call sends the user to sign-in with a message,
    // and signing in returns to where they were going.
    await context.clearCookies();
    await nav('Usage');
    await page.getByText('Your session has ended. Sign in again to continue.').waitFor();
    expect(new URL(page.url()).searchParams.get('next')).toBe('/usage');
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/usage$/);

    // Usage shows the chat requests (and the bot's, when there is one).
    await heading('Usage');
    await expect
      .poll(
        async () => Number((await page.getByTestId('total-requests').textContent())?.replace(/\D/g, '')),
        {
          timeout: 10_000,
        },
      )
      .toBeGreaterThanOrEqual(2);
    await page.locator('.chart svg rect').last().waitFor(); // today: the newest day is last
    await shot('usage-light');
    await page.getByRole('radio', { name: 'By model' }).click();
    await page
      .locator('.bar-list')
      .getByText(/gpt-4o-mini/)
      .first()
      .waitFor();

    // API tokens: shown once, then only the prefix.
    await nav('API tokens');
    await heading('API tokens');
    await page.getByLabel('Token name').fill('laptop');
    await page.getByRole('button', { name: 'Create token' }).click();
    const token = await page.getByTestId('new-token').textContent();
    expect(token).toMatch(/^kw_/);
    await shot('tokens-light');
    await page.getByRole('button', { name: 'Done' }).click();
    expect(await page.content()).not.toContain(token!);
    expect((await fetch(base + '/api/me', { headers: { authorization: `Bearer ${token}` } })).status).toBe(
      200,
    );
    page.once('dialog', (dialog) => void dialog.accept());
    await page.getByRole('button', { name: 'Revoke laptop' }).click();
    await page.getByText('No API tokens yet.').waitFor();
    expect((await fetch(base + '/api/me', { headers: { authorization: `Bearer ${token}` } })).status).toBe(
      401,
    );

    // Users (admin).
    await nav('Users');
    await heading('Users');
    await page.getByLabel('Username', { exact: true }).fill('bob');
    await page.getByLabel('Password', { exact: true }).fill('bob password 123');
    await page.getByRole('button', { name: 'Create user' }).click();
    await page.getByText('Created bob.').waitFor();
    await page.getByRole('row', { name: /bob/ }).getByRole('button', { name: 'Disable' }).click();
    await page.getByText('bob is disabled.').waitFor();
    await shot('users-light');

    // 360 px wide: no page scrolls sideways; the chat's conversation list opens as an overlay.
    await page.setViewportSize({ width: 360, height: 740 });
    for (const [label, title] of [
      ['Credentials', 'Credentials'],
      ['Bots', 'Bots'],
      ['Usage', 'Usage'],
      ['API tokens', 'API tokens'],
      ['Users', 'Users'],
    ]) {
      await nav(label!);
      await heading(title!);
      const width = await page.evaluate<number>('document.documentElement.scrollWidth');
      expect(width, `${label} at 360 px`).toBeLessThanOrEqual(360);
    }
    await shot('users-360px-light');
    await nav('Chat');
    await page.getByRole('button', { name: 'Chats' }).click();
    await sidebar.getByRole('link', { name: 'Answers' }).click();
    await page.getByRole('heading', { level: 1, name: 'Answers' }).waitFor();
    expect(await sidebar.isVisible()).toBe(false);
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(360);
    await page.setViewportSize({ width: 1280, height: 860 });

    // Sign out.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await heading('Sign in to Keyway');
    expect((await page.request.get(base + '/api/me')).status()).toBe(401);
    expect(pageErrors).toEqual([]);
  }, 240_000);

  it('drives the bots pages through the documented bots API (bots.md), routed in the browser [embedded]', async () => {
    // The bots API lives on another branch: this checks the UI against its documented shape, while
    // the walk above checks it against the real server once merged.
    type Json = Record<string, any>;
    const bots = new Map<string, Json>();
    const sessions: Json[] = [
      {
        id: 's1',
        contact: '5511999990000@s.whatsapp.net',
        contactName: 'Ana',
        status: 'opened',
        closeReason: null,
        messages: 2,
        openedAt: new Date().toISOString(),
        lastActivityAt: new Date().toISOString(),
        closedAt: null,
      },
    ];
    const calls: { method: string; path: string; body: Json | undefined }[] = [];
    await page.route(/\/api\/bots(\/|$|\?)/, async (route) => {
      const request = route.request();
      const path = new URL(request.url()).pathname;
      const body = request.postData() ? (JSON.parse(request.postData()!) as Json) : undefined;
      calls.push({ method: request.method(), path, body });
      const reply = (status: number, json?: unknown) =>
        route.fulfill({
          status,
          contentType: 'application/json',
          body: json === undefined ? '' : JSON.stringify(json),
        });
      const stored = (bot: Json) => {
        const { inboundSecret: _secret, ...rest } = bot;
        if (rest.channels?.evolution) {
          const { apiKey: _key, ...evolution } = rest.channels.evolution;
          rest.channels = { ...rest.channels, evolution: { ...evolution, apiKeySet: true } };
        }
        return rest;
      };
      const [, , , id, sub, contact] = path.split('/');
      if (!id) {
        if (request.method() === 'GET') return reply(200, [...bots.values()].map(stored));
        const bot = {
          ...body,
          id: 'bot_1',
          createdAt: new Date().toISOString(),
          updatedAt: new Date().toISOString(),
        };
        bots.set(bot.id, stored(bot));
        return reply(201, { ...stored(bot), inboundSecret: 'kwb_inbound_secret_0123456789' });
      }
      const bot = bots.get(id);
      if (!bot) return reply(404, { error: { code: 'not_found', message: 'No such bot.' } });
      if (!sub) {
        if (request.method() === 'PATCH') {
          const next = { ...bot, ...body, channels: { ...bot.channels, ...body!.channels } };
          if (body!.channels?.evolution && !body!.channels.evolution.apiKey)
            next.channels.evolution = { ...body!.channels.evolution, apiKeySet: true };
          bots.set(id, stored(next));
          return reply(200, stored(next));
        }
        if (request.method() === 'DELETE') {
          bots.delete(id);
          return reply(204);
        }
        return reply(200, bot);
      }
      if (sub === 'sessions' && !contact) return reply(200, sessions);
      if (sub === 'sessions') {
        const session = sessions.find((candidate) => candidate.contact === decodeURIComponent(contact!))!;
        session.status = body!.status;
        return reply(200, session);
      }
      if (sub === 'messages')
        return reply(200, { replies: ['Hello from the bot!'], session: { id: 's2', status: 'opened' } });
      return reply(404, { error: { code: 'not_found', message: 'No route.' } });
    });

    await page.goto(base + '/bots');
    await heading('Sign in to Keyway');
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await heading('Bots');
    await page.getByText('No bots yet.').waitFor();
    await page.getByRole('link', { name: 'New bot' }).click();
    await heading('New bot');

    // Every group of settings, with a mistake first: an invalid regular expression.
    await page.getByLabel('Name', { exact: true }).fill('support');
    await page.getByLabel('Credential', { exact: true }).selectOption({ label: 'fake (openai)' });
    await page.getByLabel('Model', { exact: true }).fill('gpt-4o-mini');
    await page.getByLabel('System prompt').fill('You answer support questions.');
    await page.getByRole('button', { name: 'Add seed message' }).click();
    await page.getByLabel('Seed 1 content').fill('Be brief.');
    await page.getByLabel('Temperature').fill('0.7');
    await page.getByLabel('Max tokens').fill('500');
    await page.getByLabel('Trigger', { exact: true }).selectOption('keyword');
    await page.getByLabel('Operator', { exact: true }).selectOption('regex');
    await page.getByLabel('Keyword', { exact: true }).fill('(hi');
    await page.getByLabel('Finish keyword').fill('#stop');
    await page.getByLabel('Expire after (minutes idle)').fill('30');
    await page.getByLabel('Debounce (seconds)').fill('3');
    await page.getByLabel('Ignored contacts').fill('*@g.us\n5511999990001@s.whatsapp.net');
    await page.getByLabel('Split replies on blank lines').check();
    await page.getByLabel('Failure reply').fill('Sorry, try again later.');
    await page.getByLabel('Webhook callback URL').fill('https://example.com/callback');
    await page.getByLabel('Evolution server URL').fill('http://evolution.local:8080');
    await page.getByLabel('Evolution instance').fill('sales-1');
    await page.getByLabel('Evolution API key').fill('evo-instance-key');
    await page.getByRole('button', { name: 'Create bot' }).click();
    await page.getByText(/^Not a valid regular expression/).waitFor();
    expect(calls.filter((call) => call.method === 'POST')).toEqual([]);
    await page.getByLabel('Keyword', { exact: true }).fill('^hi');
    await page.getByRole('button', { name: 'Create bot' }).click();

    // The secret is shown once, with the webhook URLs to copy.
    await heading('Bot support created');
    expect(await page.getByTestId('inbound-secret').textContent()).toBe('kwb_inbound_secret_0123456789');
    await page.getByText(/\/hooks\/bots\/bot_1$/).waitFor();
    await page.getByText(/\/hooks\/evolution\/bot_1$/).waitFor();
    await page.getByRole('button', { name: 'Copy URL with secret' }).click();
    expect(await page.evaluate<string>('navigator.clipboard.readText()')).toBe(
      `${base}/hooks/evolution/bot_1?secret=kwb_inbound_secret_0123456789`,
    );
    const created = calls.find((call) => call.method === 'POST' && call.path === '/api/bots')!.body;
    expect(created).toMatchObject({
      name: 'support',
      model: 'gpt-4o-mini',
      systemPrompt: 'You answer support questions.',
      seedMessages: [{ role: 'user', content: 'Be brief.' }],
      params: { temperature: 0.7, maxTokens: 500 },
      trigger: { type: 'keyword', operator: 'regex', value: '^hi', caseSensitive: false },
      keywordFinish: '#stop',
      expireMinutes: 30,
      debounceSeconds: 3,
      ignore: ['*@g.us', '5511999990001@s.whatsapp.net'],
      takeover: { pauseOnFromMe: true, listenFromMe: false },
      split: { enabled: true, delayMs: 800 },
      failureMessage: 'Sorry, try again later.',
      channels: {
        webhook: { callbackUrl: 'https://example.com/callback' },
        evolution: {
          serverUrl: 'http://evolution.local:8080',
          instance: 'sales-1',
          apiKey: 'evo-instance-key',
        },
      },
    });
    expect(typeof created!.credentialId).toBe('string');
    await page.getByRole('button', { name: 'I saved the secret, continue' }).click();

    // Editing: the form comes back filled, the write-only Evolution key empty and kept when left so.
    await heading('Bot support');
    expect(await page.content()).not.toContain('kwb_inbound_secret_0123456789');
    expect(await page.getByLabel('System prompt').inputValue()).toBe('You answer support questions.');
    expect(await page.getByLabel('Evolution API key').inputValue()).toBe('');
    await page.getByLabel('Temperature').fill('0.2');
    await page.getByRole('button', { name: 'Save bot' }).click();
    await page.getByText('Saved.').waitFor();
    const saved = calls.find((call) => call.method === 'PATCH')!.body!;
    expect(saved.params).toEqual({ temperature: 0.2, maxTokens: 500 });
    expect(saved.channels.evolution).toEqual({
      serverUrl: 'http://evolution.local:8080',
      instance: 'sales-1',
    });

    // Sessions: pause one; try the bot as a contact.
    await page.getByRole('button', { name: 'Pause the session with 5511999990000@s.whatsapp.net' }).click();
    await page.getByRole('row', { name: /Ana/ }).getByText('paused', { exact: true }).waitFor();
    expect(calls.some((call) => call.path.endsWith('/sessions/5511999990000%40s.whatsapp.net/status'))).toBe(
      true,
    );
    await page.getByLabel('Message', { exact: true }).fill('hi there');
    await page.getByRole('button', { name: 'Send as contact' }).click();
    await page.getByText('Hello from the bot!').waitFor();
    await page.getByLabel('Theme').selectOption('dark');
    await shot('bot-dark');
    await page.getByLabel('Theme').selectOption('light');
    await page.getByRole('link', { name: '← All bots' }).click();
    await page.getByRole('link', { name: 'support' }).waitFor();
    await shot('bots-light');

    // A server without the bots API: a neutral notice, no crash.
    await page.unroute(/\/api\/bots(\/|$|\?)/);
    await page.route(/\/api\/bots(\/|$|\?)/, (route) =>
      route.fulfill({
        status: 404,
        contentType: 'application/json',
        body: JSON.stringify({ error: { code: 'not_found', message: 'No route for GET /api/bots.' } }),
      }),
    );
    await page.reload();
    await page.getByText('Bots are not available on this server yet.').waitFor();
    await page.goto(base + '/bots/new');
    await page.getByText('Bots are not available on this server yet.').waitFor();
    await page.unroute(/\/api\/bots(\/|$|\?)/);

    // Credentials: rotate the key in place, then delete one a bot uses (the server's 409 is routed
    // until bots exist here): the page lists the bots and offers to detach them.
    await nav('Credentials');
    await heading('Credentials');
    const card = page.locator('li.credential', { hasText: 'fake' });
    await card.getByRole('button', { name: 'Rotate' }).click();
    const newKey = card.getByLabel('New key for fake');
    expect(await newKey.getAttribute('type')).toBe('password');
    await newKey.fill(secret);
    await card.getByRole('button', { name: 'Replace key' }).click();
    await page.getByText('The key of "fake" was replaced').waitFor();
    await page.route(/\/api\/credentials\/[^/?]+$/, (route) =>
      route.request().method() === 'DELETE'
        ? route.fulfill({
            status: 409,
            contentType: 'application/json',
            body: JSON.stringify({
              error: {
                code: 'credential_in_use',
                message: 'The credential is used by 1 bot(s): support.',
                details: { bots: [{ id: 'bot_1', name: 'support' }] },
              },
            }),
          })
        : route.continue(),
    );
    page.once('dialog', (dialog) => void dialog.accept());
    await card.getByRole('button', { name: 'Delete' }).click();
    await page.getByText('"fake" is used by a bot: support.').waitFor();
    await shot('credential-in-use-light');
    await card.getByRole('button', { name: 'Detach and delete' }).click();
    await page.getByText('Deleted "fake".').waitFor();
    await page.getByText('No credentials yet.').waitFor();
    expect(pageErrors).toEqual([]);
  }, 120_000);

  it('shares a key with a team within limits: a team, a member, a grant with a USD limit and a model pattern, My limits, a refusal in chat, usage by team with cost [embedded]', async () => {
    // Written against docs/sharing.md before the sharing API was merged: it drives the real server.
    const SHARING_SHOTS = '/tmp/keyway-shots';
    fs.mkdirSync(SHARING_SHOTS, { recursive: true });
    const snap = async (on: Page, name: string) => {
      await on.evaluate('window.scrollTo(0, 0)');
      const image = await on.screenshot({ fullPage: true });
      fs.writeFileSync(path.join(SHOTS, `${name}.png`), image);
      fs.writeFileSync(path.join(SHARING_SHOTS, `${name}.png`), image);
      seen.push({ where: `HTML of ${name}`, text: await on.content() });
    };
    const memberPassword = 'carol password 123';

    // The page is signed in as the admin (the previous walk ended on Credentials).
    await page.goto(base + '/credentials');
    await heading('Credentials');
    await page.getByRole('button', { name: 'Add credential' }).click();
    await page.getByLabel('Name', { exact: true }).fill('team-key');
    await page.getByLabel('Provider').selectOption('openai');
    await page.getByLabel('API key').fill(secret);
    await page.getByLabel('Base URL').fill(upstream.url);
    await page.getByRole('button', { name: 'Save and test' }).click();
    await page.getByText('Saved "team-key" and tested it').waitFor();

    // A member to share with.
    await nav('Users');
    await heading('Users');
    await page.getByLabel('Username', { exact: true }).fill('carol');
    await page.getByLabel('Password', { exact: true }).fill(memberPassword);
    await page.getByRole('button', { name: 'Create user' }).click();
    await page.getByText('Created carol.').waitFor();

    // A team with carol in it, and a team budget.
    await nav('Teams');
    await heading('Teams');
    await page.getByLabel('Team name').fill('Physics 101');
    await page.getByRole('button', { name: 'Create team' }).click();
    await heading('Team Physics 101');
    await page.getByLabel('Add a member').selectOption({ label: 'carol' });
    await page.getByRole('button', { name: 'Add member' }).click();
    await page.getByText('Added carol as a team member.').waitFor();
    await page.getByRole('row', { name: /carol/ }).waitFor();
    await page.getByRole('button', { name: 'Set team limits' }).click();
    await page.getByLabel('USD budget').fill('50');
    await page.getByLabel('USD period').selectOption('month');
    await page.getByRole('button', { name: 'Save limits' }).click();
    await page.getByText('Saved the limits of Physics 101.').waitFor();
    await page.getByText('$50.00 per month').first().waitFor();
    await snap(page, 'team-light');

    // The credential granted to the team: mini models only, $20 a month.
    await nav('Credentials');
    await heading('Credentials');
    const card = page.locator('li.credential', { hasText: 'team-key' });
    await card.getByRole('button', { name: /Sharing/ }).click();
    await card.getByText('Only you can use this credential.').waitFor();
    await card.getByRole('button', { name: 'Add a grant' }).click();
    await card.getByLabel('Share with', { exact: true }).selectOption('team');
    await card.getByLabel('Who', { exact: true }).selectOption({ label: 'Physics 101' });
    await card.getByLabel('Models').fill('gpt-4o-mini*');
    await card.getByLabel('USD budget').fill('20');
    await card.getByLabel('USD period').selectOption('month');
    await card.getByRole('button', { name: 'Grant', exact: true }).click();
    await page.getByText('Granted "team-key" to team Physics 101.').waitFor();
    const grant = card.locator('li.grant', { hasText: 'team Physics 101' });
    await grant.getByText('gpt-4o-mini*').waitFor();
    await grant.getByText('$20.00 per month').waitFor();
    await grant.getByRole('meter').waitFor();
    await snap(page, 'sharing-light');

    // The team's page lists the grant made to it.
    await nav('Teams');
    await page.getByRole('link', { name: 'Physics 101' }).click();
    await heading('Team Physics 101');
    await page.getByRole('list', { name: 'Grants to the team' }).getByText('team-key').waitFor();

    // carol signs in elsewhere: My limits shows the grant's budget and the team's.
    const memberContext = await browser.newContext({
      viewport: { width: 390, height: 844 },
      colorScheme: 'light',
    });
    const member = await memberContext.newPage();
    member.on('pageerror', (error) => pageErrors.push(`member: ${error.message}`));
    member.on('response', (response) => {
      pending.push(
        response
          .text()
          .then(
            (text) =>
              void seen.push({ where: `member ${response.request().method()} ${response.url()}`, text }),
          )
          .catch(() => {}),
      );
    });
    await member.goto(base + '/limits');
    await member.getByRole('heading', { level: 1, name: 'Sign in to Keyway' }).waitFor();
    await member.getByLabel('Username').fill('carol');
    await member.getByLabel('Password').fill(memberPassword);
    await member.getByRole('button', { name: 'Sign in' }).click();
    await member.getByRole('heading', { level: 1, name: 'My limits', exact: true }).waitFor();
    const limits = member.getByRole('list', { name: 'Limits that apply to you' });
    const grantLimit = limits.locator('li', { hasText: /grant of team-key/i });
    await grantLimit.getByText(/\$20\.00 per month/).waitFor();
    await grantLimit.getByText(/resets /).waitFor();
    await grantLimit.getByRole('meter').waitFor();
    await limits
      .locator('li', { hasText: /team Physics 101/i })
      .getByText(/\$50\.00 per month/)
      .first()
      .waitFor();
    expect(await member.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    await snap(member, 'my-limits-390px-light');

    // carol chats through the grant.
    await member.getByRole('button', { name: 'Menu' }).click();
    await member.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Chat' }).click();
    await member.getByLabel('Model').selectOption('team-key/gpt-4o-mini');
    const memberComposer = member.getByLabel('Message', { exact: true });
    await memberComposer.fill('What is the answer?');
    await memberComposer.press('Enter');
    await member.getByText('Done.').waitFor();

    // The admin narrows the grant to a budget one reply cannot fit in: the next message is refused
    // with the limit and when it resets, and the typed text stays in the composer.
    await page.goto(base + '/credentials');
    await heading('Credentials');
    await card.getByRole('button', { name: /Sharing/ }).click();
    await grant.getByRole('button', { name: 'Edit the grant to team Physics 101' }).click();
    await card.getByLabel('USD budget').fill('0.0001');
    await card.getByRole('button', { name: 'Save grant' }).click();
    await page.getByText('Saved the grant to team Physics 101.').waitFor();
    await memberComposer.fill('And another question?');
    await memberComposer.press('Enter');
    const refusal = member.locator('.notice', { hasText: /See my limits/ });
    await refusal.getByText(/^Limit: .* resets /).waitFor();
    await expect.poll(() => memberComposer.inputValue()).toBe('And another question?');
    await snap(member, 'chat-refused-390px-light');
    await memberContext.close();

    // Usage by team, with what it cost.
    await nav('Usage');
    await heading('Usage');
    await page.getByRole('radio', { name: 'By team' }).click();
    await page.getByRole('columnheader', { name: 'Cost' }).waitFor();
    const teamRow = page.getByRole('row', { name: /Physics 101/ });
    await teamRow.waitFor();
    expect(await teamRow.locator('td').last().textContent()).toMatch(/^\$\d/);
    await page.getByRole('radio', { name: 'By user' }).click();
    await page.getByRole('row', { name: /carol/ }).waitFor();
    await page.getByRole('radio', { name: 'By team' }).click();
    await teamRow.waitFor();
    await snap(page, 'usage-by-team-light');

    // A 390 px phone: the sharing pages do not scroll sideways.
    await page.setViewportSize({ width: 390, height: 844 });
    for (const [label, title] of [
      ['Teams', 'Teams'],
      ['My limits', 'My limits'],
      ['Credentials', 'Credentials'],
    ]) {
      await nav(label!);
      await heading(title!);
      expect(await page.evaluate<number>('document.documentElement.scrollWidth'), label).toBeLessThanOrEqual(
        390,
      );
    }
    await card.getByRole('button', { name: /Sharing/ }).click();
    await card.getByRole('button', { name: 'Add a grant' }).click();
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    await snap(page, 'sharing-390px-light');
    await page.setViewportSize({ width: 1280, height: 860 });

    // The team admin view revokes the grant; the team's page no longer lists it.
    await nav('Teams');
    await page.getByRole('link', { name: 'Physics 101' }).click();
    await heading('Team Physics 101');
    page.once('dialog', (dialog) => void dialog.accept());
    await page.getByRole('button', { name: /^Revoke the grant of team-key/ }).click();
    await page.getByText('Revoked the grant.').waitFor();
    await page.getByText('No credential is granted to this team yet.').waitFor();
    expect(pageErrors).toEqual([]);
  }, 180_000);

  it('never lets the credential key back into the browser: no page HTML, response body or storage holds it [embedded]', async () => {
    await Promise.all(pending);
    expect(seen.length).toBeGreaterThan(20);
    const leaks = seen.filter((entry) => entry.text.includes(secret)).map((entry) => entry.where);
    expect(leaks).toEqual([]);
    // Evaluated in the page (this file is type-checked without the DOM library).
    const storage = await page.evaluate<string>(`[localStorage, sessionStorage]
      .map((store) => Array.from({ length: store.length }, (_, i) => store.key(i) + '=' + store.getItem(store.key(i))).join('\\n'))
      .join('\\n')`);
    expect(storage.includes(secret)).toBe(false);
    expect((await page.content()).includes(secret)).toBe(false);
  });
});
