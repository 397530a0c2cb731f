import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
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
 * The Library pages (assistants, presets, prompts) in Debian's Chromium against a real `keyway serve`:
 * an admin makes each one through the forms, shares the assistant and the preset with a team, and a
 * member of it sees them with their owner, read only, and sees none of the admin's own things.
 */
describe('the library in a real browser [embedded]', () => {
  const pool = new ProcessPool();
  const password = 'a long admin password';
  const secret = `sk-library-${randomBytes(12).toString('hex')}`;
  let target: TestDatabaseTarget;
  let upstream: SlowOpenAi;
  let server: KeywayProcess;
  let base: string;
  let browser: Browser;
  let page: Page;
  let csrf: string;
  let teamId: string;
  const pageErrors: string[] = [];

  const shots = async (name: string, on: Page = page) => {
    for (const [size, suffix] of [
      [DESKTOP, '1280'],
      [PHONE, '390'],
    ] as const) {
      await on.setViewportSize(size);
      await on.screenshot({ path: path.join(SHOTS, `${name}-${suffix}.png`) });
    }
    expect(
      await on.evaluate<number>('document.documentElement.scrollWidth'),
      `${name} at 390 px`,
    ).toBeLessThanOrEqual(390);
    await on.setViewportSize(DESKTOP);
  };
  const heading = (name: string, on: Page = page) =>
    on.getByRole('heading', { level: 1, name, exact: true }).waitFor();
  const api = async (method: 'post' | 'put', url: string, data: unknown) => {
    const response = await page.request[method](`${base}${url}`, { headers: { 'x-csrf-token': csrf }, data });
    expect(response.status(), `${method} ${url}: ${await response.text()}`).toBeLessThan(300);
    return response.json() as Promise<{ id: string }>;
  };

  beforeAll(async () => {
    execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'build-web-if-needed.mjs')], {
      stdio: 'inherit',
    });
    fs.mkdirSync(SHOTS, { recursive: true });
    upstream = await startSlowOpenAi({ validKey: secret, models: ['gpt-4o-mini', 'text-embedding-3-small'] });
    target = await createTestDatabase('embedded');
    server = pool.serve(target.flags, target.env);
    base = await server.ready();
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    page = await (await browser.newContext({ viewport: DESKTOP, colorScheme: 'light' })).newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));

    const setupToken = /"token":"([^"]+)"/.exec(server.stderr)?.[1];
    expect(setupToken, 'the setup token on stderr').toBeTruthy();
    expect(
      (
        await page.request.post(`${base}/api/setup`, {
          data: { token: setupToken, username: 'admin', password },
        })
      ).status(),
    ).toBe(201);
    const login = await page.request.post(`${base}/api/auth/login`, {
      data: { username: 'admin', password },
    });
    csrf = ((await login.json()) as { csrfToken: string }).csrfToken;
    await api('post', '/api/credentials', {
      name: 'fake',
      provider: 'openai',
      secret,
      settings: { baseUrl: upstream.url },
    });
    await api('post', '/api/knowledge', { name: 'Handbook', embeddingModel: 'fake/text-embedding-3-small' });
    const member = await api('post', '/api/users', {
      username: 'mia',
      password: 'mia password 123',
      role: 'member',
    });
    teamId = (await api('post', '/api/teams', { name: 'Support' })).id;
    await api('put', `/api/teams/${teamId}/members/${member.id}`, { role: 'member' });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await pool.stopAll();
    await upstream?.close();
    await target?.dispose();
  });

  it('makes an assistant with every field, and shares it with a team', async () => {
    await page.goto(base + '/');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Library' }).click();
    await heading('Assistants');
    await page.getByText('No assistants yet.').waitFor();
    await page.getByRole('button', { name: 'New assistant' }).click();
    const form = page.getByRole('form', { name: 'Assistant' });
    // A name with a colon is refused before it is sent (it is also a model name).
    await form.getByLabel('Name', { exact: true }).fill('help:desk');
    await form.getByRole('button', { name: 'Save assistant' }).click();
    await form.getByText('A name has no "/" or ":"').waitFor();
    await form.getByText('Choose the model it answers with.').waitFor();
    await form.getByLabel('Name', { exact: true }).fill('Helpdesk');
    await form.getByLabel('Model').fill('fake/gpt-4o-mini');
    await form.getByLabel('Description').fill('Answers questions about the product.');
    await form.getByLabel('Instructions').fill('You are the helpdesk. Answer in two sentences.');
    await form.getByLabel('Temperature').fill('3');
    await form.getByRole('button', { name: 'Save assistant' }).click();
    await form.getByText('A temperature from 0 to 2').waitFor();
    await form.getByLabel('Temperature').fill('0.3');
    // The complaint goes as soon as the field changes.
    await expect.poll(() => form.getByText('A temperature from 0 to 2').count()).toBe(0);
    await form.getByLabel('Max tokens').fill('400');
    await form.getByLabel('Context window').fill('12');
    await form.getByLabel('Starter prompts').fill('How do I reset my password?\nWhere are the invoices?');
    await form.locator('input[type="color"]').fill('#0f766e');
    await form.getByLabel('Handbook').check();
    await shots('library-assistant-form');
    await form.getByRole('button', { name: 'Save assistant' }).click();
    await page.getByText('Saved "Helpdesk".').waitFor();
    const card = page.locator('li.library-item', { hasText: 'Helpdesk' });
    await card.getByText('Answers questions about the product.').waitFor();
    await card.getByText('fake/gpt-4o-mini').waitFor();
    await card.getByText('last 12 messages').waitFor();
    await card.getByText('Handbook').waitFor();
    await card.getByRole('list', { name: 'Starter prompts' }).getByText('Where are the invoices?').waitFor();
    expect(
      await page.evaluate<string>(
        "getComputedStyle(document.querySelector('li.library-item .avatar')).backgroundColor",
      ),
    ).toBe('rgb(15, 118, 110)');

    // The server holds what the form said.
    const saved = (await (await page.request.get(`${base}/api/assistants`)).json()) as {
      settings: Record<string, unknown>;
      knowledgeBaseIds: string[];
      starterPrompts: string[];
      avatarColor: string;
    }[];
    expect(saved[0]).toMatchObject({
      settings: { temperature: 0.3, maxTokens: 400, contextMessages: 12 },
      starterPrompts: ['How do I reset my password?', 'Where are the invoices?'],
      avatarColor: '#0f766e',
    });
    expect(saved[0]!.knowledgeBaseIds).toHaveLength(1);

    // Edit keeps every field and changes one.
    await card.getByRole('button', { name: 'Edit' }).click();
    const edit = page.getByRole('form', { name: 'Assistant' });
    expect(await edit.getByLabel('Instructions').inputValue()).toBe(
      'You are the helpdesk. Answer in two sentences.',
    );
    await edit.getByLabel('Description').fill('Answers product questions.');
    await edit.getByRole('button', { name: 'Save assistant' }).click();
    await card.getByText('Answers product questions.').waitFor();

    await card.getByRole('button', { name: 'Share with teams' }).click();
    await card.getByLabel('Support').check();
    await card.getByRole('button', { name: 'Save sharing' }).click();
    await card.getByText('Shared with Support.').waitFor();
    await shots('library-assistants');
  });

  it('makes a preset and a private one, and shares the first', async () => {
    await page.getByRole('navigation', { name: 'Library' }).getByRole('link', { name: 'Presets' }).click();
    await heading('Presets');
    for (const [name, prompt, temperature] of [
      ['Precise', 'Answer precisely, with sources.', '0'],
      ['Private draft', 'Only mine.', '1.2'],
    ] as const) {
      await page.getByRole('button', { name: 'New preset' }).click();
      const form = page.getByRole('form', { name: 'Preset' });
      await form.getByLabel('Name', { exact: true }).fill(name);
      await form.getByLabel('Model').fill('fake/gpt-4o-mini');
      await form.getByLabel('System prompt').fill(prompt);
      await form.getByLabel('Temperature').fill(temperature);
      await form.getByLabel('Context messages').fill('20');
      await form.getByRole('button', { name: 'Save preset' }).click();
      await page.getByText(`Saved "${name}".`).waitFor();
    }
    const precise = page.locator('li.library-item', { hasText: 'Precise' });
    await precise.getByText('Answer precisely, with sources.').waitFor();
    await precise.getByRole('button', { name: 'Share with teams' }).click();
    await precise.getByLabel('Support').check();
    await precise.getByRole('button', { name: 'Save sharing' }).click();
    await precise.getByText('Shared with Support.').waitFor();
    await shots('library-presets');
  });

  it('saves a prompt, previewing its {{variables}} while it is written', async () => {
    await page.getByRole('navigation', { name: 'Library' }).getByRole('link', { name: 'Prompts' }).click();
    await heading('Prompts');
    await page.getByRole('button', { name: 'New prompt' }).click();
    const form = page.getByRole('form', { name: 'Prompt' });
    await form.getByLabel('Name', { exact: true }).fill('Summarise');
    const content = form.getByLabel('Prompt', { exact: true });
    await content.fill('Summarise this for a reader:');
    await form.getByText('No variables: inserted as it is.').waitFor();
    await content.fill(
      'Summarise {{ text }} for {{audience}} in {{length}} words. Keep {{audience}} in mind; {{not a var!}} and {{}} stay text.',
    );
    const preview = form.locator('.variables-preview code.variable');
    await expect.poll(() => preview.allTextContents()).toEqual(['text', 'audience', 'length']);
    await shots('library-prompt-form');
    await form.getByRole('button', { name: 'Save prompt' }).click();
    await page.getByText('Saved "Summarise".').waitFor();
    const card = page.locator('li.library-item', { hasText: 'Summarise' });
    // The server's variables agree with the preview (the list refreshes after the save is acknowledged).
    await expect
      .poll(() => card.locator('code.variable').allTextContents())
      .toEqual(['text', 'audience', 'length']);
    await shots('library-prompts');
  });

  it("shows a member the shared assistant and preset with their owner, read only, and nothing else of the admin's", async () => {
    const member = await (await browser.newContext({ viewport: DESKTOP, colorScheme: 'dark' })).newPage();
    member.on('pageerror', (error) => pageErrors.push(error.message));
    await member.goto(base + '/login?next=/library');
    await member.getByLabel('Username').fill('mia');
    await member.getByLabel('Password').fill('mia password 123');
    await member.getByRole('button', { name: 'Sign in' }).click();
    await heading('Assistants', member);
    const assistant = member.locator('li.library-item', { hasText: 'Helpdesk' });
    await assistant.getByText('shared by admin · read only').waitFor();
    expect(await assistant.getByRole('button').count()).toBe(0);
    await shots('library-assistants-member', member);

    await member.getByRole('navigation', { name: 'Library' }).getByRole('link', { name: 'Presets' }).click();
    await heading('Presets', member);
    const preset = member.locator('li.library-item', { hasText: 'Precise' });
    await preset.getByText('shared by admin · read only').waitFor();
    expect(await preset.getByRole('button').count()).toBe(0);
    // The unshared preset is not there, and its address is 404 for her.
    expect(await member.getByText('Private draft').count()).toBe(0);
    const presets = (await (await page.request.get(`${base}/api/presets`)).json()) as {
      id: string;
      name: string;
    }[];
    const draft = presets.find((p) => p.name === 'Private draft')!;
    expect((await member.request.get(`${base}/api/presets/${draft.id}`)).status()).toBe(404);
    await shots('library-presets-member', member);

    // Prompts are one's own: hers is empty.
    await member.getByRole('navigation', { name: 'Library' }).getByRole('link', { name: 'Prompts' }).click();
    await heading('Prompts', member);
    await member.getByText('No prompts yet.').waitFor();
    expect(await member.getByText('Summarise').count()).toBe(0);
    expect(pageErrors).toEqual([]);
  });
});
