import { describe, expect, it } from 'vitest';
import { decodeEntities, htmlToSections } from './html-text.ts';

describe('decodeEntities', () => {
  it('decodes decimal, hex and named references, case-blind for names it knows', () => {
    expect(decodeEntities('&#65;&#x42;&#X43; &AMP; &hellip;')).toBe('ABC & …');
  });

  it('answers U+FFFD for a code point that cannot exist, and leaves unknown names as written', () => {
    expect(decodeEntities('&#xD800;|&#0;|&#x110000;|&bogus;|& amp;')).toBe(
      '\ufffd|\ufffd|\ufffd|&bogus;|& amp;',
    );
  });
});

describe('htmlToSections', () => {
  it('keeps a quoted “>” inside an attribute out of the text, and a lone “<” in it', () => {
    expect(htmlToSections('<p title="a > b">x < y</p>')).toEqual([{ text: 'x < y', headings: [] }]);
  });

  it('drops an unclosed script to the end of the input, never showing its code', () => {
    expect(htmlToSections('<p>Shown.</p><script>alert("hidden")')).toEqual([
      { text: 'Shown.', headings: [] },
    ]);
  });

  it('puts a table row on one line, its cells apart by a space', () => {
    expect(
      htmlToSections('<table><tr><th>Plan</th><th>Price</th></tr><tr><td>Pro</td><td>$20</td></tr></table>'),
    ).toEqual([{ text: 'Plan Price\nPro $20', headings: [] }]);
  });
});
