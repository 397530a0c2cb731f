import { EXTRACT_DEFAULTS } from './extract.ts';
import { unreadable } from './unreadable.ts';
import { checkZip } from './zip-check.ts';

const DOCX = 'application/vnd.openxmlformats-officedocument.wordprocessingml.document';
/** `/Encrypt` as a dictionary key: followed by a reference (`4 0 R`) or an inline dictionary. */
const ENCRYPT_KEY = /\/Encrypt\s*(?:\d+\s+\d+\s+R|<<)/;

/**
 * What can be known about a document cheaply, at upload, before it is stored: a password-protected
 * PDF or a DOCX that would inflate like a zip bomb is refused with `file_unreadable` (422) and the
 * reason, instead of being stored and failing later in every knowledge base or chat it is added to.
 * The full read (every page, every entry's text) still happens at ingestion, bounded as there.
 */
export async function checkDocumentAtUpload(bytes: Uint8Array, mediaType: string): Promise<void> {
  if (mediaType === 'application/pdf') {
    if (ENCRYPT_KEY.test(lastTrailer(bytes)))
      throw unreadable('the PDF is encrypted with a password; upload a copy without one', 'encrypted');
  } else if (mediaType === DOCX) {
    await checkZip(bytes, EXTRACT_DEFAULTS);
  }
}

const WINDOW = 4096;

/**
 * The text where a PDF's last trailer dictionary is: the file's tail (a classic trailer sits just
 * before `startxref`) and the object `startxref` points at (a cross-reference stream's dictionary).
 * Only there, so a document that merely quotes "/Encrypt" in its text is not taken for encrypted.
 * Both are plain bytes even in an encrypted file; latin1 maps each byte to one character.
 */
function lastTrailer(bytes: Uint8Array): string {
  const text = (from: number, to: number) =>
    Buffer.from(bytes.buffer, bytes.byteOffset + from, Math.max(0, to - from)).toString('latin1');
  const tail = text(Math.max(0, bytes.length - WINDOW), bytes.length);
  const offset = Number(/startxref\s+(\d+)\s+%%EOF\s*$/.exec(tail)?.[1] ?? NaN);
  const pointed =
    Number.isSafeInteger(offset) && offset < bytes.length
      ? text(offset, Math.min(bytes.length, offset + WINDOW))
      : '';
  return `${pointed}\n${tail}`;
}
