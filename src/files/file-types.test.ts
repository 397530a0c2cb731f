import JSZip from 'jszip';
import { describe, expect, it } from 'vitest';
import { KeywayError } from '../errors.ts';
import { detectFileType, extensionOf, zipEntryNames } from './file-types.ts';

const text = (value: string) => new TextEncoder().encode(value);

function refusal(bytes: Uint8Array, name: string): string {
  try {
    detectFileType(bytes, name);
  } catch (error) {
    expect(error).toBeInstanceOf(KeywayError);
    expect((error as KeywayError).code).toBe('unsupported_media_type');
    return (error as KeywayError).message;
  }
  throw new Error(`${name} was accepted`);
}

describe('file types', () => {
  it('reads extensions case-insensitively; a leading dot is a name, not an extension', () => {
    expect(extensionOf('Report.PDF')).toBe('pdf');
    expect(extensionOf('.bashrc')).toBe('');
    expect(extensionOf('Makefile')).toBe('');
  });

  it('lets the extension choose among text kinds only', () => {
    expect(detectFileType(text('a,b'), 'x.csv').mediaType).toBe('text/csv');
    expect(detectFileType(text('a,b'), 'x.unknown').mediaType).toBe('text/plain');
    expect(detectFileType(text('fn main() {}'), 'main.rs').mediaType).toBe('text/x-rust');
    // A PDF named without an extension, or with one Keyway does not know, is still a PDF.
    expect(detectFileType(text('%PDF-1.7\n'), 'scan').mediaType).toBe('application/pdf');
    expect(detectFileType(text('%PDF-1.7\n'), 'scan.bin').mediaType).toBe('application/pdf');
  });

  it('refuses a document named as another document or as text', () => {
    expect(refusal(text('%PDF-1.7\n'), 'notes.txt')).toContain(
      'named as plain text but its content is a PDF',
    );
  });

  it('refuses Mach-O, WebAssembly, gzip and legacy Office files by their bytes', () => {
    expect(refusal(Uint8Array.from([0xcf, 0xfa, 0xed, 0xfe, 7, 0, 0, 1]), 'a.txt')).toContain('Mach-O');
    expect(refusal(Uint8Array.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]), 'a.md')).toContain('WebAssembly');
    expect(refusal(Uint8Array.from([0x1f, 0x8b, 8, 0]), 'a.csv')).toContain('gzip');
    expect(refusal(Uint8Array.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1]), 'a.docx')).toContain(
      'legacy Office',
    );
  });

  it('refuses a ZIP that lacks word/document.xml (an XLSX) and one whose directory is damaged', async () => {
    const xlsx = await new JSZip()
      .file('[Content_Types].xml', '<Types/>')
      .file('xl/workbook.xml', '<workbook/>')
      .generateAsync({ type: 'uint8array' });
    expect(refusal(xlsx, 'book.docx')).toContain('ZIP archive that is not a Word document');
    const docx = await new JSZip()
      .file('[Content_Types].xml', '<Types/>')
      .file('word/document.xml', '<document/>')
      .generateAsync({ type: 'uint8array' });
    expect(detectFileType(docx, 'a.docx').kind).toBe('document');
    // Truncated: the end record is gone, nothing is read past the bytes.
    expect(zipEntryNames(docx.subarray(0, docx.length - 10))).toBeUndefined();
    // A directory that claims to lie past its end record is not followed.
    const lying = docx.slice();
    const view = new DataView(lying.buffer);
    view.setUint32(lying.length - 22 + 16, 0xfffffff0, true);
    expect(zipEntryNames(lying)).toBeUndefined();
  });
});
