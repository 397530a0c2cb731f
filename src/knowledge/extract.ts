/**
 * Turns a stored file's bytes into text with its structure kept: one section per PDF page, one per
 * heading for Markdown, DOCX and HTML. Pure: no database, no network; the caller has already detected
 * the type by magic bytes and bounded the size. Every file is hostile, so everything a parser would
 * expand (pages, inflated ZIP entries, extracted characters) is bounded before or while it is read, and
 * a file that cannot be read answers `file_unreadable` with the reason, never a library's stack.
 */
import { csvToText } from './csv-text.ts';
import { extractDocx } from './docx-text.ts';
import { htmlToSections } from './html-text.ts';
import { markdownToSections } from './markdown-text.ts';
import { extractPdf } from './pdf-text.ts';
import { decodeUtf8, nonEmpty, normaliseNewlines, type Section } from './sections.ts';
import { unreadable } from './unreadable.ts';

export type { Section } from './sections.ts';
export { decodeUtf8 } from './sections.ts';

export type DocumentType = 'pdf' | 'docx' | 'markdown' | 'text' | 'html' | 'csv' | 'code';

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
