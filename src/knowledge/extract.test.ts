import { deflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  buildDocx,
  buildEncryptedPdf,
  buildPdf,
  declareUncompressedSize,
  documentXml,
} from '../../test/support/documents.ts';
import { KeywayError } from '../errors.ts';
import { chunkSections } from './chunker.ts';
import { extractText, type DocumentType } from './extract.ts';

const encode = (text: string) => new TextEncoder().encode(text);

async function unreadableReason(bytes: Uint8Array, type: DocumentType, options = {}) {
  const error: unknown = await extractText(bytes, type, options).then(
    () => null,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(KeywayError);
  const keyway = error as KeywayError;
  expect(keyway.code).toBe('file_unreadable');
  expect(keyway.status).toBe(422);
  return { reason: keyway.details?.['reason'], message: keyway.message };
}

const pageSentence = (page: number) => `Page ${page} states that the marker word is zebra${page * 7919}.`;

describe('extractText: PDF', () => {
  it('reads a generated 300-page PDF page by page; the chunk with page 37’s sentence says page 37', async () => {
    const pdf = await buildPdf(Array.from({ length: 300 }, (_, index) => pageSentence(index + 1)));
    const started = performance.now();
    const document = await extractText(pdf, 'pdf');
    const chunks = chunkSections(document.sections);
    const elapsed = performance.now() - started;
    // Printed, not asserted: speed is the benchmark's business (issue 15 budget: 10 s on 2 cores).
    console.log(`300-page PDF: parsing + chunking took ${Math.round(elapsed)} ms, ${chunks.length} chunks`);

    expect(document.pages).toBe(300);
    expect(document.sections).toHaveLength(300);
    const holding = chunks.filter((chunk) => chunk.text.includes(`zebra${37 * 7919}`));
    expect(holding).toHaveLength(1);
    expect(holding[0]!.page).toBe(37);
    expect(holding[0]!.text).toBe(pageSentence(37));
  });

  it('refuses an encrypted PDF, saying it is encrypted', async () => {
    const { reason, message } = await unreadableReason(buildEncryptedPdf(), 'pdf');
    expect(reason).toBe('encrypted');
    expect(message).toMatch(/encrypted/);
  });

  it('refuses corrupt PDF bytes', async () => {
    const { reason } = await unreadableReason(encode('%PDF-1.7\n this is not a PDF at all'), 'pdf');
    expect(reason).toBe('corrupt');
  });

  it('refuses a truncated PDF', async () => {
    const pdf = await buildPdf(['one', 'two']);
    const { reason } = await unreadableReason(pdf.subarray(0, 200), 'pdf');
    expect(reason).toBe('corrupt');
  });

  it('refuses a PDF with more pages than the limit before reading their text', async () => {
    const pdf = await buildPdf(['a', 'b', 'c']);
    const { reason, message } = await unreadableReason(pdf, 'pdf', { maxPages: 2 });
    expect(reason).toBe('too_many_pages');
    expect(message).toContain('3 pages');
  });

  it('leaves the caller’s bytes usable', async () => {
    const pdf = await buildPdf(['kept']);
    await extractText(pdf, 'pdf');
    expect(pdf.byteLength).toBeGreaterThan(0);
    expect((await extractText(pdf, 'pdf')).sections[0]!.text).toBe('kept');
  });
});

describe('extractText: DOCX', () => {
  it('keeps heading paths from Heading 1 and Heading 2 paragraphs', async () => {
    const docx = await buildDocx([
      { text: 'Preface text.' },
      { text: 'Installation', style: 'Heading1' },
      { text: 'Install it first.' },
      { text: 'On Linux', style: 'Heading2' },
      { text: 'Use the package & the service.' },
      { text: 'On macOS', style: 'Heading2' },
      { text: 'Use Homebrew.' },
      { text: 'Usage', style: 'Heading1' },
      { text: 'Run it.' },
    ]);
    const { sections } = await extractText(docx, 'docx');
    expect(sections).toEqual([
      { text: 'Preface text.', headings: [] },
      { text: 'Install it first.', headings: ['Installation'] },
      { text: 'Use the package & the service.', headings: ['Installation', 'On Linux'] },
      { text: 'Use Homebrew.', headings: ['Installation', 'On macOS'] },
      { text: 'Run it.', headings: ['Usage'] },
    ]);
  });

  it('refuses an entry declaring a huge uncompressed size, without inflating it', async () => {
    const docx = declareUncompressedSize(
      await buildDocx([{ text: 'hi' }]),
      'word/document.xml',
      3_000_000_000,
    );
    const started = performance.now();
    const { reason } = await unreadableReason(docx, 'docx');
    expect(reason).toBe('zip_bomb');
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it('refuses an entry compressed far past any document’s ratio (20 MB of zeros)', async () => {
    const zeros = new Uint8Array(20 * 1024 * 1024);
    const docx = await buildDocx([{ text: 'hi' }], { 'word/media/zeros.bin': zeros });
    expect(docx.byteLength).toBeLessThan(200_000);
    const { reason, message } = await unreadableReason(docx, 'docx');
    expect(reason).toBe('zip_bomb');
    expect(message).toContain('word/media/zeros.bin');
  });

  it('refuses an entry that inflates past the size it declares (a lying ZIP)', async () => {
    const zeros = new Uint8Array(5 * 1024 * 1024);
    const honest = await buildDocx([{ text: 'hi' }], { 'word/filler.bin': zeros });
    // Declared as 4 KiB: under every declared-size rule, so only inflating with a ceiling catches it.
    const lying = declareUncompressedSize(honest, 'word/filler.bin', 4096);
    const { reason, message } = await unreadableReason(lying, 'docx');
    expect(reason).toBe('zip_bomb');
    expect(message).toMatch(/past its declared size/);
    expect(deflateRawSync(zeros).byteLength).toBeLessThan(4096 * 2);
  });

  it('refuses a DOCX whose XML declares nested entities (billion laughs), without expanding them', async () => {
    let dtd = '<!ENTITY a0 "lol">';
    for (let level = 1; level < 10; level++) dtd += `<!ENTITY a${level} "${`&a${level - 1};`.repeat(10)}">`;
    const xml = documentXml([{ text: 'TEXT' }])
      .replace('<w:document', `<!DOCTYPE w:document [${dtd}]><w:document`)
      .replace('TEXT', '&a9;');
    const docx = await buildDocx([], { 'word/document.xml': xml });
    const { reason } = await unreadableReason(docx, 'docx');
    expect(reason).toBe('corrupt');
  });

  it('refuses bytes that are not a ZIP', async () => {
    const { reason } = await unreadableReason(encode('PK\u0003\u0004 not really a zip'), 'docx');
    expect(reason).toBe('corrupt');
  });

  it('refuses a ZIP without a document in it', async () => {
    const JSZip = (await import('jszip')).default;
    const zip = new JSZip();
    zip.file('hello.txt', 'hello');
    const { reason } = await unreadableReason(await zip.generateAsync({ type: 'uint8array' }), 'docx');
    expect(reason).toBe('corrupt');
  });
});

describe('extractText: Markdown', () => {
  it('splits at ATX and setext headings and keeps heading paths, not fenced “headings”', async () => {
    const markdown = [
      'Intro line.',
      '',
      'Guide',
      '=====',
      '',
      'Welcome.',
      '',
      '## Setup ##',
      '',
      'Steps:',
      '```sh',
      '# not a heading',
      '    indented stays',
      '```',
      '### Deep',
      'Deep text.',
      '## Next',
      'Next text.',
      '#NoSpace is text',
    ].join('\r\n');
    const { sections } = await extractText(encode(markdown), 'markdown');
    expect(sections).toEqual([
      { text: 'Intro line.', headings: [] },
      { text: 'Welcome.', headings: ['Guide'] },
      {
        text: 'Steps:\n```sh\n# not a heading\n    indented stays\n```',
        headings: ['Guide', 'Setup'],
      },
      { text: 'Deep text.', headings: ['Guide', 'Setup', 'Deep'] },
      { text: 'Next text.\n#NoSpace is text', headings: ['Guide', 'Next'] },
    ]);
  });
});

describe('extractText: HTML', () => {
  it('drops scripts, styles and comments, decodes entities, keeps headings', async () => {
    const html = `<!DOCTYPE html><html><head><title>T</title><style>p { color: red }</style></head>
      <body><script>var secret = "<h1>not a heading</h1>";</script>
      <p>Fish &amp; chips cost &pound;5 &#8212; or &#x20AC;6 &lt;today&gt;&nbsp;only.</p>
      <!-- <p>hidden comment</p> -->
      <h1>Menu <em>today</em></h1><p data-x="a>b">Soup.</p><SCRIPT type="x">alert(1)</SCRIPT>
      <h2>Drinks</h2><ul><li>Tea</li><li>Coffee</li></ul><h1>Contact</h1><p>Call&unknown; us<br>today.</p>
      </body></html>`;
    const { sections } = await extractText(encode(html), 'html');
    expect(sections).toEqual([
      { text: 'Fish & chips cost £5 — or €6 <today> only.', headings: [] },
      { text: 'Soup.', headings: ['Menu today'] },
      { text: 'Tea\nCoffee', headings: ['Menu today', 'Drinks'] },
      { text: 'Call&unknown; us\ntoday.', headings: ['Contact'] },
    ]);
  });

  it('ends a heading left open at the next block, and cuts a runaway heading', async () => {
    const html = `<h1>Title<p>Body text.</p><h2>${'long '.repeat(100)}</h2><p>More.</p>`;
    const { sections } = await extractText(encode(html), 'html');
    expect(sections[0]).toEqual({ text: 'Body text.', headings: ['Title'] });
    expect(sections[1]!.text).toBe('More.');
    expect(sections[1]!.headings[1]).toHaveLength(201);
  });

  it('takes linear time on hostile markup', async () => {
    const hostile = '<a '.repeat(200_000) + '<script>'.repeat(50_000) + '"'.repeat(100_000);
    const started = performance.now();
    await extractText(encode(hostile), 'html');
    expect(performance.now() - started).toBeLessThan(3_000);
  });
});

describe('extractText: CSV, text and code', () => {
  it('reads CSV rows as text, each value named by its column, quotes honoured', async () => {
    const csv = 'name;city;note\r\nAda;London;"wrote ""notes""; first"\r\n\r\nAlan;"Man\nchester";\r\n';
    const { sections } = await extractText(encode(csv), 'csv');
    expect(sections).toEqual([
      {
        text: 'name: Ada | city: London | note: wrote "notes"; first\nname: Alan | city: Man chester',
        headings: [],
      },
    ]);
  });

  it('drops NUL characters and the byte-order mark from text', async () => {
    const { sections } = await extractText(encode('\uFEFFhel\u0000lo\r\nworld'), 'text');
    expect(sections).toEqual([{ text: 'hello\nworld', headings: [] }]);
  });

  it('keeps indentation in code', async () => {
    const code = 'function f() {\n  return 1;\n}\n';
    const { sections } = await extractText(encode(code), 'code');
    expect(sections[0]!.text).toBe(code);
  });

  it('refuses more text than the limit', async () => {
    const { reason } = await unreadableReason(encode('x'.repeat(1000)), 'text', { maxTextChars: 999 });
    expect(reason).toBe('too_much_text');
  });
});
