import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessPool, type KeywayProcess } from '../support/keyway-process.ts';
import { createTestDatabase, type TestDatabaseTarget } from '../support/test-database.ts';

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
const MODEL = 'fake/gpt-4o-mini';

interface Turn {
  role: string;
  content: string;
}

/**
 * Conversations people keep, in Debian's Chromium against a real `keyway serve` (embedded database)
 * whose fake upstream numbers its answers and records every chat request: branches (edit,
 * regenerate, ‹ n/m ›, delete) and the path the upstream receives; settings, a preset and an
 * assistant in what it receives; the prompt library on `/`; folders, pin and archive across a
 * reload; a share link signed out and revoked; export then import.
 */
describe('conversations people keep, in a real browser [embedded]', () => {
  const pool = new ProcessPool();
  const password = 'a long admin password';
  const secret = `sk-chat-ui-${randomBytes(12).toString('hex')}`;
  let target: TestDatabaseTarget;
  let upstream: EchoUpstream;
  let server: KeywayProcess;
  let base: string;
  let browser: Browser;
  let page: Page;
  let csrf: string;
  const pageErrors: string[] = [];

  /** Screenshots at 1280 and 390 px wide (the phone one with the sidebar as it is). */
  const shots = async (name: string, phone: (page: Page) => Promise<void> = async () => {}) => {
    await page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
    await page.setViewportSize({ width: 390, height: 844 });
    await phone(page);
    await page.screenshot({ path: path.join(SHOTS, `${name}-390.png`) });
    await page.setViewportSize({ width: 1280, height: 860 });
  };
  /** The same screen in the dark theme (the app follows the system's by default). */
  const darkShot = async (name: string) => {
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.screenshot({ path: path.join(SHOTS, `${name}-dark.png`) });
    await page.emulateMedia({ colorScheme: 'light' });
  };
  const api = async <T>(method: string, url: string, data?: unknown): Promise<T> => {
    const response = await page.request.fetch(base + url, {
      method,
      headers: { 'x-csrf-token': csrf },
      ...(data === undefined ? {} : { data }),
    });
    expect(response.status(), `${method} ${url}: ${await response.text()}`).toBeLessThan(300);
    return (response.status() === 204 ? undefined : await response.json()) as T;
  };
  const composer = () => page.getByLabel('Message', { exact: true });
  const sidebar = () => page.getByRole('complementary', { name: 'Conversations' });
  const messages = () => page.locator('.messages .message:not(.streaming)');
  const say = async (text: string) => {
    const before = upstream.chats.length;
    await composer().fill(text);
    await composer().press('Enter');
    await expect.poll(() => upstream.chats.length).toBe(before + 1);
    await page
      .locator('.message.assistant', { hasText: `to: ${text}` })
      .last()
      .waitFor();
    await page.getByRole('button', { name: 'Send' }).waitFor();
  };
  /** The conversation the upstream was sent last: its turns (system, user, assistant) in order. */
  const lastTurns = () => upstream.chats.at(-1)!.messages;
  const spoken = () =>
    lastTurns()
      .filter((turn) => turn.role !== 'system')
      .map((turn) => turn.content);
  const texts = async (locator: Locator) =>
    (await locator.locator('.user-text, .markdown').allTextContents()).map((text) => text.trim());
  const conversationIdOfPage = () => decodeURIComponent(new URL(page.url()).pathname.split('/').at(-1)!);

  beforeAll(async () => {
    execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'build-web-if-needed.mjs')], {
      stdio: 'inherit',
    });
    fs.mkdirSync(SHOTS, { recursive: true });
    upstream = await startEchoUpstream(secret);
    target = await createTestDatabase('embedded');
    server = pool.serve(target.flags, target.env);
    base = await server.ready();
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    const context = await browser.newContext({
      viewport: { width: 1280, height: 860 },
      colorScheme: 'light',
    });
    page = await context.newPage();
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
    await api('POST', '/api/credentials', {
      name: 'fake',
      provider: 'openai',
      secret,
      settings: { baseUrl: upstream.url },
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await pool.stopAll();
    await upstream?.close();
    await target?.dispose();
  });

  it('keeps both versions of an edited question and a regenerated answer, switches between them, and sends the upstream only the path on show', async () => {
    await page.goto(base + '/');
    await page.getByLabel('Model', { exact: true }).selectOption(MODEL);
    await say('First question');
    await say('Second question');
    await page.waitForURL(/\/chat\/[^/]+$/);

    // Regenerate: a second answer beside the first, 2/2, and the first one still there at 1/2.
    const before = upstream.chats.length;
    await page.getByRole('button', { name: 'Regenerate' }).click();
    await expect.poll(() => upstream.chats.length).toBe(before + 1);
    expect(spoken()).toEqual(['First question', 'Answer 1 to: First question', 'Second question']);
    const lastAnswer = messages().last();
    await lastAnswer.getByRole('group', { name: 'answer 2 of 2' }).waitFor();
    expect(await texts(lastAnswer)).toEqual(['Answer 3 to: Second question']);
    await lastAnswer.getByRole('button', { name: 'Previous answer' }).click();
    await messages().last().getByRole('group', { name: 'answer 1 of 2' }).waitFor();
    expect(await texts(messages().last())).toEqual(['Answer 2 to: Second question']);
    await shots('chat-branches-answers');

    // Edit the first question: a second version with its own answer; the first is kept.
    await messages().first().getByRole('button', { name: 'Edit' }).click();
    await page.getByLabel('Edit message').fill('First question, edited');
    await page.getByRole('button', { name: 'Send edit' }).click();
    await page.locator('.message.assistant', { hasText: 'to: First question, edited' }).waitFor();
    await expect.poll(() => messages().count()).toBe(2);
    await messages().first().getByRole('group', { name: 'version 2 of 2' }).waitFor();
    // The upstream saw the edited question alone: not the old one, nor what followed it.
    expect(spoken()).toEqual(['First question, edited']);
    await shots('chat-branches-edited');
    await darkShot('chat-branches-edited');

    // Back to the first version: its whole path returns, and a new message goes after it only.
    await messages().first().getByRole('button', { name: 'Previous version' }).click();
    await messages().first().getByRole('group', { name: 'version 1 of 2' }).waitFor();
    await expect.poll(() => messages().count()).toBe(4);
    expect((await texts(messages())).slice(0, 3)).toEqual([
      'First question',
      'Answer 1 to: First question',
      'Second question',
    ]);
    const shownAnswer = (await texts(messages().nth(3)))[0]!;
    await say('Third question');
    expect(spoken()).toEqual([
      'First question',
      'Answer 1 to: First question',
      'Second question',
      shownAnswer,
      'Third question',
    ]);
    expect(JSON.stringify(lastTurns())).not.toContain('edited');

    // A reload shows the same path; deleting the third question takes its answer with it.
    await page.reload();
    await expect.poll(() => messages().count(), { timeout: 15_000 }).toBe(6);
    page.once('dialog', (dialog) => void dialog.accept());
    await messages().nth(4).getByRole('button', { name: 'Delete this message and its replies' }).click();
    await expect.poll(() => messages().count()).toBe(4);
    await page.reload();
    await expect.poll(() => messages().count(), { timeout: 15_000 }).toBe(4);
    await messages().first().getByRole('group', { name: 'version 1 of 2' }).waitFor();
    expect(pageErrors).toEqual([]);
  });

  it('sends the conversation’s own system prompt and temperature, then a preset’s, then an assistant’s', async () => {
    await api('POST', '/api/presets', {
      name: 'Precise',
      model: null,
      settings: { systemPrompt: 'You are precise and brief.', temperature: 0.1, maxTokens: 300 },
    });
    await page.goto(base + '/');
    await page.getByLabel('Model', { exact: true }).selectOption(MODEL);
    await say('Settings test');

    await page.getByRole('button', { name: 'Settings', exact: true }).click();
    await page.getByLabel('System prompt').fill('Answer like a pirate.');
    await page.getByLabel('Temperature').fill('1.3');
    await page.getByRole('button', { name: 'Save settings' }).click();
    await page.getByText('Saved: the next message uses these settings.').waitFor();
    await shots('chat-settings');
    await darkShot('chat-settings');
    await say('Ahoy?');
    expect(lastTurns()[0]).toEqual({
      role: 'system',
      content: expect.stringContaining('Answer like a pirate.'),
    });
    expect(upstream.chats.at(-1)!.body.temperature).toBe(1.3);

    // A preset replaces them (its settings copied into this conversation, kept across a reload).
    await page.getByLabel('Preset').selectOption({ label: 'Precise' });
    await page.getByRole('button', { name: 'Apply preset' }).click();
    await page.getByText('Applied the preset “Precise”.').waitFor();
    await page.reload();
    await page.getByRole('button', { name: 'Settings', exact: true }).click();
    await expect.poll(() => page.getByLabel('System prompt').inputValue()).toBe('You are precise and brief.');
    await say('And now?');
    expect(lastTurns()[0]!.content).toContain('You are precise and brief.');
    expect(JSON.stringify(lastTurns())).not.toContain('pirate');
    expect(upstream.chats.at(-1)!.body.temperature).toBe(0.1);
    expect(upstream.chats.at(-1)!.body.max_tokens ?? upstream.chats.at(-1)!.body.max_completion_tokens).toBe(
      300,
    );

    // The title model is the reader's own preference, kept by the server.
    await page.getByLabel('Titles written by').selectOption(MODEL);
    await expect
      .poll(
        async () => (await api<{ titleModel: string | null }>('GET', '/api/me/chat-preferences')).titleModel,
      )
      .toBe(MODEL);
    await api('PATCH', '/api/me/chat-preferences', { titleModel: null });
    await page.getByRole('button', { name: 'Close the settings' }).click();

    // Settings chosen before the first message go with the new conversation.
    await page.getByRole('button', { name: /^New chat/ }).click();
    await page.getByRole('button', { name: 'Settings', exact: true }).click();
    await expect.poll(() => page.getByLabel('System prompt').inputValue()).toBe('');
    await page.getByLabel('System prompt').fill('Speak French.');
    await page.getByRole('button', { name: 'Save settings' }).click();
    await say('Bonjour');
    expect(lastTurns()[0]!.content).toContain('Speak French.');
    expect(upstream.chats.at(-1)!.body.temperature).toBeUndefined();
    await page.getByRole('button', { name: 'Close the settings' }).click();

    // An assistant: chosen on an empty chat, its avatar and starter prompts; a starter sends.
    await api('POST', '/api/assistants', {
      name: 'Tutor',
      description: 'Explains maths gently.',
      model: MODEL,
      instructions: 'You are Tutor, a kind maths teacher.',
      settings: { temperature: 0.4 },
      starterPrompts: ['Explain fractions', 'What is a prime?'],
      avatarColor: '#d9480f',
    });
    await page.getByRole('button', { name: /^New chat/ }).click();
    await page.reload();
    await page.getByRole('button', { name: 'Chat with Tutor' }).click();
    await page.getByRole('heading', { level: 1, name: 'New chat with Tutor' }).waitFor();
    const starters = page.getByRole('list', { name: 'Starter prompts' });
    await starters.getByRole('button', { name: 'What is a prime?' }).waitFor();
    await shots('chat-assistant-start');
    const before = upstream.chats.length;
    await starters.getByRole('button', { name: 'Explain fractions' }).click();
    await expect.poll(() => upstream.chats.length).toBe(before + 1);
    await page.locator('.message.assistant', { hasText: 'to: Explain fractions' }).waitFor();
    expect(lastTurns()[0]!.content).toContain('You are Tutor, a kind maths teacher.');
    expect(upstream.chats.at(-1)!.body.temperature).toBe(0.4);
    // The conversation remembers its assistant.
    await page.reload();
    await page.locator('.chat-head .assistant-avatar').waitFor();
    await shots('chat-assistant');
    expect(pageErrors).toEqual([]);
  });

  it('inserts a saved prompt with / and asks for its {{variables}} first; the box grows with its text', async () => {
    await api('POST', '/api/prompts', {
      name: 'Translate',
      content: 'Translate “{{text}}” into {{language}}.',
    });
    await api('POST', '/api/prompts', {
      name: 'Summarise',
      content: 'Summarise this in three bullet points.',
    });
    await page.getByRole('button', { name: /^New chat/ }).click();
    await composer().fill('/');
    const list = page.getByRole('listbox', { name: 'Saved prompts' });
    await list.getByRole('option', { name: /Summarise/ }).waitFor();
    await composer().press('Backspace');
    await composer().pressSequentially('/tra');
    await expect.poll(() => list.getByRole('option').count()).toBe(1);
    await shots('chat-prompt-list');
    await composer().press('Enter');
    const form = page.getByRole('form', { name: 'Fill in Translate' });
    await form.getByLabel('text').fill('good morning');
    await form.getByLabel('language').fill('French');
    await shots('chat-prompt-variables');
    await form.getByRole('button', { name: 'Insert prompt' }).click();
    await expect.poll(() => composer().inputValue()).toBe('Translate “good morning” into French.');
    // Without variables it goes straight in, after what was typed before it.
    await composer().fill('Please:\n/sum');
    await list.getByRole('option', { name: /Summarise/ }).click();
    await expect.poll(() => composer().inputValue()).toBe('Please:\nSummarise this in three bullet points.');

    const height = async () => (await composer().boundingBox())!.height;
    const short = await height();
    await composer().fill('one\ntwo\nthree\nfour\nfive\nsix');
    await expect.poll(height).toBeGreaterThan(short + 40);
    await composer().fill(Array.from({ length: 60 }, (_, i) => `line ${i}`).join('\n'));
    await expect.poll(height).toBeLessThanOrEqual(250);
    await composer().fill('');
    expect(pageErrors).toEqual([]);
  });

  it('keeps a folder move, a pin and an archive across a reload', async () => {
    await page.goto(base + '/');
    const list = sidebar();
    const titles = async (within: Locator) =>
      (await within.getByRole('link').allTextContents()).map((text) => text.replace('📌', '').trim());
    // Three conversations named for this test.
    for (const name of ['Alpha plan', 'Beta notes', 'Gamma draft']) {
      await page.getByRole('button', { name: /^New chat/ }).click();
      await say(name);
      await list
        .getByRole('button', { name: /^Rename / })
        .first()
        .waitFor();
      const id = conversationIdOfPage();
      await api('PATCH', `/api/conversations/${id}`, { title: name });
    }
    await page.reload();
    await list.getByRole('link', { name: 'Gamma draft' }).waitFor();

    await list.getByRole('button', { name: 'New folder' }).click();
    await page.getByLabel('Folder name').fill('Work');
    await page.getByLabel('Folder name').press('Enter');
    const folder = list.locator('details.folder', { hasText: 'Work' });
    await folder.getByText('Empty: move a chat here').waitFor();

    await list.getByRole('button', { name: 'More for Alpha plan' }).click();
    await list
      .getByRole('group', { name: 'Actions for Alpha plan' })
      .getByLabel('Folder')
      .selectOption({ label: 'Work' });
    await folder.getByRole('link', { name: 'Alpha plan' }).waitFor();
    await list.getByRole('button', { name: 'More for Beta notes' }).click();
    await list.getByRole('button', { name: 'Pin', exact: true }).click();
    await list.getByLabel('Pinned').waitFor();
    await list.getByRole('button', { name: 'More for Gamma draft' }).click();
    await list.getByRole('button', { name: 'Archive', exact: true }).click();
    await expect.poll(() => list.getByRole('link', { name: 'Gamma draft' }).count()).toBe(0);
    await darkShot('chat-sidebar-organised');
    await shots('chat-sidebar-organised', async (phone) => {
      await phone.getByRole('button', { name: 'Chats' }).click();
    });

    await page.reload();
    await expect.poll(() => titles(folder)).toEqual(['Alpha plan']);
    const loose = list.locator(':scope > ul.conversation-list');
    await expect.poll(async () => (await titles(loose))[0]).toBe('Beta notes');
    expect(await titles(list)).not.toContain('Gamma draft');
    await list.getByRole('link', { name: 'Beta notes' }).getByLabel('Pinned').waitFor();

    await list.getByRole('button', { name: 'Archived', exact: true }).click();
    await expect.poll(() => titles(list)).toEqual(['Gamma draft']);
    await shots('chat-sidebar-archived', async (phone) => {
      await phone.getByRole('button', { name: 'Chats' }).click();
    });
    await list.getByRole('button', { name: 'More for Gamma draft' }).click();
    await list.getByRole('button', { name: 'Unarchive' }).click();
    await expect.poll(() => titles(list)).toEqual([]);
    await list.getByRole('button', { name: 'Recent', exact: true }).click();
    await list.getByRole('link', { name: 'Gamma draft' }).waitFor();

    // Renamed, then deleted: its conversation is kept, out of any folder.
    await list.getByRole('button', { name: 'Rename the folder Work' }).click();
    await page.getByLabel('Folder name').fill('Work, 2027');
    await page.getByLabel('Folder name').press('Enter');
    await list.locator('details.folder summary', { hasText: 'Work, 2027' }).waitFor();
    await page.reload();
    await list
      .locator('details.folder', { hasText: 'Work, 2027' })
      .getByRole('link', { name: 'Alpha plan' })
      .waitFor();
    page.once('dialog', (dialog) => void dialog.accept());
    await list.getByRole('button', { name: 'Delete the folder Work, 2027' }).click();
    await expect.poll(() => list.locator('details.folder').count()).toBe(0);
    await list.getByRole('link', { name: 'Alpha plan' }).waitFor();
    expect(pageErrors).toEqual([]);
  });

  it('shares a read-only link that opens signed out, and answers 404 once revoked', async () => {
    await page.goto(base + '/');
    await sidebar().getByRole('link', { name: 'Beta notes' }).click();
    await page.getByRole('heading', { level: 1, name: 'Beta notes' }).waitFor();
    await page.getByRole('button', { name: 'Share', exact: true }).click();
    const dialog = page.getByRole('dialog', { name: /Share/ });
    await dialog.getByLabel('Expires').selectOption({ label: '7 days' });
    await dialog.getByRole('button', { name: 'Create link' }).click();
    const link = await dialog.getByLabel('Link (shown once: copy it now)').inputValue();
    expect(link).toMatch(new RegExp(`^${base}/s/[A-Za-z0-9_-]{20,}$`));
    await dialog.getByText(/expires/).waitFor();
    await dialog.getByRole('button', { name: 'Copy link' }).click();
    await dialog.getByRole('button', { name: 'Copied' }).waitFor();
    await shots('chat-share');

    const stranger = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    const outside = await stranger.newPage();
    const opened = await outside.goto(link);
    expect(opened?.status()).toBe(200);
    expect(opened?.headers()['x-robots-tag']).toContain('noindex');
    await outside.getByText('Answer', { exact: false }).first().waitFor();
    expect(await outside.content()).toContain('Beta notes');
    await outside.screenshot({ path: path.join(SHOTS, 'chat-shared-page.png') });
    await outside.setViewportSize({ width: 390, height: 844 });
    await outside.screenshot({ path: path.join(SHOTS, 'chat-shared-page-390.png') });

    await dialog.getByRole('button', { name: /^Revoke the link/ }).click();
    await dialog.getByText('No links yet.').waitFor();
    expect((await outside.goto(link))?.status()).toBe(404);
    await stranger.close();
    await dialog.getByRole('button', { name: 'Close sharing' }).click();
    expect(pageErrors).toEqual([]);
  });

  it('exports a conversation as JSON and Markdown, and imports the JSON back as an equal conversation', async () => {
    const list = sidebar();
    const originalId = conversationIdOfPage();
    await list.getByRole('button', { name: 'More for Beta notes' }).click();
    const [json] = await Promise.all([
      page.waitForEvent('download'),
      list.getByRole('button', { name: 'Export JSON' }).click(),
    ]);
    const file = path.join(os.tmpdir(), `keyway-export-${randomBytes(4).toString('hex')}.json`);
    await json.saveAs(file);
    const [markdown] = await Promise.all([
      page.waitForEvent('download'),
      list.getByRole('button', { name: 'Export Markdown' }).click(),
    ]);
    const markdownText = fs.readFileSync(await markdown.path(), 'utf8');
    expect(markdownText).toContain('Beta notes');
    expect(markdownText).toContain('Answer');

    // Everything at once, as one JSON file holding each conversation.
    const [everything] = await Promise.all([
      page.waitForEvent('download'),
      list.getByRole('button', { name: 'Export all (JSON)' }).click(),
    ]);
    const allText = fs.readFileSync(await everything.path(), 'utf8');
    for (const title of ['Alpha plan', 'Beta notes', 'Gamma draft', 'First question'])
      expect(allText).toContain(title);

    await list.getByLabel('Conversations to import').setInputFiles(file);
    await page.getByText(/^Imported 1 conversation from/).waitFor();
    await shots('chat-imported');
    const all = await api<{ id: string; title: string }[]>('GET', '/api/conversations?archived=all');
    const copies = all.filter((conversation) => conversation.title === 'Beta notes');
    expect(copies).toHaveLength(2);
    const copyId = copies.find((conversation) => conversation.id !== originalId)!.id;
    const shape = async (id: string) => {
      const found = await api<{ title: string; messages: { role: string; content: string }[] }>(
        'GET',
        `/api/conversations/${id}`,
      );
      return { title: found.title, messages: found.messages.map(({ role, content }) => ({ role, content })) };
    };
    expect(await shape(copyId)).toEqual(await shape(originalId));
    fs.rmSync(file, { force: true });
    expect(pageErrors).toEqual([]);
  });

  it("shows another user none of this: a member opening the admin's conversation is told it does not exist, and sees no conversation, folder or prompt of the admin's", async () => {
    const mine = await api<{ id: string; title: string }[]>('GET', '/api/conversations');
    await api('POST', '/api/folders', { name: 'Admin only' });
    await api('POST', '/api/users', {
      username: 'member1',
      password: 'a long member password',
      role: 'member',
    });
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    const other = await context.newPage();
    await other.goto(`${base}/chat/${mine[0]!.id}`);
    await other.getByLabel('Username').fill('member1');
    await other.getByLabel('Password').fill('a long member password');
    await other.getByRole('button', { name: 'Sign in' }).click();
    await other.getByText('This conversation does not exist (any more).').waitFor();
    expect(await other.getByRole('button', { name: 'Share', exact: true }).count()).toBe(0);
    const list = other.getByRole('complementary', { name: 'Conversations' });
    await list.getByText('No conversations yet.').waitFor();
    expect(await list.getByText('Admin only').count()).toBe(0);
    await other.getByLabel('Message', { exact: true }).fill('/');
    await other.getByText('No saved prompts yet').waitFor();
    await other.screenshot({ path: path.join(SHOTS, 'chat-other-user.png') });
    await context.close();
  });

  it('keeps the text and says why when Enter is pressed with no model to send to; a touch screen shows no keyboard hints', async () => {
    // A phone: touch, no hover.
    const context = await browser.newContext({
      viewport: { width: 390, height: 844 },
      isMobile: true,
      hasTouch: true,
    });
    const fresh = await context.newPage();
    await fresh.route('**/api/models', (route) => route.fulfill({ json: [] }));
    await fresh.goto(base + '/');
    await fresh.getByLabel('Username').fill('admin');
    await fresh.getByLabel('Password').fill(password);
    await fresh.getByRole('button', { name: 'Sign in' }).click();
    const box = fresh.getByLabel('Message', { exact: true });
    await box.fill('Is anyone there?');
    await box.press('Enter');
    await fresh.getByText('Choose a model first (above): your message is kept here.').waitFor();
    expect(await box.inputValue()).toBe('Is anyone there?');
    expect(await fresh.locator('.empty-chat').textContent()).toContain('Ask anything.');
    expect(await fresh.getByText('Enter sends, Shift+Enter starts a new line').isVisible()).toBe(false);
    await fresh.screenshot({ path: path.join(SHOTS, 'chat-no-model-touch-390.png') });
    await context.close();
  });
});

