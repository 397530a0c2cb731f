import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { serve, type ServerType } from '@hono/node-server';
import JSZip from 'jszip';
import { PDFDocument, StandardFonts } from 'pdf-lib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../src/cli/main.ts';
import { buildDocx, buildEncryptedPdf, declareUncompressedSize } from './support/documents.ts';
import { BACKENDS } from './support/test-database.ts';
import { createTestKeyway, type TestKeyway } from './support/test-keyway.ts';

/** The file limit of these tests: a 2 MiB text fits, 2.5 MiB + 1 byte does not. */
const LIMIT = 2.5 * 1024 * 1024;

async function pdfBytes(): Promise<Uint8Array> {
  const pdf = await PDFDocument.create();
  const page = pdf.addPage();
  page.drawText('Quarterly report', { font: await pdf.embedFont(StandardFonts.Helvetica) });
  return pdf.save();
}

async function docxBytes(): Promise<Uint8Array> {
  const zip = new JSZip();
  zip.file(
    '[Content_Types].xml',
    '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>',
  );
  zip.file('_rels/.rels', '<?xml version="1.0"?><Relationships/>');
  zip.file(
    'word/document.xml',
    '<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>Hello</w:t></w:r></w:p></w:body></w:document>',
  );
  return zip.generateAsync({ type: 'uint8array', compression: 'DEFLATE' });
}

const PNG = Uint8Array.from([
  0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0x49, 0x48, 0x44, 0x52, 0, 0, 0, 1, 0, 0, 0,
  1,
]);
const JPEG = Uint8Array.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 0x4a, 0x46, 0x49, 0x46, 0, 1, 0xff, 0xd9]);
const GIF = new TextEncoder().encode('GIF89a\x01\x00\x01\x00\x00\x00\x00;');
const WEBP = Uint8Array.from(
  [...'RIFF']
    .map((c) => c.charCodeAt(0))
    .concat(
      [26, 0, 0, 0],
      [...'WEBPVP8 '].map((c) => c.charCodeAt(0)),
      [0, 0, 0, 0],
    ),
);
const ZIP = await new JSZip().file('a.txt', 'a').generateAsync({ type: 'uint8array' });
const text = (value: string) => new TextEncoder().encode(value);

