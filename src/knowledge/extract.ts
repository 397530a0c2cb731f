/**
 * Turns a stored file's bytes into text with its structure kept: one section per PDF page, one per
 * heading for Markdown, DOCX and HTML. Pure: no database, no network; the caller has already detected
 * the type by magic bytes and bounded the size. Every file is hostile, so everything a parser would
 * expand (pages, inflated ZIP entries, extracted characters) is bounded before or while it is read, and
 * a file that cannot be read answers `file_unreadable` with the reason, never a library's stack.
 */
import { promisify } from 'node:util';
import { inflateRaw } from 'node:zlib';
import { KeywayError, messageOf } from '../errors.js';

const inflateRawAsync = promisify(inflateRaw);

export type DocumentType = 'pdf' | 'docx' | 'markdown' | 'text' | 'html' | 'csv' | 'code';

/** A run of text under one heading path, on one page when the document has pages. */
export interface Section {
  text: string;
  /** 1-based page number (PDF only). */
  page?: number;
  /** Heading path, outermost first: `['Install', 'On Linux']`. Empty before the first heading. */
  headings: string[];
}

export interface ExtractedDocument {
  sections: Section[];
  /** Number of pages (PDF only). */
  pages?: number;
}

export interface ExtractOptions {
  /** A PDF with more pages is refused. */
  maxPages?: number;
  /** Extracted text longer than this (in characters) is refused rather than truncated silently. */
  maxTextChars?: number;
  /** Sum of a DOCX's uncompressed entries. */
  maxUncompressedBytes?: number;
  /** Uncompressed / compressed ratio allowed for a DOCX entry over 1 MiB. */
  maxCompressionRatio?: number;
  /** Entries in a DOCX's ZIP. */
  maxZipEntries?: number;
}

export const EXTRACT_DEFAULTS = {
  maxPages: 2_000,
  maxTextChars: 10_000_000,
  maxUncompressedBytes: 100 * 1024 * 1024,
  maxCompressionRatio: 200,
  maxZipEntries: 5_000,
} as const satisfies Required<ExtractOptions>;

/** Extracts the text of `bytes`, read as `type`. Throws `file_unreadable` for what cannot be read. */
export async function extractText(
  bytes: Uint8Array,
  type: DocumentType,
  options: ExtractOptions = {},
): Promise<ExtractedDocument> {
  const limits = { ...EXTRACT_DEFAULTS, ...options };
  const document = await extractByType(bytes, type, limits);
  let total = 0;
  for (const section of document.sections) total += section.text.length;
  if (total > limits.maxTextChars) {
    throw unreadable(
      `the file holds ${total} characters of text, over the limit of ${limits.maxTextChars}`,
      'too_much_text',
    );
  }
  return document;
}

async function extractByType(
  bytes: Uint8Array,
  type: DocumentType,
  limits: Required<ExtractOptions>,
): Promise<ExtractedDocument> {
  switch (type) {
    case 'pdf':
      return extractPdf(bytes, limits);
    case 'docx':
      return extractDocx(bytes, limits);
    case 'html':
      return { sections: htmlToSections(decodeUtf8(bytes)) };
    case 'markdown':
      return { sections: markdownToSections(decodeUtf8(bytes)) };
    case 'csv':
      return { sections: nonEmpty([{ text: csvToText(decodeUtf8(bytes)), headings: [] }]) };
    case 'text':
    case 'code':
      return { sections: nonEmpty([{ text: normaliseNewlines(decodeUtf8(bytes)), headings: [] }]) };
  }
}

function unreadable(message: string, reason: string, cause?: unknown): KeywayError {
  return new KeywayError('file_unreadable', `The file's text cannot be read: ${message}.`, {
    fix: 'Upload an unprotected, undamaged copy of the file.',
    details: { reason },
    cause,
  });
}

// ---------------------------------------------------------------------------------------------- text

/** UTF-8 with invalid sequences replaced, the byte-order mark and NUL characters dropped. */
export function decodeUtf8(bytes: Uint8Array): string {
  return new TextDecoder('utf-8', { fatal: false, ignoreBOM: false }).decode(bytes).replaceAll('\0', '');
}

function normaliseNewlines(text: string): string {
  return text.replace(/\r\n?/g, '\n');
}

