import { describe, expect, it } from 'vitest';
import { markdownToSections } from './markdown-text.ts';

describe('markdownToSections', () => {
  it('does not read a line indented four spaces as a heading', () => {
    expect(markdownToSections('    # code, not a title\ntext')).toEqual([
      { text: '    # code, not a title\ntext', headings: [] },
    ]);
  });

  it('does not read the second line of a paragraph over “---” as a setext heading', () => {
    const sections = markdownToSections('one\ntwo\n---\nafter');
    expect(sections.every((section) => section.headings.length === 0)).toBe(true);
  });

  it('keeps a “#” that is part of the title, and drops an empty heading from the path', () => {
    expect(markdownToSections('# C# basics\nbody\n## ##\nmore')).toEqual([
      { text: 'body', headings: ['C# basics'] },
      { text: 'more', headings: ['C# basics'] },
    ]);
  });

  it('ends a ~~~ fence only at ~~~, so a ``` inside it is text', () => {
    const sections = markdownToSections('~~~\n```\n# inside\n~~~\n# Outside\nx');
    expect(sections).toEqual([
      { text: '~~~\n```\n# inside\n~~~', headings: [] },
      { text: 'x', headings: ['Outside'] },
    ]);
  });
});
