import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page, type Route } from 'playwright-core';
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

const GUIDE = `# Install

Run the installer and answer the questions about the sky.

## On Linux

Unpack the archive in /opt and start keyway serve. <b>never markup</b>
`;
const NOTES = 'The sky is blue on clear days.\n\nNights are dark.';
/** A 1×1 PNG, as a screenshot pasted from the clipboard would be. */
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
  'base64',
);

/**
 * Files, knowledge bases and citations in Debian's Chromium against a real `keyway serve` (embedded
 * database) whose fake upstream chats and embeds: the Knowledge page fills a base for real, and a
 * chat answers from it with sources that open their passages. One walk routes the message call in
 * the browser, for what this fake cannot provoke (a model without vision, a passage that is gone).
 */
describe('knowledge and attachments in a real browser [embedded]', () => {
  const pool = new ProcessPool();
  const password = 'a long admin password';
  const secret = `sk-kb-ui-${randomBytes(12).toString('hex')}`;
  let target: TestDatabaseTarget;
  let upstream: SlowOpenAi;
  let server: KeywayProcess;
  let base: string;
  let browser: Browser;
  let page: Page;
  let csrf: string;
  const pageErrors: string[] = [];

  const shot = async (name: string) => {
    await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: false });
    fs.copyFileSync(path.join(SHOTS, `${name}.png`), `/tmp/kw-${name}.png`);
  };
  const heading = (name: string | RegExp) =>
    page.getByRole('heading', { level: 1, name, exact: true }).waitFor();
  /**
   * Drops files on an element the way a browser does: dragenter, dragover, drop with a DataTransfer.
   * (Evaluated in the page as text: this file is type-checked without the DOM library.)
   */
  const dropFiles = (selector: string, files: { name: string; type: string; text: string }[]) =>
    page.evaluate(`(() => {
      const transfer = new DataTransfer();
      for (const file of ${JSON.stringify(files)})
        transfer.items.add(new File([file.text], file.name, { type: file.type }));
      const element = document.querySelector(${JSON.stringify(selector)});
      for (const type of ['dragenter', 'dragover', 'drop'])
        element.dispatchEvent(new DragEvent(type, { dataTransfer: transfer, bubbles: true, cancelable: true }));
    })()`);
  /** Pastes an image into an element, as a screenshot from the clipboard arrives. */
  const pasteImage = (selector: string, name: string, bytes: Buffer) =>
    page.evaluate(`(() => {
      const transfer = new DataTransfer();
      const bytes = Uint8Array.from(atob(${JSON.stringify(bytes.toString('base64'))}), (char) => char.charCodeAt(0));
      transfer.items.add(new File([bytes], ${JSON.stringify(name)}, { type: 'image/png' }));
      document
        .querySelector(${JSON.stringify(selector)})
        .dispatchEvent(new ClipboardEvent('paste', { clipboardData: transfer, bubbles: true, cancelable: true }));
    })()`);

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
    const context = await browser.newContext({
      viewport: { width: 1280, height: 860 },
      colorScheme: 'light',
    });
    page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));

    // The admin and a credential through the API (the other browser test clicks through these).
    const setupToken = /"token":"([^"]+)"/.exec(server.stderr)?.[1];
    expect(setupToken, 'the setup token on stderr').toBeTruthy();
    const setup = await page.request.post(`${base}/api/setup`, {
      data: { token: setupToken, username: 'admin', password },
    });
    expect(setup.status()).toBe(201);
    const login = await page.request.post(`${base}/api/auth/login`, {
      data: { username: 'admin', password },
    });
    csrf = ((await login.json()) as { csrfToken: string }).csrfToken;
    const credential = await page.request.post(`${base}/api/credentials`, {
      headers: { 'x-csrf-token': csrf },
      data: { name: 'fake', provider: 'openai', secret, settings: { baseUrl: upstream.url } },
    });
    expect(credential.status()).toBe(201);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await pool.stopAll();
    await upstream?.close();
    await target?.dispose();
  });

  it('makes a knowledge base, fills it by the file button and by a drop, shows each file reach ready, refuses a bad file by name, renames it [embedded]', async () => {
    await page.goto(base + '/');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Knowledge' }).click();
    await heading('Knowledge');
    await page.getByText('No knowledge bases yet.').waitFor();

    // A model that cannot embed is refused with the server's reason, next to the form.
    await page.getByLabel('Name', { exact: true }).fill('Handbook');
    await page.getByLabel('Embedding model').fill('nobody/none');
    await page.getByRole('button', { name: 'Create knowledge base' }).click();
    const refusal = page.getByRole('alert');
    await refusal.waitFor();
    expect(await refusal.textContent()).toContain('"nobody"');
    await page.getByLabel('Embedding model').fill('fake/text-embedding-3-small');
    await page.getByRole('button', { name: 'Create knowledge base' }).click();
    await heading('Knowledge base Handbook');
    await page.getByText('No files in this knowledge base yet.').waitFor();

    // The file button: a Markdown guide is uploaded, added, read and embedded.
    await page.getByLabel('Files to add').setInputFiles({
      name: 'guide.md',
      mimeType: 'text/markdown',
      buffer: Buffer.from(GUIDE),
    });
    const row = (name: string) => page.getByRole('row').filter({ hasText: name });
    await row('guide.md')
      .getByText(/^ready \(\d+ chunks?\)$/)
      .waitFor({ timeout: 20_000 });

    // A drop on the page: a text file goes in; an executable named .pdf is refused, naming both.
    await dropFiles('.drop-page', [
      { name: 'notes.txt', type: 'text/plain', text: NOTES },
      {
        name: 'setup.pdf',
        type: 'application/pdf',
        text: 'MZ\u0090\u0000 this program cannot be run in DOS mode',
      },
    ]);
    await page
      .getByRole('alert')
      .getByText(/^"setup\.pdf" is not a type Keyway accepts\./)
      .waitFor();
    await row('notes.txt')
      .getByText(/^ready \(\d+ chunks?\)$/)
      .waitFor({ timeout: 20_000 });
    expect(await row('setup.pdf').count()).toBe(0);
    await page.getByText('2 of 2 files ready').waitFor();
    await shot('knowledge-base');

    // Rename; the list shows the base with its files ready.
    await page.getByRole('button', { name: 'Rename or change model' }).click();
    await page.getByLabel('Name', { exact: true }).fill('Team handbook');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await heading('Knowledge base Team handbook');
    await page.getByRole('link', { name: '← All knowledge bases' }).click();
    await heading('Knowledge');
    const card = page.getByRole('list', { name: 'Knowledge bases' }).getByRole('listitem');
    await card.getByText('2 of 2 files ready').waitFor();
    await card.getByRole('link', { name: 'Team handbook' }).waitFor();
    await shot('knowledge-list');

    // Remove a file from the base: gone from the table, the count follows.
    await card.getByRole('link', { name: 'Team handbook' }).click();
    await heading('Knowledge base Team handbook');
    page.once('dialog', (dialog) => void dialog.accept());
    await page.getByRole('button', { name: 'Remove notes.txt' }).click();
    await page.getByText('Removed "notes.txt". The file itself is kept.').waitFor();
    await expect.poll(() => row('notes.txt').count()).toBe(0);
    // …and it can come back from the files uploaded before.
    await page
      .getByLabel('Or add one you uploaded before')
      .selectOption({ label: `notes.txt (${NOTES.length} B)` });
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    await row('notes.txt')
      .getByText(/^ready \(\d+ chunks?\)$/)
      .waitFor({ timeout: 20_000 });

    // 360 px: nothing scrolls sideways.
    await page.setViewportSize({ width: 360, height: 740 });
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(360);
    await shot('knowledge-base-360px');
    await page.setViewportSize({ width: 1280, height: 860 });
    expect(pageErrors).toEqual([]);
  }, 120_000);

  it('attaches files by button, drop and paste as chips, sends their ids, shows them on the message, and opens a citation [embedded]', async () => {
    // A first message through the real server makes the conversation.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Chat' }).click();
    await page.getByLabel('Model').selectOption('fake/gpt-4o-mini');
    const composer = page.getByLabel('Message', { exact: true });
    await composer.fill('What is the answer?');
    await composer.press('Enter');
    await page.getByText('Done.').waitFor();
    await page.waitForURL(/\/chat\/[^/]+$/);
    const conversationId = decodeURIComponent(page.url().split('/').pop()!);

    // Three ways in: the paperclip button, a drop on the chat, an image pasted into the composer.
    await page.getByLabel('Files to attach').setInputFiles({
      name: 'plan.md',
      mimeType: 'text/markdown',
      buffer: Buffer.from('# Plan\n\nShip it.'),
    });
    await dropFiles('.chat-main', [{ name: 'todo.txt', type: 'text/plain', text: 'Buy milk.' }]);
    await pasteImage('#composer', 'image.png', PNG);
    const chips = page.getByRole('list', { name: 'Attached to the next message' });
    for (const name of ['plan.md', 'todo.txt', 'image.png']) await chips.getByText(name).waitFor();
    await expect.poll(() => chips.getByText('uploading…').count()).toBe(0);
    // A chip can be removed before sending.
    await dropFiles('.chat-main', [{ name: 'extra.txt', type: 'text/plain', text: 'Not this one.' }]);
    await chips.getByText('extra.txt').waitFor();
    await expect.poll(() => chips.getByText('uploading…').count()).toBe(0);
    await page.getByRole('button', { name: 'Remove extra.txt' }).click();
    await expect.poll(() => chips.getByText('extra.txt').count()).toBe(0);
    const files = (await (await page.request.get(`${base}/api/files`)).json()) as {
      id: string;
      name: string;
    }[];
    const idOf = (name: string) => files.find((file) => file.name === name)!.id;
    await shot('chat-attachments');

    // A real passage of the knowledge base for the first citation: the guide's "On Linux" section
    // (chunk ids are small numbers in this fresh database; there is no search route to ask).
    type Passage = {
      id: string;
      knowledgeBaseId: string;
      fileId: string;
      fileName: string;
      headings: string[];
    };
    let linux: Passage | undefined;
    for (let id = 1; id <= 50 && !linux; id++) {
      const found = await page.request.get(`${base}/api/knowledge/passages/${id}`);
      const passage = found.ok() ? ((await found.json()) as Passage) : undefined;
      if (passage?.fileName === 'guide.md' && passage.headings.includes('On Linux')) linux = passage;
    }
    expect(linux, 'a passage of guide.md under "On Linux"').toBeTruthy();

    // The message call, routed with the chat API's shapes (see the describe's comment).
    const sent: Record<string, unknown>[] = [];
    let refuseNext = true;
    const citations = [
      {
        n: 1,
        passageId: linux!.id,
        knowledgeBaseId: linux!.knowledgeBaseId,
        fileId: linux!.fileId,
        fileName: 'guide.md',
        page: null,
        headings: ['Install', 'On Linux'],
      },
      {
        n: 2,
        passageId: null,
        knowledgeBaseId: null,
        fileId: idOf('todo.txt'),
        fileName: 'todo.txt',
        page: null,
        headings: [],
      },
      {
        n: 3,
        passageId: '999999',
        knowledgeBaseId: linux!.knowledgeBaseId,
        fileId: linux!.fileId,
        fileName: 'guide.md',
        page: null,
        headings: ['Install'],
      },
    ];
    await page.route(`**/api/conversations/${conversationId}/messages`, async (route: Route) => {
      const body = route.request().postDataJSON() as Record<string, unknown>;
      sent.push(body);
      if (refuseNext) {
        refuseNext = false;
        return route.fulfill({
          status: 400,
          contentType: 'application/json',
          body: JSON.stringify({
            error: { code: 'model_without_vision', message: 'fake/gpt-4o-mini cannot see images.' },
          }),
        });
      }
      const now = new Date().toISOString();
      const attached = (body.attachments as { fileIds: string[] }).fileIds.map((id) => {
        const file = files.find((candidate) => candidate.id === id)!;
        return { id, name: file.name, mediaType: file.name.endsWith('.png') ? 'image/png' : 'text/plain' };
      });
      const message = (role: string, content: string, extra: object) => ({
        id: `m-${role}`,
        role,
        content,
        model: 'fake/gpt-4o-mini',
        status: 'complete',
        error: null,
        createdAt: now,
        ...extra,
      });
      const events = [
        {
          type: 'user',
          message: message('user', String(body.content), {
            attachments: { files: attached, knowledgeBases: [] },
            citations: [],
          }),
        },
        { type: 'delta', text: 'Unpack it [1], then buy milk [2] [3].' },
        {
          type: 'done',
          message: message('assistant', 'Unpack it [1], then buy milk [2] [3].', {
            attachments: { files: [], knowledgeBases: [] },
            citations,
          }),
        },
      ];
      return route.fulfill({
        status: 200,
        contentType: 'text/event-stream',
        body: events.map((event) => `data: ${JSON.stringify(event)}\n\n`).join(''),
      });
    });

    // An image to a model without vision: refused before anything streams; the text and the files
    // come back into the composer.
    await composer.fill('What should I do?');
    await composer.press('Enter');
    await page.getByRole('alert').getByText('fake/gpt-4o-mini cannot see images.').waitFor();
    await expect.poll(() => composer.inputValue()).toBe('What should I do?');
    for (const name of ['plan.md', 'todo.txt', 'image.png']) await chips.getByText(name).waitFor();
    await page.getByRole('button', { name: 'Remove image.png' }).click();

    await composer.press('Enter');
    const you = page.getByRole('article', { name: 'You' }).last();
    await you.getByRole('list', { name: 'Attachments' }).getByText('plan.md').waitFor();
    await you.getByRole('list', { name: 'Attachments' }).getByText('todo.txt').waitFor();
    expect(sent.at(-1)).toMatchObject({
      content: 'What should I do?',
      attachments: { fileIds: [idOf('plan.md'), idOf('todo.txt')] },
    });
    expect(sent[0]).toMatchObject({
      attachments: { fileIds: [idOf('plan.md'), idOf('todo.txt'), idOf('image.png')] },
    });
    expect(await chips.count()).toBe(0);

    // The answer's sources: a passage opens in a dialog from the real server, as text; a whole file
    // is its name only; a passage that is gone says so.
    const answer = page.getByRole('article', { name: 'Assistant' }).last();
    const sources = answer.getByRole('list', { name: 'Sources' });
    const label = 'guide.md — Install › On Linux';
    await sources.getByRole('button', { name: label }).waitFor();
    await sources.getByText('todo.txt', { exact: true }).waitFor();
    expect(await sources.getByRole('button', { name: 'todo.txt' }).count()).toBe(0);
    await answer.getByRole('button', { name: `Source 1: ${label}` }).click();
    const dialog = page.getByRole('dialog', { name: `[1] ${label}` });
    await dialog.getByText('Unpack the archive in /opt', { exact: false }).waitFor();
    await dialog.getByText('<b>never markup</b>', { exact: false }).waitFor();
    expect(await dialog.locator('b').count()).toBe(0);
    await shot('chat-passage');
    await page.keyboard.press('Escape');
    await expect.poll(() => dialog.count()).toBe(0);
    await sources.getByRole('button', { name: label }).click();
    await dialog.waitFor();
    await dialog.getByRole('button', { name: 'Close the passage' }).click();
    await expect.poll(() => dialog.count()).toBe(0);
    await answer.getByRole('button', { name: 'Source 3: guide.md — Install' }).click();
    await page
      .getByRole('dialog')
      .getByText(/^This passage is gone/)
      .waitFor();
    await page.keyboard.press('Escape');
    await expect.poll(() => page.getByRole('dialog').count()).toBe(0);
    await shot('chat-sources');
    await page.getByLabel('Theme').selectOption('dark');
    await page.setViewportSize({ width: 360, height: 740 });
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(360);
    await shot('chat-sources-dark-360px');
    await page.setViewportSize({ width: 1280, height: 860 });
    await page.getByLabel('Theme').selectOption('light');
    expect(pageErrors).toEqual([]);
  }, 120_000);

  it('attaches a knowledge base to the conversation with the picker, as a removable chip [embedded]', async () => {
    const conversationId = decodeURIComponent(page.url().split('/').pop()!);
    const stored = async () =>
      (
        (await (await page.request.get(`${base}/api/conversations/${conversationId}`)).json()) as {
          knowledgeBaseIds: string[];
        }
      ).knowledgeBaseIds;
    const kb = ((await (await page.request.get(`${base}/api/knowledge`)).json()) as { id: string }[])[0]!;
    await page.locator('.chat-head summary', { hasText: 'Knowledge' }).click();
    await page.getByLabel(/^Team handbook/).check();
    const chips = page.getByRole('list', { name: 'Attached to the next message' });
    await chips.getByText('Team handbook').waitFor();
    await expect.poll(stored).toEqual([kb.id]);
    await shot('chat-knowledge-picker');
    await page.locator('.chat-head summary', { hasText: 'Knowledge' }).click();
    await page.getByRole('button', { name: 'Detach the knowledge base Team handbook' }).click();
    await expect.poll(() => chips.count()).toBe(0);
    await expect.poll(stored).toEqual([]);
    expect(pageErrors).toEqual([]);
  }, 60_000);

  it('shares the knowledge base with a team; a member reads it, read only [embedded]', async () => {
    // A member and a team through the API (the other browser test clicks through these pages).
    const write = (method: 'post' | 'put', url: string, data: object) =>
      page.request[method](`${base}${url}`, { headers: { 'x-csrf-token': csrf }, data });
    const bob = (await (
      await write('post', '/api/users', { username: 'bob', password: 'bob password 123' })
    ).json()) as { id: string };
    const team = (await (await write('post', '/api/teams', { name: 'Physics' })).json()) as { id: string };
    expect((await write('put', `/api/teams/${team.id}/members/${bob.id}`, { role: 'member' })).ok()).toBe(
      true,
    );

    await page.goto(base + '/knowledge');
    await heading('Knowledge');
    await page.getByRole('link', { name: 'Team handbook' }).click();
    await heading('Knowledge base Team handbook');
    await page.getByText('Only you can use it.').waitFor();
    await page.getByRole('button', { name: 'Share with teams' }).click();
    await page.getByLabel('Physics').check();
    await page.getByRole('button', { name: 'Save sharing' }).click();
    await page.getByText('Shared with Physics.').waitFor();

    const other = await browser.newContext({ viewport: { width: 1280, height: 860 }, colorScheme: 'light' });
    const member = await other.newPage();
    member.on('pageerror', (error) => pageErrors.push(`member: ${error.message}`));
    await member.goto(base + '/knowledge');
    await member.getByLabel('Username').fill('bob');
    await member.getByLabel('Password').fill('bob password 123');
    await member.getByRole('button', { name: 'Sign in' }).click();
    await member.getByRole('heading', { level: 1, name: 'Knowledge', exact: true }).waitFor();
    await member.getByText('Shared with you by admin through Physics: read only.').waitFor();
    await member.getByRole('link', { name: 'Team handbook' }).click();
    await member.getByRole('heading', { level: 1, name: 'Knowledge base Team handbook' }).waitFor();
    await member
      .getByRole('row')
      .filter({ hasText: 'guide.md' })
      .getByText(/^ready/)
      .waitFor();
    expect(await member.getByRole('button', { name: 'Upload files' }).count()).toBe(0);
    expect(await member.getByRole('button', { name: 'Remove guide.md' }).count()).toBe(0);
    expect(await member.getByRole('button', { name: 'Delete' }).count()).toBe(0);
    await member.screenshot({ path: path.join(SHOTS, 'knowledge-shared-member.png') });
    fs.copyFileSync(path.join(SHOTS, 'knowledge-shared-member.png'), '/tmp/kw-knowledge-shared-member.png');
    await other.close();
    expect(pageErrors).toEqual([]);
  }, 60_000);
  it('answers a new chat from its knowledge base through the real chat API: the passage reaches the model, the sources open [embedded]', async () => {
    await page.goto(base + '/');
    await page.getByRole('heading', { level: 1, name: 'New chat' }).waitFor();
    await page.getByLabel('Model').selectOption('fake/gpt-4o-mini');
    // Chosen before the first message: it goes with the new conversation.
    await page.locator('.chat-head summary', { hasText: 'Knowledge' }).click();
    await page.getByLabel(/^Team handbook/).check();
    await page.locator('.chat-head summary', { hasText: 'Knowledge' }).click();
    const chips = page.getByRole('list', { name: 'Attached to the next message' });
    await chips.getByText('Team handbook').waitFor();
    const composer = page.getByLabel('Message', { exact: true });
    await composer.fill('How do I unpack the archive on Linux?');
    await composer.press('Enter');
    await page.getByText('Done.').waitFor();
    await page.waitForURL(/\/chat\/[^/]+$/);

    // The chat upstream got the guide's Linux passage as context.
    const prompt = JSON.stringify(upstream.chats.at(-1)!.body.messages);
    expect(prompt).toContain('Unpack the archive in /opt');
    // The answer lists its sources; one opens its passage.
    const answer = page.getByRole('article', { name: 'Assistant' }).last();
    const sources = answer.getByRole('list', { name: 'Sources' });
    const linux = sources.getByRole('button', { name: 'guide.md — Install › On Linux' });
    await linux.waitFor();
    await linux.click();
    await page.getByRole('dialog').getByText('Unpack the archive in /opt', { exact: false }).waitFor();
    await shot('chat-grounded');
    await page.keyboard.press('Escape');

    // A short file attached to a message goes in whole: its name is on the question and among the
    // sources, not a passage to open.
    await page.getByLabel('Files to attach').setInputFiles({
      name: 'shopping.txt',
      mimeType: 'text/plain',
      buffer: Buffer.from('Buy oat milk and rye bread.'),
    });
    await chips.getByText('shopping.txt').waitFor();
    await expect.poll(() => chips.getByText('uploading…').count()).toBe(0);
    await composer.fill('What should I buy?');
    await composer.press('Enter');
    await expect.poll(() => page.getByRole('article', { name: 'Assistant', exact: true }).count()).toBe(2);
    const question = page.getByRole('article', { name: 'You' }).last();
    await question.getByRole('list', { name: 'Attachments' }).getByText('shopping.txt').waitFor();
    expect(JSON.stringify(upstream.chats.at(-1)!.body.messages)).toContain('Buy oat milk and rye bread.');
    const second = page
      .getByRole('article', { name: 'Assistant' })
      .last()
      .getByRole('list', { name: 'Sources' });
    await second.getByText('shopping.txt', { exact: true }).waitFor();
    expect(await second.getByRole('button', { name: 'shopping.txt' }).count()).toBe(0);

    // Reloaded from the server: the conversation keeps its knowledge base, the question its file and
    // the answers their sources.
    await page.reload();
    await chips.getByText('Team handbook').waitFor();
    await sources.getByRole('button', { name: 'guide.md — Install › On Linux' }).waitFor();
    await question.getByRole('list', { name: 'Attachments' }).getByText('shopping.txt').waitFor();
    expect(pageErrors).toEqual([]);
  }, 60_000);
});