function nonEmpty(sections: Section[]): Section[] {
  return sections.filter((section) => section.text.trim() !== '');
}

// ----------------------------------------------------------------------------------------------- pdf

async function extractPdf(bytes: Uint8Array, limits: Required<ExtractOptions>): Promise<ExtractedDocument> {
  const { getDocumentProxy } = await import('unpdf');
  // pdf.js may detach the buffer it is given; the caller's bytes stay theirs.
  const data = new Uint8Array(bytes);
  let pdf: Awaited<ReturnType<typeof getDocumentProxy>>;
  try {
    // pdf.js recovers what it can from a damaged file (a broken cross-reference table) and says so on
    // the console; verbosity 0 keeps the server's log for Keyway's own lines.
    pdf = await getDocumentProxy(data, { verbosity: 0 });
  } catch (error) {
    throw pdfError(error);
  }
  try {
    if (pdf.numPages > limits.maxPages) {
      throw unreadable(
        `the PDF has ${pdf.numPages} pages, over the limit of ${limits.maxPages}`,
        'too_many_pages',
      );
    }
    const sections: Section[] = [];
    let total = 0;
    for (let number = 1; number <= pdf.numPages; number++) {
      const page = await pdf.getPage(number);
      const content = await page.getTextContent();
      let text = '';
      for (const item of content.items) {
        if ('str' in item) text += item.str + (item.hasEOL ? '\n' : '');
      }
      page.cleanup();
      text = tidyWhitespace(text.replaceAll('\0', ''));
      total += text.length;
      // Stop reading as soon as the budget is spent, not after every page is in memory.
      if (total > limits.maxTextChars) {
        throw unreadable(
          `the PDF holds more than ${limits.maxTextChars} characters of text`,
          'too_much_text',
        );
      }
      if (text !== '') sections.push({ text, page: number, headings: [] });
    }
    return { sections, pages: pdf.numPages };
  } catch (error) {
    throw pdfError(error);
  } finally {
    await pdf.destroy();
  }
}

function pdfError(error: unknown): KeywayError {
  if (error instanceof KeywayError) return error;
  const name = error instanceof Error ? error.name : '';
  if (name === 'PasswordException') {
    return unreadable('the PDF is encrypted with a password', 'encrypted', error);
  }
  if (name === 'InvalidPDFException') {
    return unreadable('the bytes are not a valid PDF', 'corrupt', error);
  }
  return unreadable(`the PDF is damaged (${messageOf(error)})`, 'corrupt', error);
}

// ---------------------------------------------------------------------------------------------- docx

async function extractDocx(bytes: Uint8Array, limits: Required<ExtractOptions>): Promise<ExtractedDocument> {
  // Before mammoth inflates anything: sizes declared in the central directory, then each entry inflated
  // with its declared size as a hard ceiling, so a ZIP that lies about its sizes is caught too.
  await checkZip(bytes, limits);
  const mammoth = (await import('mammoth')).default;
  let html: string;
  try {
    const result = await mammoth.convertToHtml(
      { buffer: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) },
      {
        externalFileAccess: false,
        // Images are not text; without this mammoth would inline each one as a data URI.
        convertImage: mammoth.images.imgElement(() => Promise.resolve({ src: '' })),
      },
    );
    html = result.value;
  } catch (error) {
    throw unreadable(`the DOCX is damaged (${messageOf(error)})`, 'corrupt', error);
  }
  return { sections: htmlToSections(html) };
}

interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  uncompressedSize: number;
  localHeaderOffset: number;
}

const EOCD_SIGNATURE = 0x06054b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const LOCAL_SIGNATURE = 0x04034b50;

/** Refuses a ZIP whose entries would inflate past the limits (a zip bomb), by declaration or in fact. */
export async function checkZip(bytes: Uint8Array, limits: Required<ExtractOptions>): Promise<void> {
  const entries = readCentralDirectory(bytes, limits);
  let declared = 0;
  for (const entry of entries) {
    declared += entry.uncompressedSize;
    if (declared > limits.maxUncompressedBytes) {
      throw unreadable(
        `the document would inflate to more than ${limits.maxUncompressedBytes} bytes`,
        'zip_bomb',
      );
    }
    const ratio = entry.uncompressedSize / Math.max(entry.compressedSize, 1);
    if (entry.uncompressedSize > 1024 * 1024 && ratio > limits.maxCompressionRatio) {
      throw unreadable(
        `the entry ${JSON.stringify(entry.name)} is compressed ${Math.round(ratio)} to 1`,
        'zip_bomb',
      );
    }
  }
  for (const entry of entries) await checkEntryInflates(bytes, entry);
}