describe.each(BACKENDS)('files: upload, download, list, delete [%s]', (backend) => {
  let harness: TestKeyway;
  let alice: { id: string; token: string };
  let bob: { id: string; token: string };
  let root: { id: string; token: string };

  beforeAll(async () => {
    harness = await createTestKeyway(backend, { env: { KEYWAY_FILE_SIZE_LIMIT: String(LIMIT) } });
    alice = await harness.user('alice');
    bob = await harness.user('bob');
    root = await harness.user('root', 'admin');
  });
  afterAll(() => harness?.close());

  /** A multipart upload as a browser or curl sends it. */
  async function upload(
    token: string,
    name: string,
    bytes: Uint8Array,
    fields: Record<string, string> = {},
  ): Promise<{ status: number; body: any }> {
    const form = new FormData();
    form.set('file', new Blob([bytes]), name);
    for (const [key, value] of Object.entries(fields)) form.set(key, value);
    const response = await harness.keyway.app.request('/api/files', {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
      body: form,
    });
    return { status: response.status, body: await response.json() };
  }

  async function download(token: string, id: string) {
    const response = await harness.keyway.app.request(`/api/files/${id}/content`, {
      headers: { authorization: `Bearer ${token}` },
    });
    return {
      status: response.status,
      headers: response.headers,
      bytes: new Uint8Array(await response.arrayBuffer()),
    };
  }

  const storedCount = async () => {
    const files = await harness.database.db
      .selectFrom('files')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .executeTakeFirstOrThrow();
    const contents = await harness.database.db
      .selectFrom('file_contents')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .executeTakeFirstOrThrow();
    return { files: Number(files.n), contents: Number(contents.n) };
  };

  it.each([
    ['report.pdf', 'application/pdf', 'document', pdfBytes],
    [
      'letter.docx',
      'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
      'document',
      docxBytes,
    ],
    ['pixel.png', 'image/png', 'image', async () => PNG],
    ['photo.jpg', 'image/jpeg', 'image', async () => JPEG],
    ['anim.gif', 'image/gif', 'image', async () => GIF],
    ['sticker.webp', 'image/webp', 'image', async () => WEBP],
    ['notes.md', 'text/markdown', 'document', async () => text('# Notes\n\nSome *text*.\n')],
    ['readme.txt', 'text/plain', 'document', async () => text('plain text, déjà vu\n')],
    ['page.html', 'text/html', 'document', async () => text('<script>alert(1)</script>')],
    ['table.csv', 'text/csv', 'document', async () => text('a,b\n1,2\n')],
    ['main.py', 'text/x-python', 'document', async () => text('print("hi")\n')],
    ['deploy', 'text/plain', 'document', async () => text('#!/bin/sh\necho hi\n')],
  ] as const)('accepts %s as %s, and gives the same bytes back', async (name, mediaType, kind, make) => {
    const bytes = await make();
    const created = await upload(alice.token, name, bytes);
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({ name, mediaType, kind, sizeBytes: bytes.byteLength });
    expect(created.body.sha256).toMatch(/^[0-9a-f]{64}$/);

    const got = await download(alice.token, created.body.id);
    expect(got.status).toBe(200);
    expect(Buffer.from(got.bytes).equals(Buffer.from(bytes))).toBe(true);
    expect(got.headers.get('x-content-type-options')).toBe('nosniff');
    expect(got.headers.get('content-security-policy')).toContain("default-src 'none'");
    if (kind === 'image') {
      expect(got.headers.get('content-type')).toBe(mediaType);
      expect(got.headers.get('content-disposition')).toMatch(/^inline;/);
    } else {
      expect(got.headers.get('content-disposition')).toMatch(/^attachment;/);
      // Never served as HTML (or anything a browser would render as a page of this origin).
      if (mediaType.startsWith('text/'))
        expect(got.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    }
  });

  it.each([
    [
      'a Linux executable renamed report.pdf',
      'report.pdf',
      415,
      'unsupported_media_type',
      async () => Uint8Array.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0, ...new Array(56).fill(0)]),
    ],
    [
      'a Windows executable renamed notes.txt',
      'notes.txt',
      415,
      'unsupported_media_type',
      async () =>
        Uint8Array.from([0x4d, 0x5a, 0x90, 0, 3, 0, 0, 0, 4, 0, 0, 0, 0xff, 0xff, ...new Array(50).fill(0)]),
    ],
    ['a PNG named photo.jpg', 'photo.jpg', 415, 'unsupported_media_type', async () => PNG],
    ['a password-protected PDF', 'secret.pdf', 422, 'file_unreadable', async () => buildEncryptedPdf()],
    [
      'a DOCX declaring a 3 GB entry (zip bomb)',
      'bomb.docx',
      422,
      'file_unreadable',
      async () =>
        declareUncompressedSize(await buildDocx([{ text: 'hi' }]), 'word/document.xml', 3_000_000_000),
    ],
    [
      'a DOCX whose entry inflates past its declared size',
      'liar.docx',
      422,
      'file_unreadable',
      async () =>
        declareUncompressedSize(
          await buildDocx([{ text: 'hi' }], { 'word/filler.bin': new Uint8Array(2 * 1024 * 1024) }),
          'word/filler.bin',
          4096,
        ),
    ],
  ] as const)(
    'refuses %s with %i %s, stores nothing and keeps serving',
    async (_, name, status, code, make) => {
      const before = await storedCount();
      const refused = await upload(alice.token, name, await make());
      expect(refused.status, JSON.stringify(refused.body)).toBe(status);
      expect(refused.body.error.code).toBe(code);
      expect(refused.body.error.message).not.toMatch(/\bat \S+ \(|node_modules/);
      expect(await storedCount()).toEqual(before);
      const next = await upload(alice.token, 'fine.txt', text('still serving'));
      expect(next.status).toBe(201);
      await harness.call('DELETE', `/api/files/${next.body.id}`, { token: alice.token });
    },
  );

  it('uses the name field over the part’s file name, and keeps only its last path segment', async () => {
    const created = await upload(alice.token, 'upload.bin', text('hello'), { name: 'C:\\Users\\a\\plan.md' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'plan.md', mediaType: 'text/markdown' });
  });

  it('lists your files newest first without their bytes, shows one, deletes one', async () => {
    const first = await upload(bob.token, 'one.txt', text('one'));
    const second = await upload(bob.token, 'two.txt', text('two'));
    const list = await harness.call('GET', '/api/files', { token: bob.token });
    expect(list.status).toBe(200);
    expect(list.body.map((file: { name: string }) => file.name)).toEqual(['two.txt', 'one.txt']);
    expect(list.body[0]).not.toHaveProperty('content');
    expect((await harness.call('GET', '/api/files?limit=1', { token: bob.token })).body).toHaveLength(1);

    const shown = await harness.call('GET', `/api/files/${first.body.id}`, { token: bob.token });
    expect(shown.body).toEqual(first.body);

    const before = await storedCount();
    expect((await harness.call('DELETE', `/api/files/${first.body.id}`, { token: bob.token })).status).toBe(
      204,
    );
    expect(await storedCount()).toEqual({ files: before.files - 1, contents: before.contents - 1 });
    expect((await harness.call('GET', `/api/files/${first.body.id}`, { token: bob.token })).status).toBe(404);
    expect(
      (await harness.call('GET', '/api/files', { token: bob.token })).body.map((f: { id: string }) => f.id),
    ).toEqual([second.body.id]);
    const audit = await harness.database.db
      .selectFrom('audit_log')
      .select(['action', 'target_id'])
      .where('target_id', '=', first.body.id)
      .orderBy('id')
      .execute();
    expect(audit.map((row) => row.action)).toEqual(['file.create', 'file.delete']);
  });

  it("answers 404 for another user's file on every route, admins included", async () => {
    const mine = await upload(alice.token, 'secret.txt', text('for alice only'));
    for (const other of [bob, root]) {
      expect((await harness.call('GET', `/api/files/${mine.body.id}`, { token: other.token })).status).toBe(
        404,
      );
      expect((await download(other.token, mine.body.id)).status).toBe(404);
      expect(
        (await harness.call('DELETE', `/api/files/${mine.body.id}`, { token: other.token })).status,
      ).toBe(404);
      const listed = await harness.call('GET', '/api/files', { token: other.token });
      expect(listed.body.map((f: { id: string }) => f.id)).not.toContain(mine.body.id);
    }
    expect((await download(alice.token, mine.body.id)).status).toBe(200);
    expect((await harness.call('GET', '/api/files/not-a-uuid', { token: alice.token })).status).toBe(404);
    expect((await harness.call('GET', '/api/files', {})).status).toBe(401);
  });

  it.each([
    ['report.pdf', Uint8Array.from([0x4d, 0x5a, 0x90, 0, 3, 0, 0, 0]), /Windows executable/],
    ['tool', Uint8Array.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]), /ELF/],
    ['photo.png', JPEG, /named as a PNG image but its content is a JPEG image/],
    ['scan.pdf', PNG, /named as a PDF document but its content is a PNG image/],
    ['image.png', text('just text'), /named as a PNG image but its content is text/],
    ['data.txt', text('abc\u0000def'), /NUL/],
    ['latin1.txt', Uint8Array.from([0x63, 0x61, 0x66, 0xe9]), /not UTF-8/],
    ['archive.zip', ZIP, /ZIP archive/],
    ['notes.exe', text('hello'), /Windows executable/],
  ])('refuses %s with 415 naming what it is, and stores nothing', async (name, bytes, said) => {
    const before = await storedCount();
    const refused = await upload(alice.token, name, bytes);
    expect(refused.status).toBe(415);
    expect(refused.body.error.code).toBe('unsupported_media_type');
    expect(refused.body.error.message).toMatch(said);
    expect(await storedCount()).toEqual(before);
  });

  it('accepts a 2 MiB text file', async () => {
    const big = text(
      'lorem ipsum dolor sit amet\n'.repeat(Math.ceil((2 * 1024 * 1024) / 27)).slice(0, 2 * 1024 * 1024),
    );
    const created = await upload(alice.token, 'big.txt', big);
    expect(created.status).toBe(201);
    expect(created.body.sizeBytes).toBe(2 * 1024 * 1024);
  });

  it('refuses a file over the limit with 413 and stores nothing, whether the body or the part is too large', async () => {
    const before = await storedCount();
    // Just over the file limit: the body fits the route's limit (which leaves room for the framing).
    const over = await upload(alice.token, 'over.txt', new Uint8Array(LIMIT + 1).fill(0x61));
    expect(over.status).toBe(413);
    expect(over.body.error.code).toBe('payload_too_large');
    // Far over: refused from content-length before the body is read.
    const far = await upload(alice.token, 'far.txt', new Uint8Array(LIMIT * 2).fill(0x61));
    expect(far.status).toBe(413);
    expect(await storedCount()).toEqual(before);
  });

  it('refuses a chunked body (no content-length) once it passes the limit, storing nothing', async () => {
    const before = await storedCount();
    const chunk = new Uint8Array(256 * 1024).fill(0x61);
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent > LIMIT * 2) return controller.close();
        sent += chunk.length;
        controller.enqueue(chunk);
      },
    });
    const response = await harness.keyway.app.request('/api/files', {
      method: 'POST',
      headers: {
        authorization: `Bearer ${alice.token}`,
        'content-type': 'multipart/form-data; boundary=xyz',
      },
      body,
      duplex: 'half',
    } as RequestInit);
    expect(response.status).toBe(413);
    expect(await storedCount()).toEqual(before);
  });

  it('needs the CSRF token for an upload with the session cookie', async () => {
    const login = await harness.keyway.app.request('/api/auth/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'alice', password: 'correct horse battery' }),
    });
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
    const { csrfToken } = (await login.json()) as { csrfToken: string };
    const send = (headers: Record<string, string>) => {
      const form = new FormData();
      form.set('file', new Blob([text('from the browser')]), 'browser.txt');
      return harness.keyway.app.request('/api/files', {
        method: 'POST',
        headers: { cookie, ...headers },
        body: form,
      });
    };
    const forged = await send({});
    expect(forged.status).toBe(403);
    expect(((await forged.json()) as { error: { code: string } }).error.code).toBe('csrf_failed');
    expect((await send({ 'x-csrf-token': csrfToken })).status).toBe(201);
  });

  it('keeps the 1 MiB /api limit on every other route', async () => {
    const response = await harness.call('POST', '/api/conversations', {
      token: alice.token,
      body: { model: 'x'.repeat(2 * 1024 * 1024) },
    });
    expect(response.status).toBe(413);
  });

  it('refuses a body that is not multipart, or has no file part', async () => {
    const json = await harness.call('POST', '/api/files', { token: alice.token, body: { file: 'hello' } });
    expect(json.status).toBe(415);
    expect(json.body.error.code).toBe('unsupported_media_type');

    const form = new FormData();
    form.set('name', 'nothing.txt');
    const response = await harness.keyway.app.request('/api/files', {
      method: 'POST',
      headers: { authorization: `Bearer ${alice.token}` },
      body: form,
    });
    expect(response.status).toBe(400);

    const broken = await harness.call('POST', '/api/files', {
      token: alice.token,
      body: 'not really multipart',
      headers: { 'content-type': 'multipart/form-data; boundary=xyz' },
    });
    expect(broken.status).toBe(400);

    const empty = await upload(alice.token, 'empty.txt', new Uint8Array());
    expect(empty.status).toBe(400);
  });
});

