import { describe, expect, it } from 'vitest';
import { csvToText } from './csv-text.ts';

describe('csvToText', () => {
  it('picks the tab when the first line uses it most', () => {
    expect(csvToText('a\tb\tc,d\n1\t2\t3,4\n')).toBe('a: 1 | b: 2 | c,d: 3,4');
  });

  it('reads a header alone as that header', () => {
    expect(csvToText('name,city\n')).toBe('name | city');
  });

  it('gives a value past the header its bare value', () => {
    expect(csvToText('name\nAda,extra')).toBe('name: Ada | extra');
  });

  it('is empty for empty input', () => {
    expect(csvToText('')).toBe('');
  });
});