function readCentralDirectory(bytes: Uint8Array, limits: Required<ExtractOptions>): ZipEntry[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const corrupt = (what: string) => unreadable(`the DOCX is not a readable ZIP (${what})`, 'corrupt');
  // The end-of-central-directory record is 22 bytes plus a comment of at most 65,535.
  let eocd = -1;
  for (let at = bytes.length - 22; at >= Math.max(0, bytes.length - 22 - 65_535); at--) {
    if (view.getUint32(at, true) === EOCD_SIGNATURE) {
      eocd = at;
      break;
    }
  }
  if (eocd < 0) throw corrupt('no end of central directory');
  const count = view.getUint16(eocd + 10, true);
  const directorySize = view.getUint32(eocd + 12, true);
  const directoryOffset = view.getUint32(eocd + 16, true);
  if (count === 0xffff || directoryOffset === 0xffffffff) {
    throw unreadable('the DOCX uses ZIP64, which a document never needs', 'zip_bomb');
  }
  if (count > limits.maxZipEntries) {
    throw unreadable(`the DOCX has ${count} entries, over ${limits.maxZipEntries}`, 'zip_bomb');
  }
  if (directoryOffset + directorySize > eocd) throw corrupt('central directory out of bounds');
  const entries: ZipEntry[] = [];
  let at = directoryOffset;
  for (let index = 0; index < count; index++) {
    if (at + 46 > eocd || view.getUint32(at, true) !== CENTRAL_SIGNATURE) {
      throw corrupt('bad central directory entry');
    }
    const nameLength = view.getUint16(at + 28, true);
    const extraLength = view.getUint16(at + 30, true);
    const commentLength = view.getUint16(at + 32, true);
    const entry: ZipEntry = {
      method: view.getUint16(at + 10, true),
      compressedSize: view.getUint32(at + 20, true),
      uncompressedSize: view.getUint32(at + 24, true),
      localHeaderOffset: view.getUint32(at + 42, true),
      name: new TextDecoder().decode(bytes.subarray(at + 46, at + 46 + nameLength)),
    };
    if (entry.compressedSize === 0xffffffff || entry.uncompressedSize === 0xffffffff) {
      throw unreadable('the DOCX uses ZIP64, which a document never needs', 'zip_bomb');
    }
    entries.push(entry);
    at += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

async function checkEntryInflates(bytes: Uint8Array, entry: ZipEntry): Promise<void> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const at = entry.localHeaderOffset;
  if (at + 30 > bytes.length || view.getUint32(at, true) !== LOCAL_SIGNATURE) {
    throw unreadable(`the DOCX entry ${JSON.stringify(entry.name)} is missing`, 'corrupt');
  }
  const start = at + 30 + view.getUint16(at + 26, true) + view.getUint16(at + 28, true);
  const end = start + entry.compressedSize;
  if (end > bytes.length) {
    throw unreadable(`the DOCX entry ${JSON.stringify(entry.name)} is truncated`, 'corrupt');
  }
  if (entry.method === 0) {
    if (entry.compressedSize !== entry.uncompressedSize) {
      throw unreadable(`the DOCX entry ${JSON.stringify(entry.name)} is damaged`, 'corrupt');
    }
    return;
  }
  if (entry.method !== 8) {
    throw unreadable(`the DOCX entry ${JSON.stringify(entry.name)} uses an unknown compression`, 'corrupt');
  }
  try {
    // zlib stops with a RangeError past maxOutputLength: a lying size never inflates in full.
    await inflateRawAsync(bytes.subarray(start, end), {
      maxOutputLength: Math.max(entry.uncompressedSize, 1),
    });
  } catch (error) {
    const lied = error instanceof RangeError || (error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE';
    throw unreadable(
      lied
        ? `the DOCX entry ${JSON.stringify(entry.name)} inflates past its declared size`
        : `the DOCX entry ${JSON.stringify(entry.name)} is damaged`,
      lied ? 'zip_bomb' : 'corrupt',
      error,
    );
  }
}

// ---------------------------------------------------------------------------------------------- html

const SKIPPED_ELEMENTS = new Set([
  'script',
  'style',
  'noscript',
  'template',
  'svg',
  'head',
  'iframe',
  'object',
]);
const BLOCK_ELEMENTS = new Set([
  'address',
  'article',
  'aside',
  'blockquote',
  'body',
  'br',
  'dd',
  'details',
  'div',
  'dl',
  'dt',
  'figcaption',
  'figure',
  'footer',
  'form',
  'header',
  'hr',
  'html',
  'li',
  'main',
  'nav',
  'ol',
  'p',
  'pre',
  'section',
  'summary',
  'table',
  'tbody',
  'td',
  'tfoot',
  'th',
  'thead',
  'title',
  'tr',
  'ul',
]);

/**
 * Text of an HTML document, split at its headings. A single left-to-right scan (no DOM, no regex over
 * the markup), so hostile markup costs linear time: comments, `<script>`, `<style>` and the like are
 * skipped whole, block elements end a paragraph, entities are decoded.
 */
export function htmlToSections(html: string): Section[] {
  const builder = new SectionBuilder(tidyWhitespace);
  // Lower-cased once, to find closing tags case-blind without rescanning per element.
  const lower = html.toLowerCase();
  let heading: { level: number; text: string } | null = null;
  let index = 0;
  const emitText = (raw: string) => {
    const text = decodeEntities(raw);
    if (heading) heading.text += text;
    else builder.append(text);
  };
  while (index < html.length) {
    const open = html.indexOf('<', index);
    if (open < 0) {
      emitText(html.slice(index));
      break;
    }
    if (open > index) emitText(html.slice(index, open));
    if (html.startsWith('<!--', open)) {
      const close = html.indexOf('-->', open + 4);
      index = close < 0 ? html.length : close + 3;
      continue;
    }
    const tag = readTag(html, open);
    if (!tag) {
      // A lone '<' is text.
      emitText('<');
      index = open + 1;
      continue;
    }
    index = tag.end;
    if (!tag.closing && SKIPPED_ELEMENTS.has(tag.name) && !tag.selfClosing) {
      index = skipElement(lower, index, tag.name);
      continue;
    }
    const level = /^h[1-6]$/.test(tag.name) ? Number(tag.name[1]) : 0;
    if (level > 0) {
      if (!tag.closing) {
        heading = { level, text: '' };
      } else if (heading) {
        builder.heading(heading.level, tidyInline(heading.text));
        heading = null;
      }
      continue;
    }
    if (BLOCK_ELEMENTS.has(tag.name)) {
      // A block opening inside a heading means the heading was never closed (`<h1>Title<p>…`): end it
      // there, or the rest of the page would become its title.
      if (heading && !tag.closing && tag.name !== 'br') {
        builder.heading(heading.level, tidyInline(heading.text));
        heading = null;
      }
      if (heading) heading.text += ' ';
      else if (tag.name === 'br') builder.append('\n');
      // A list item or table row is a line of its own; only its opening says so, or lists double-space.
      else if (tag.name === 'li' || tag.name === 'tr') builder.append(tag.closing ? '' : '\n');
      else builder.append('\n\n');
    } else if (tag.name === 'td' || tag.name === 'th') {
      builder.append(' ');
    }
  }
  if (heading) builder.heading(heading.level, tidyInline(heading.text));
  return builder.finish();
}

interface Tag {
  name: string;
  closing: boolean;
  selfClosing: boolean;
  end: number;
}

/** Reads the tag opening at `open`, quoted attribute values included; null when it is not a tag. */
function readTag(html: string, open: number): Tag | null {
  let at = open + 1;
  const closing = html[at] === '/';
  if (closing) at++;
  if (html[at] === '!' || html[at] === '?') {
    // Doctype or processing instruction.
    const close = html.indexOf('>', at);
    return { name: '!', closing: false, selfClosing: true, end: close < 0 ? html.length : close + 1 };
  }
  const nameStart = at;
  while (at < html.length && /[A-Za-z0-9:-]/.test(html[at]!)) at++;
  if (at === nameStart) return null;
  const name = html.slice(nameStart, at).toLowerCase();
  let quote = '';
  for (; at < html.length; at++) {
    const char = html[at];
    if (quote) {
      if (char === quote) quote = '';
    } else if (char === '"' || char === "'") {
      quote = char;
    } else if (char === '>') {
      return { name, closing, selfClosing: html[at - 1] === '/', end: at + 1 };
    }
  }
  return { name, closing, selfClosing: true, end: html.length };
}

/** The index after `</name>`, or the end of the input: a script's content is never text. */
function skipElement(lower: string, from: number, name: string): number {
  const close = lower.indexOf(`</${name}`, from);
  if (close < 0) return lower.length;
  const end = lower.indexOf('>', close);
  return end < 0 ? lower.length : end + 1;
}

const NAMED_ENTITIES: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: '\u00a0',
  copy: '©',
  reg: '®',
  trade: '™',
  hellip: '…',
  mdash: '—',
  ndash: '–',
  lsquo: '‘',
  rsquo: '’',
  ldquo: '“',
  rdquo: '”',
  laquo: '«',
  raquo: '»',
  bull: '•',
  middot: '·',
  deg: '°',
  euro: '€',
  pound: '£',
  yen: '¥',
  cent: '¢',
  sect: '§',
  para: '¶',
  times: '×',
  divide: '÷',
  shy: '',
};

/** Decodes numeric and common named character references; unknown names stay as written. */
export function decodeEntities(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(
    /&(#[0-9]{1,8}|#[xX][0-9a-fA-F]{1,8}|[A-Za-z][A-Za-z0-9]{1,31});/g,
    (whole, body: string) => {
      if (body.startsWith('#')) {
        const code =
          body[1] === 'x' || body[1] === 'X' ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
        const valid = code > 0 && code <= 0x10ffff && (code < 0xd800 || code > 0xdfff);
        return valid ? String.fromCodePoint(code) : '\ufffd';
      }
      return NAMED_ENTITIES[body] ?? NAMED_ENTITIES[body.toLowerCase()] ?? whole;
    },
  );
}

// ------------------------------------------------------------------------------------------ markdown

/**
 * Markdown split at its ATX (`## Title`) and setext (`Title` over `===`/`---`) headings. Lines inside
 * fenced code blocks are never headings. The Markdown itself is kept: it is what a model reads best.
 */
export function markdownToSections(markdown: string): Section[] {
  // Indentation is meaning in Markdown (code, nested lists): only trailing spaces and blank runs go.
  const builder = new SectionBuilder(tidyBlankLines);
  const lines = normaliseNewlines(markdown).split('\n');
  let fence = '';
  let paragraphLines = 0;
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index]!;
    const trimmed = line.trimStart();
    const indent = line.length - trimmed.length;
    if (fence) {
      if (trimmed.startsWith(fence)) fence = '';
      builder.append(line + '\n');
      continue;
    }
    if (indent < 4 && (trimmed.startsWith('```') || trimmed.startsWith('~~~'))) {
      fence = trimmed.slice(0, 3);
      paragraphLines = 0;
      builder.append(line + '\n');
      continue;
    }
    const atx = indent < 4 ? atxHeading(trimmed) : null;
    if (atx) {
      builder.heading(atx.level, atx.text);
      paragraphLines = 0;
      continue;
    }
    const next = lines[index + 1];
    const setext = next !== undefined && paragraphLines === 0 && trimmed !== '' ? setextLevel(next) : 0;
    if (setext > 0 && indent < 4) {
      builder.heading(setext, trimmed.trim());
      index++;
      continue;
    }
    paragraphLines = trimmed === '' ? 0 : paragraphLines + 1;
    builder.append(line + '\n');
  }
  return builder.finish();
}

