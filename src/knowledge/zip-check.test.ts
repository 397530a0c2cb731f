import JSZip from 'jszip';
import { describe, expect, it } from 'vitest';
import { buildDocx, declareUncompressedSize } from '../../test/support/documents.ts';
import { KeywayError } from '../errors.ts';
import { EXTRACT_DEFAULTS } from './extract.ts';
import { checkZip, type ZipLimits } from './zip-check.ts';

async function refusal(bytes: Uint8Array, limits: ZipLimits = EXTRACT_DEFAULTS) {
  const error: unknown = await checkZip(bytes, limits).then(
    () => null,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(KeywayError);
  return { reason: (error as KeywayError).details?.['reason'], message: (error as KeywayError).message };
}

describe('checkZip', () => {
  it('accepts an ordinary DOCX', async () => {
    await expect(checkZip(await buildDocx([{ text: 'hello' }]), EXTRACT_DEFAULTS)).resolves.toBeUndefined();
  });

  it('refuses more entries than the limit, by the count the directory declares', async () => {
    const docx = await buildDocx([{ text: 'hi' }], { 'a.txt': 'a', 'b.txt': 'b' });
    const { reason, message } = await refusal(docx, { ...EXTRACT_DEFAULTS, maxZipEntries: 4 });
    expect(reason).toBe('zip_bomb');
    // JSZip also writes the folders (`word/`, `_rels/`) as entries.
    expect(message).toMatch(/has \d+ entries, over 4/);
  });

  it('refuses a sum of declared sizes over the limit though each entry is small', async () => {
    const docx = await buildDocx([{ text: 'hi' }], { 'a.txt': 'a'.repeat(600), 'b.txt': 'b'.repeat(600) });
    const { reason } = await refusal(docx, { ...EXTRACT_DEFAULTS, maxUncompressedBytes: 1000 });
    expect(reason).toBe('zip_bomb');
  });

  it('refuses a stored (uncompressed) entry whose two sizes disagree as damaged', async () => {
    const zip = new JSZip();
    zip.file('stored.txt', 'plain text');
    const stored = await zip.generateAsync({ type: 'uint8array', compression: 'STORE' });
    const { reason, message } = await refusal(declareUncompressedSize(stored, 'stored.txt', 4));
    expect(reason).toBe('corrupt');
    expect(message).toContain('stored.txt');
  });

  it('refuses a ZIP whose central directory points past its end', async () => {
    const bytes = new Uint8Array(await buildDocx([{ text: 'hi' }]));
    const view = new DataView(bytes.buffer);
    // The end-of-central-directory record (no comment) is the last 22 bytes; offset 16 is where the
    // directory starts.
    view.setUint32(bytes.length - 22 + 16, bytes.length, true);
    const { reason, message } = await refusal(bytes);
    expect(reason).toBe('corrupt');
    expect(message).toMatch(/out of bounds/);
  });
});
