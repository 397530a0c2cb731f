import { describe, expect, it } from 'vitest';
import { hintFor } from '../src/vault/cipher.ts';

describe('the hint shown for a stored secret', () => {
  it('shows none of a short secret', () => {
    // The example: `password-123` was shown as `password…-123`, all 12 characters.
    expect(hintFor('password-123')).toBe('…');
    expect(hintFor('hunter2')).toBe('…');
    expect(hintFor('fifteen-chars!!')).toBe('…');
    // A public prefix does not count towards the 16.
    expect(hintFor('sk-short-key-123')).toBe('…');
  });

  it('shows at most the last 4 characters, after a public provider prefix only', () => {
    const openai = 'sk-proj-' + 'a1b2c3d4e5f6a7b8c9d0';
    expect(hintFor(openai)).toBe('sk-proj-…c9d0');
    expect(hintFor('sk-' + '0123456789abcdef')).toBe('sk-…cdef');
    expect(hintFor('gsk_' + 'Zx9'.repeat(10))).toBe('gsk_…9Zx9');
    // A word before a dash is part of the secret, not a prefix: it is not shown.
    expect(hintFor('password-1234567')).toBe('…4567');
    expect(hintFor('correct-horse-battery-staple')).toBe('…aple');
  });

  it('never shows more than 4 characters that are not a public prefix', () => {
    for (const secret of [
      'sk-ant-api03-' + 'q'.repeat(30),
      'x'.repeat(16),
      'abc-def_ghi-jkl-mno',
      'AIza' + 'Sy'.repeat(18),
    ]) {
      const hint = hintFor(secret);
      const shownBeforeEllipsis = hint.slice(0, hint.indexOf('…'));
      const shownAfter = hint.slice(hint.indexOf('…') + 1);
      expect(['', 'sk-ant-', 'AIza']).toContain(shownBeforeEllipsis);
      expect(shownAfter.length).toBeLessThanOrEqual(4);
    }
  });
});
