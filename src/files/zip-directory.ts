/**
 * A ZIP's central directory, read from its end-of-central-directory record without inflating anything
 * and bounded in every step: what the upload check (is this a DOCX?) and the zip-bomb check (what would
 * it inflate to?) both read.
 */

export interface ZipEntry {
  name: string;
  /** 0 stored, 8 deflated. */
  method: number;
  compressedSize: number;
  uncompressedSize: number;
  localHeaderOffset: number;
}

/** The directory, or why it cannot be read. */
export type ZipDirectory =
  | { entries: ZipEntry[] }
  | {
      problem: 'no_directory' | 'zip64' | 'too_many_entries' | 'out_of_bounds' | 'bad_entry';
      count?: number;
    };

const EOCD_SIGNATURE = 0x06054b50;
const CENTRAL_SIGNATURE = 0x02014b50;
/** The end-of-central-directory record is 22 bytes, followed by a comment of at most 65,535. */
const EOCD_SIZE = 22;
const names = new TextDecoder('utf-8');

export function readZipDirectory(bytes: Uint8Array, maxEntries: number): ZipDirectory {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let eocd = -1;
  for (let at = bytes.length - EOCD_SIZE; at >= Math.max(0, bytes.length - EOCD_SIZE - 0xffff); at--) {
    if (view.getUint32(at, true) === EOCD_SIGNATURE) {
      eocd = at;
      break;
    }
  }
  if (eocd < 0) return { problem: 'no_directory' };
  const count = view.getUint16(eocd + 10, true);
  const size = view.getUint32(eocd + 12, true);
  const offset = view.getUint32(eocd + 16, true);
  if (count === 0xffff || offset === 0xffffffff) return { problem: 'zip64' };
  if (count > maxEntries) return { problem: 'too_many_entries', count };
  if (offset + size > eocd) return { problem: 'out_of_bounds' };
  const entries: ZipEntry[] = [];
  let at = offset;
  for (let index = 0; index < count; index++) {
    if (at + 46 > offset + size || view.getUint32(at, true) !== CENTRAL_SIGNATURE)
      return { problem: 'bad_entry' };
    const nameLength = view.getUint16(at + 28, true);
    const extraLength = view.getUint16(at + 30, true);
    const commentLength = view.getUint16(at + 32, true);
    const end = at + 46 + nameLength;
    if (end > offset + size) return { problem: 'bad_entry' };
    const entry: ZipEntry = {
      method: view.getUint16(at + 10, true),
      compressedSize: view.getUint32(at + 20, true),
      uncompressedSize: view.getUint32(at + 24, true),
      localHeaderOffset: view.getUint32(at + 42, true),
      name: names.decode(bytes.subarray(at + 46, end)),
    };
    if (entry.compressedSize === 0xffffffff || entry.uncompressedSize === 0xffffffff)
      return { problem: 'zip64' };
    entries.push(entry);
    at = end + extraLength + commentLength;
  }
  return { entries };
}
