/**
 * Zip-bomb checks for a DOCX, before any library inflates it: the sizes its central directory declares
 * (in all, per entry, as a ratio), then every entry inflated with its declared size as a hard ceiling,
 * so a ZIP that lies about its sizes stops at the lie. Reads the bytes it is given; writes nothing.
 */
import { promisify } from 'node:util';
import { inflateRaw } from 'node:zlib';
import { readZipDirectory, type ZipEntry } from '../files/zip-directory.ts';
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
  const corrupt = (what: string) => unreadable(`the DOCX is not a readable ZIP (${what})`, 'corrupt');
  const directory = readZipDirectory(bytes, limits.maxZipEntries);
  if ('entries' in directory) return directory.entries;
  switch (directory.problem) {
    case 'no_directory':
      throw corrupt('no end of central directory');
    case 'zip64':
      throw unreadable('the DOCX uses ZIP64, which a document never needs', 'zip_bomb');
    case 'too_many_entries':
      throw unreadable(`the DOCX has ${directory.count} entries, over ${limits.maxZipEntries}`, 'zip_bomb');
    case 'out_of_bounds':
      throw corrupt('central directory out of bounds');
    case 'bad_entry':
      throw corrupt('bad central directory entry');
  }
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
