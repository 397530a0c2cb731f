import { describe, expect, it } from 'vitest';
import { ApiError } from '../api/client.ts';
import {
  citationLabel,
  dragHasFiles,
  formatSize,
  pollDelay,
  splitCitations,
  uploadErrorText,
} from './knowledge.ts';

const citation = { fileName: 'report.pdf', page: 37, headings: [] as string[], passageId: '12' };

describe('citationLabel', () => {
  it('names the page of a PDF, the heading path of a document without pages, the file alone otherwise', () => {
    expect(citationLabel(citation)).toBe('report.pdf, p. 37');
    expect(
      citationLabel({ ...citation, fileName: 'guide.md', page: null, headings: ['Install', 'On Linux'] }),
    ).toBe('guide.md — Install › On Linux');
    expect(citationLabel({ ...citation, page: null })).toBe('report.pdf');
  });

  it('names only the file of a whole-file citation, whatever else it carries', () => {
    expect(citationLabel({ ...citation, passageId: null })).toBe('report.pdf');
  });
});

describe('splitCitations', () => {
  it('cuts the text at markers of known sources only', () => {
    expect(splitCitations('Revenue rose [1][2], see [x] and [9].', new Set([1, 2]))).toEqual([
      'Revenue rose ',
      { n: 1 },
      { n: 2 },
      ', see [x] and [9].',
    ]);
    expect(splitCitations('[3]', new Set([3]))).toEqual([{ n: 3 }]);
    expect(splitCitations('no markers', new Set([1]))).toEqual(['no markers']);
  });
});

describe('pollDelay', () => {
  it('polls while a file is queued, parsing or embedding, and stops once all are ready or failed', () => {
    expect(pollDelay([{ status: 'ready' }, { status: 'embedding' }])).toBe(1000);
    expect(pollDelay([{ status: 'queued' }])).toBe(1000);
    expect(pollDelay([{ status: 'ready' }, { status: 'failed' }])).toBeNull();
    expect(pollDelay([])).toBeNull();
  });
});

describe('uploadErrorText', () => {
  it("names the file and keeps the server's reason, by code", () => {
    expect(
      uploadErrorText(
        'setup.pdf',
        new ApiError(415, 'unsupported_media_type', 'This is a Windows executable (MZ header).'),
      ),
    ).toBe('"setup.pdf" is not a type Keyway accepts. This is a Windows executable (MZ header).');
    expect(
      uploadErrorText(
        'big.pdf',
        new ApiError(413, 'payload_too_large', 'The file is larger than the limit.'),
      ),
    ).toBe('"big.pdf" is too large. The file is larger than the limit.');
    expect(
      uploadErrorText(
        'locked.pdf',
        new ApiError(422, 'file_unreadable', 'The PDF needs a password.', { reason: 'encrypted' }),
      ),
    ).toBe('"locked.pdf" cannot be read (encrypted). The PDF needs a password.');
    expect(uploadErrorText('a.txt', new TypeError('Failed to fetch'))).toBe(
      '"a.txt" was not uploaded: Failed to fetch',
    );
  });
});

describe('drags and sizes', () => {
  it('sees files in a drag by its types, and words sizes', () => {
    expect(dragHasFiles({ types: ['Files'] } as unknown as DataTransfer)).toBe(true);
    expect(dragHasFiles({ types: ['text/plain'] } as unknown as DataTransfer)).toBe(false);
    expect(dragHasFiles(null)).toBe(false);
    expect(formatSize(512)).toBe('512 B');
    expect(formatSize(12 * 1024)).toBe('12 KB');
    expect(formatSize(3.4 * 1024 * 1024)).toBe('3.4 MB');
  });
});