interface EchoUpstream {
  url: string;
  /** Streamed chat requests, in order: the body and its messages. */
  chats: { body: Record<string, unknown>; messages: Turn[] }[];
  close(): Promise<void>;
}

/**
 * A fake OpenAI upstream whose streamed answers are numbered and name what they answer
 * ("Answer 3 to: …"), so each version of a reply is told apart; it records every streamed chat
 * request (a non-streamed one, like a title, is answered and not recorded).
 */
async function startEchoUpstream(key: string): Promise<EchoUpstream> {
  const chats: EchoUpstream['chats'] = [];
  const server = createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (raw += chunk));
    req.on('end', () => {
      if (req.headers.authorization !== `Bearer ${key}`) {
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            error: { message: 'Incorrect API key provided.', type: 'invalid_request_error' },
          }),
        );
        return;
      }
      if (req.method === 'GET' && req.url === '/v1/models') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            object: 'list',
            data: [{ id: 'gpt-4o-mini', object: 'model', owned_by: 'fake' }],
          }),
        );
        return;
      }
      if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: 'Not found', type: 'invalid_request_error' } }));
        return;
      }
      const body = JSON.parse(raw) as Record<string, unknown>;
      const turns = (body.messages as { role: string; content: unknown }[]).map((turn) => ({
        role: turn.role,
        content: typeof turn.content === 'string' ? turn.content : JSON.stringify(turn.content),
      }));
      const id = `chatcmpl-echo${chats.length}`;
      if (body.stream !== true) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            id,
            object: 'chat.completion',
            created: 1_760_000_000,
            model: body.model,
            choices: [
              { index: 0, message: { role: 'assistant', content: 'A short title' }, finish_reason: 'stop' },
            ],
            usage: { prompt_tokens: 9, completion_tokens: 3, total_tokens: 12 },
          }),
        );
        return;
      }
      chats.push({ body, messages: turns });
      const lastUser = [...turns].reverse().find((turn) => turn.role === 'user')?.content ?? '';
      const answer = `Answer ${chats.length} to: ${lastUser}`;
      const chunk = (delta: object, finish: string | null = null) =>
        `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created: 1_760_000_000, model: body.model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(chunk({ role: 'assistant', content: '' }));
      res.write(chunk({ content: answer }));
      res.write(chunk({}, 'stop'));
      res.write(
        `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created: 1_760_000_000, model: body.model, choices: [], usage: { prompt_tokens: 9, completion_tokens: 4, total_tokens: 13 } })}\n\n`,
      );
      res.end('data: [DONE]\n\n');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    chats,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