function atxHeading(line: string): { level: number; text: string } | null {
  let level = 0;
  while (level < line.length && line[level] === '#') level++;
  if (level < 1 || level > 6) return null;
  if (level < line.length && line[level] !== ' ' && line[level] !== '\t') return null;
  let text = line.slice(level).trim();
  // An optional closing run of '#', when separated by a space.
  let end = text.length;
  while (end > 0 && text[end - 1] === '#') end--;
  if (end === 0) text = '';
  else if (end < text.length && (text[end - 1] === ' ' || text[end - 1] === '\t'))
    text = text.slice(0, end).trim();
  return { level, text };
}

function setextLevel(line: string): number {
  const trimmed = line.trim();
  if (trimmed.length === 0 || line.length - line.trimStart().length >= 4) return 0;
  const char = trimmed[0];
  if (char !== '=' && char !== '-') return 0;
  for (const c of trimmed) if (c !== char) return 0;
  return char === '=' ? 1 : 2;
}

// ----------------------------------------------------------------------------------------------- csv

/**
 * CSV (RFC 4180 quoting; comma, semicolon or tab, whichever the first line uses most) as one line
 * per row, each value named by its column: `name: Ada | born: 1815`, so a chunk of rows still says
 * what its numbers are.
 */
export function csvToText(csv: string): string {
  const firstLine = csv.slice(0, csv.indexOf('\n') < 0 ? csv.length : csv.indexOf('\n'));
  const delimiter = [',', ';', '\t'].reduce((best, candidate) =>
    firstLine.split(candidate).length > firstLine.split(best).length ? candidate : best,
  );
  const rows = parseCsv(csv, delimiter);
  const header = rows[0];
  if (!header) return '';
  const lines: string[] = [];
  for (const row of rows.slice(1)) {
    const cells: string[] = [];
    for (const [column, raw] of row.entries()) {
      // A row stays one line: newlines inside a quoted value become spaces. Empty values say nothing.
      const value = raw.replace(/\s+/g, ' ').trim();
      if (value === '') continue;
      const name = header[column]?.replace(/\s+/g, ' ').trim();
      cells.push(name ? `${name}: ${value}` : value);
    }
    if (cells.length > 0) lines.push(cells.join(' | '));
  }
  return rows.length === 1 ? header.join(' | ') : lines.join('\n');
}