// The CLI talks to the server over HTTP: one backend, the app served in-process on a loopback port.
describe('keyway files add, list, rm [embedded]', () => {
  let harness: TestKeyway;
  let server: ServerType;
  let url: string;
  let scratch: string;
  let token: string;

  beforeAll(async () => {
    harness = await createTestKeyway('embedded');
    token = (await harness.user('carol')).token;
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'keyway-cli-files-'));
    await new Promise<void>((resolve) => {
      server = serve({ fetch: harness.keyway.app.fetch, hostname: '127.0.0.1', port: 0 }, (info) => {
        url = `http://127.0.0.1:${info.port}`;
        resolve();
      });
    });
  });
  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
    await harness?.close();
    fs.rmSync(scratch, { recursive: true, force: true });
  });

  async function keyway(...args: string[]) {
    let out = '';
    let err = '';
    const code = await runCli(args, {
      out: (text) => void (out += text),
      err: (text) => void (err += text),
      env: { KEYWAY_URL: url, KEYWAY_TOKEN: token, XDG_CONFIG_HOME: scratch },
    });
    return { code, out, err };
  }

  it('uploads several files, lists them, deletes one; a refused file fails with its reason', async () => {
    fs.writeFileSync(path.join(scratch, 'notes.md'), '# Notes\n');
    fs.writeFileSync(path.join(scratch, 'pixel.png'), PNG);
    fs.writeFileSync(path.join(scratch, 'setup.pdf'), Uint8Array.from([0x4d, 0x5a, 0x90, 0]));

    const added = await keyway(
      'files',
      'add',
      path.join(scratch, 'notes.md'),
      path.join(scratch, 'pixel.png'),
    );
    expect(added.code, added.err).toBe(0);
    expect(added.out).toMatch(/notes\.md \(text\/markdown, 8 B\)/);
    expect(added.out).toMatch(/pixel\.png \(image\/png/);

    const listed = await keyway('files', 'list', '--json');
    expect(listed.code).toBe(0);
    const files = JSON.parse(listed.out) as { id: string; name: string }[];
    expect(files.map((file) => file.name).sort()).toEqual(['notes.md', 'pixel.png']);

    const refused = await keyway('files', 'add', path.join(scratch, 'setup.pdf'));
    expect(refused.code).not.toBe(0);
    expect(refused.err).toContain('Windows executable');

    const missing = await keyway('files', 'add', path.join(scratch, 'nope.txt'));
    expect(missing.code).not.toBe(0);
    expect(missing.err).toContain('No such file');

    const removed = await keyway('files', 'rm', files[0]!.id);
    expect(removed.code, removed.err).toBe(0);
    expect((await keyway('files', 'rm', files[0]!.id)).code).not.toBe(0);
    const table = await keyway('files', 'list');
    expect(table.out).toContain(files[1]!.name);
    expect(table.out).not.toContain(files[0]!.id);
  });
});
