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
  '--disable-dev-shm-usage',
  '--no-first-run',
];
const DESKTOP = { width: 1280, height: 860 };
const PHONE = { width: 390, height: 844 };

/**
 * What a new user found rough (issue 16, item 8), walked in Debian's Chromium against a real
 * `keyway serve`: setup as the first page, no setup link after it, a credential tested as it is saved
 * and edited afterwards, a bot session's transcript, the phone header, a member's own password.
 */
describe('polish found by a new user, in a real browser [embedded]', () => {
  const pool = new ProcessPool();
  const password = 'a long admin password';
  const secret = `sk-polish-${randomBytes(12).toString('hex')}`;
  let target: TestDatabaseTarget;
  let upstream: SlowOpenAi;
  let refusing: SlowOpenAi;
  let server: KeywayProcess;
  let base: string;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const pageErrors: string[] = [];

  /**
   * Screenshots at 1280 and at 390 px wide (of the window, scrolled to `focus` when given), then back
   * to the desktop size; the page must not scroll sideways on the phone.
   */
  const shots = async (name: string, on: Page = page, focus?: string) => {
    for (const [size, suffix] of [
      [DESKTOP, '1280'],
      [PHONE, '390'],
    ] as const) {
      await on.setViewportSize(size);
      if (focus) await on.locator(focus).first().scrollIntoViewIfNeeded();
      await on.screenshot({ path: path.join(SHOTS, `${name}-${suffix}.png`) });
    }
    expect(
      await on.evaluate<number>('document.documentElement.scrollWidth'),
      `${name} at 390 px`,
    ).toBeLessThanOrEqual(390);
    await on.setViewportSize(DESKTOP);
  };
  const heading = (name: string | RegExp, on: Page = page) =>
    on.getByRole('heading', { level: 1, name, exact: true }).waitFor();
  const nav = (name: string) =>
    page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name }).click();
  const csrf = async (on: Page = page) =>
    ((await (await on.request.get(`${base}/api/me`)).json()) as { csrfToken: string }).csrfToken;

  beforeAll(async () => {
    execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'build-web-if-needed.mjs')], {
      stdio: 'inherit',
    });
    fs.mkdirSync(SHOTS, { recursive: true });
    upstream = await startSlowOpenAi({ validKey: secret, models: ['gpt-4o-mini', 'gpt-4o'] });
    refusing = await startSlowOpenAi({ validKey: `sk-other-${randomBytes(8).toString('hex')}`, models: [] });
    target = await createTestDatabase('embedded');
    server = pool.serve(target.flags, target.env);
    base = await server.ready();
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    context = await browser.newContext({ viewport: DESKTOP, colorScheme: 'light' });
    page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await pool.stopAll();
    await upstream?.close();
    await refusing?.close();
    await target?.dispose();
  });

  it('lands a first visit on setup, and once set up, sign-in no longer offers it', async () => {
    const seen: string[] = [];
    page.on('framenavigated', (frame) => {
      if (frame === page.mainFrame()) seen.push(new URL(frame.url()).pathname);
    });
    await page.goto(base + '/');
    await heading('Set up Keyway');
    expect(new URL(page.url()).pathname).toBe('/setup');
    // The sign-in page was never drawn on the way.
    expect(await page.getByRole('heading', { name: 'Sign in to Keyway' }).count()).toBe(0);
    // Even a deep link goes to setup while no user exists.
    await page.goto(base + '/credentials');
    await heading('Set up Keyway');
    await shots('polish-setup');

    const setupToken = /"token":"([^"]+)"/.exec(server.stderr)?.[1];
    expect(setupToken, 'the setup token on stderr').toBeTruthy();
    // A second browser has the setup page open too, and will be late.
    const late = await (await browser.newContext({ viewport: DESKTOP })).newPage();
    await late.goto(base + '/');
    await heading('Set up Keyway', late);
    await page.getByLabel('Setup token').fill(setupToken!);
    await page.getByLabel('Admin username').fill('admin');
    await page.getByLabel('Password', { exact: true }).fill(password);
    await page.getByLabel('Repeat the password').fill(password);
    await page.getByRole('button', { name: 'Create admin and sign in' }).click();
    await page.getByRole('navigation', { name: 'Main' }).waitFor();

    // The late browser is told setup is done, and shown sign-in.
    await late.getByLabel('Setup token').fill(setupToken!);
    await late.getByLabel('Password', { exact: true }).fill('another long password');
    await late.getByLabel('Repeat the password').fill('another long password');
    await late.getByRole('button', { name: 'Create admin and sign in' }).click();
    await heading('Sign in to Keyway', late);
    await late.getByText('Setup is already done: an admin exists. Sign in.').waitFor();
    expect(new URL(late.url()).pathname).toBe('/login');
    await late.context().close();

    await page.getByRole('button', { name: 'Sign out' }).click();
    await heading('Sign in to Keyway');
    expect(await page.getByText(/set up/i).count()).toBe(0);
    expect(await page.getByRole('link', { name: /set up/i }).count()).toBe(0);
    // The setup address now shows sign-in.
    await page.goto(base + '/setup');
    await heading('Sign in to Keyway');
    expect(new URL(page.url()).pathname).toBe('/login');
    await shots('polish-login');
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('navigation', { name: 'Main' }).waitFor();
  });

  it('tests a credential as it is saved: a refused key is kept, marked invalid, and fixed by editing its settings', async () => {
    await nav('Credentials');
    await heading('Credentials');
    await page.getByRole('button', { name: 'Add credential' }).click();
    await page.getByLabel('Name', { exact: true }).fill('local');
    await page.getByLabel('Provider').selectOption('openai');
    await page.getByLabel('API key').fill(secret);
    await page.getByLabel('Base URL').fill(refusing.url);
    await page.getByRole('button', { name: 'Save and test' }).click();
    const failed = page.locator('[data-test-result="invalid"]');
    await failed.waitFor();
    expect(await failed.textContent()).toContain('Saved "local", but the test failed');
    expect(await failed.textContent()).toContain('Incorrect API key');
    // The result is an alert, and the card says invalid: clearly failed, but kept.
    await page.getByRole('alert').filter({ hasText: 'the test failed' }).waitFor();
    const card = page.locator('li.credential', { hasText: 'local' });
    await card.getByText('invalid', { exact: true }).waitFor();
    await shots('polish-credential-refused');

    // Edit: a new name and the right base URL; the new settings are tested at once.
    await card.getByRole('button', { name: 'Edit' }).click();
    const form = page.getByRole('form', { name: 'Edit local' });
    await form.getByLabel('Name', { exact: true }).fill('home');
    expect(await form.getByLabel('Base URL').inputValue()).toBe(refusing.url);
    await form.getByLabel('Base URL').fill(upstream.url);
    await shots('polish-credential-edit');
    await form.getByRole('button', { name: 'Save changes' }).click();
    await page.getByText('Saved "home" and tested it: the key works (2 models).').waitFor();
    const renamed = page.locator('li.credential', { hasText: 'home' });
    await renamed.getByText('valid', { exact: true }).waitFor();
    expect(await page.locator('li.credential', { hasText: 'local' }).count()).toBe(0);
    await shots('polish-credentials');

    // A key that works is said to work, the moment it is saved.
    await page.getByRole('button', { name: 'Add credential' }).click();
    await page.getByLabel('Name', { exact: true }).fill('second');
    await page.getByLabel('Provider').selectOption('openai');
    await page.getByLabel('API key').fill(secret);
    await page.getByLabel('Base URL').fill(upstream.url);
    await page.getByRole('button', { name: 'Save and test' }).click();
    await page.locator('[data-test-result="valid"]').waitFor();
    expect(await page.locator('[data-test-result="valid"]').textContent()).toContain(
      'Saved "second" and tested it: the key works (2 models).',
    );
    // The key never reaches the page.
    expect(await page.content()).not.toContain(secret);
  });

  it("shows a bot session's transcript", async () => {
    const token = await csrf();
    const credentials = (await (await page.request.get(`${base}/api/credentials`)).json()) as {
      id: string;
      name: string;
    }[];
    const bot = await page.request.post(`${base}/api/bots`, {
      headers: { 'x-csrf-token': token },
      data: {
        name: 'front-desk',
        credentialId: credentials.find((c) => c.name === 'home')!.id,
        model: 'gpt-4o-mini',
      },
    });
    expect(bot.status()).toBe(201);
    const botId = ((await bot.json()) as { id: string }).id;
    for (const text of ['Hello, are you open today?', 'And <b>tomorrow</b>?']) {
      const said = await page.request.post(`${base}/api/bots/${botId}/messages`, {
        headers: { 'x-csrf-token': token },
        data: { contact: '+4915112345678', name: 'Ada', text },
      });
      expect(said.status()).toBe(200);
    }
    await page.goto(`${base}/bots/${botId}`);
    await page.getByRole('heading', { name: 'Sessions' }).waitFor();
    await page
      .getByRole('button', { name: /Show the transcript with \+4915112345678 \(4 messages\)/ })
      .click();
    const transcript = page.getByRole('region', { name: 'Transcript with +4915112345678' });
    await transcript.getByText('Hello, are you open today?').waitFor();
    // Text stays text.
    await transcript.getByText('And <b>tomorrow</b>?').waitFor();
    expect(await transcript.locator('li').count()).toBe(4);
    expect(await transcript.locator('li.from-bot').count()).toBe(2);
    await shots('polish-bot-transcript', page, '.transcript-box');
  });

  it('fits the header in one row on a 390 px phone, with the navigation behind a Menu button', async () => {
    await page.goto(base + '/usage');
    await page.setViewportSize(PHONE);
    await heading('Usage');
    const header = page.locator('header.topbar');
    const menu = page.getByRole('button', { name: 'Menu' });
    await menu.waitFor();
    const brand = await page.getByRole('link', { name: 'Keyway, chat' }).boundingBox();
    const button = await menu.boundingBox();
    const bar = await header.boundingBox();
    expect(bar!.height).toBeLessThanOrEqual(56);
    expect(Math.abs(brand!.y + brand!.height / 2 - (button!.y + button!.height / 2))).toBeLessThan(4);
    expect(await page.getByRole('navigation', { name: 'Main' }).isVisible()).toBe(false);
    expect(await menu.getAttribute('aria-expanded')).toBe('false');

    await menu.click();
    expect(await menu.getAttribute('aria-expanded')).toBe('true');
    const mainNav = page.getByRole('navigation', { name: 'Main' });
    await mainNav.waitFor();
    for (const label of ['Chat', 'Library', 'Knowledge', 'Credentials', 'Bots', 'Usage', 'Teams', 'Users'])
      expect(await mainNav.getByRole('link', { name: label }).isVisible(), label).toBe(true);
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    await page.screenshot({ path: path.join(SHOTS, 'polish-menu-open-390.png') });
    // Escape closes it; choosing a page closes it too.
    await page.keyboard.press('Escape');
    await expect.poll(() => mainNav.isVisible()).toBe(false);
    await menu.click();
    await mainNav.getByRole('link', { name: 'Library' }).click();
    await heading('Assistants');
    await expect.poll(() => mainNav.isVisible()).toBe(false);
    expect((await header.boundingBox())!.height).toBeLessThanOrEqual(56);
    // The chat, which fills the window, has the same one-row header and menu.
    await menu.click();
    await mainNav.getByRole('link', { name: 'Chat' }).click();
    await page.getByLabel('Message', { exact: true }).waitFor();
    expect((await header.boundingBox())!.height).toBeLessThanOrEqual(56);
    await page.screenshot({ path: path.join(SHOTS, 'polish-chat-header-390.png') });
    await menu.click();
    await mainNav.getByRole('link', { name: 'Bots' }).waitFor();
    await page.screenshot({ path: path.join(SHOTS, 'polish-chat-menu-open-390.png') });
    await page.keyboard.press('Escape');
    await page.setViewportSize(DESKTOP);
    // On a desktop the navigation shows without a menu.
    expect(await page.getByRole('button', { name: 'Menu' }).isVisible()).toBe(false);
    expect(await mainNav.isVisible()).toBe(true);
  });

  it('lets a member change their own password: a wrong one is refused, the other browser is signed out', async () => {
    const token = await csrf();
    const created = await page.request.post(`${base}/api/users`, {
      headers: { 'x-csrf-token': token },
      data: { username: 'mia', password: 'mia first password', role: 'member' },
    });
    expect(created.status()).toBe(201);
    // Mia signs in on two browsers.
    const laptop = await (await browser.newContext({ viewport: DESKTOP })).newPage();
    const phone = await (await browser.newContext({ viewport: PHONE })).newPage();
    for (const on of [laptop, phone]) {
      await on.goto(base + '/login');
      await on.getByLabel('Username').fill('mia');
      await on.getByLabel('Password').fill('mia first password');
      await on.getByRole('button', { name: 'Sign in' }).click();
      // Signed in (on the phone the account link waits, hidden, behind the Menu button).
      await on.locator('a.account-link', { hasText: 'mia' }).waitFor({ state: 'attached' });
    }
    await laptop.getByRole('link', { name: 'Account: mia' }).click();
    await heading('Account', laptop);
    await laptop.getByLabel('Current password').fill('not my password');
    await laptop.getByLabel('New password', { exact: true }).fill('mia second password');
    await laptop.getByLabel('Repeat the new password').fill('mia second password');
    await laptop.getByRole('button', { name: 'Change password' }).click();
    await laptop.getByText('That is not your current password.').waitFor();
    await shots('polish-account-wrong', laptop);

    await laptop.getByLabel('Current password').fill('mia first password');
    await laptop.getByLabel('New password', { exact: true }).fill('mia second password');
    await laptop.getByLabel('Repeat the new password').fill('mia second passwrod');
    await laptop.getByRole('button', { name: 'Change password' }).click();
    await laptop.getByText('The two new passwords differ.').waitFor();
    await laptop.getByLabel('Current password').fill('mia first password');
    await laptop.getByLabel('New password', { exact: true }).fill('mia second password');
    await laptop.getByLabel('Repeat the new password').fill('mia second password');
    await laptop.getByRole('button', { name: 'Change password' }).click();
    await laptop.getByText('Password changed.').waitFor();
    await shots('polish-account', laptop);
    // This browser stays signed in; the phone is signed out at its next request.
    expect((await laptop.request.get(`${base}/api/me`)).status()).toBe(200);
    expect((await phone.request.get(`${base}/api/me`)).status()).toBe(401);
    await phone.reload();
    await heading('Sign in to Keyway', phone);
    await phone.getByLabel('Username').fill('mia');
    await phone.getByLabel('Password').fill('mia first password');
    await phone.getByRole('button', { name: 'Sign in' }).click();
    await phone.getByText('Wrong username or password.').waitFor();
    await phone.getByLabel('Password').fill('mia second password');
    await phone.getByRole('button', { name: 'Sign in' }).click();
    await phone.getByRole('button', { name: 'Menu' }).waitFor();
    // On the phone the account page is in the menu.
    await phone.getByRole('button', { name: 'Menu' }).click();
    await phone.getByRole('link', { name: 'Account: mia' }).click();
    await heading('Account', phone);
    expect(pageErrors).toEqual([]);
  });
});
