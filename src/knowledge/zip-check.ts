/**
 * Zip-bomb checks for a DOCX, before any library inflates it: the sizes its central directory declares
 * (in all, per entry, as a ratio), then every entry inflated with its declared size as a hard ceiling,
 * so a ZIP that lies about its sizes stops at the lie. Reads the bytes it is given; writes nothing.
 */
import { promisify } from 'node:util';
import { inflateRaw } from 'node:zlib';
import { unreadable } from './unreadable.ts';

const inflateRawAsync = promisify(inflateRaw);

/** The limits `checkZip` applies; `extractText`'s options carry them (`EXTRACT_DEFAULTS`). */
export interface ZipLimits {
  /** Sum of the entries' uncompressed sizes. */
  maxUncompressedBytes: number;
  /** Uncompressed / compressed ratio allowed for an entry over 1 MiB. */
  maxCompressionRatio: number;
  /** Entries in the ZIP. */
  maxZipEntries: number;
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
export async function checkZip(bytes: Uint8Array, limits: ZipLimits): Promise<void> {
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

function readCentralDirectory(bytes: Uint8Array, limits: ZipLimits): ZipEntry[] {
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