function parseCsv(csv: string, delimiter: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let at = 0; at < csv.length; at++) {
    const char = csv[at]!;
    if (quoted) {
      if (char !== '"') field += char;
      else if (csv[at + 1] === '"') {
        field += '"';
        at++;
      } else quoted = false;
    } else if (char === '"' && field === '') {
      quoted = true;
    } else if (char === delimiter) {
      row.push(field);
      field = '';
    } else if (char === '\n' || char === '\r') {
      if (char === '\r' && csv[at + 1] === '\n') at++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else {
      field += char;
    }
  }
  if (field !== '' || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows.filter((cells) => cells.some((cell) => cell.trim() !== ''));
}

// ------------------------------------------------------------------------------------------- shared

const MAX_HEADING_CHARS = 200;

/** Collects text into sections, opening a new one at each heading with the heading path it sits under. */
class SectionBuilder {
  readonly #tidy: (text: string) => string;
  #sections: Section[] = [];
  #path: { level: number; text: string }[] = [];
  #text = '';

  constructor(tidy: (text: string) => string) {
    this.#tidy = tidy;
  }

  append(text: string): void {
    this.#text += text;
  }

  heading(level: number, rawText: string): void {
    this.#flush();
    // A heading is a label in a citation, not content: a runaway one is cut.
    const text = rawText.length > MAX_HEADING_CHARS ? `${rawText.slice(0, MAX_HEADING_CHARS)}…` : rawText;
    while (this.#path.length > 0 && this.#path.at(-1)!.level >= level) this.#path.pop();
    if (text !== '') this.#path.push({ level, text });
  }

  finish(): Section[] {
    this.#flush();
    return this.#sections;
  }

  #flush(): void {
    const text = this.#tidy(this.#text);
    this.#text = '';
    if (text !== '') this.#sections.push({ text, headings: this.#path.map((entry) => entry.text) });
  }
}

/** Spaces collapsed within lines, lines trimmed, at most one blank line in a row. Linear. */
function tidyWhitespace(text: string): string {
  return normaliseNewlines(text)
    .replace(/[^\S\n]+/g, ' ')
    .replace(/ ?\n ?/g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

/** Trailing spaces removed, at most one blank line in a row; indentation kept. Linear. */
function tidyBlankLines(text: string): string {
  // trimEnd per line, not a regex: `[ \t]+\n` rescans a long run of spaces at each start (quadratic).
  const lines = normaliseNewlines(text)
    .split('\n')
    .map((line) => line.trimEnd());
  return lines
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .replace(/^\n+/, '')
    .trimEnd();
}

function tidyInline(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}
