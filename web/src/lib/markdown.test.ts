import { describe, expect, it } from 'vitest';
import { inlineText, parseInline, parseMarkdown, safeHref } from './markdown.ts';

describe('parseMarkdown', () => {
  it('parses headings, paragraphs, rules and fenced code with its language', () => {
    const blocks = parseMarkdown('# Title\n\nSome *text*\nnext line\n\n---\n\n```ts\nconst a = 1;\n```\n');
    expect(blocks.map((block) => block.type)).toEqual(['heading', 'paragraph', 'hr', 'code']);
    expect(blocks[3]).toEqual({ type: 'code', lang: 'ts', text: 'const a = 1;', closed: true });
  });

  it('treats an unclosed fence (a reply still streaming) as code to the end', () => {
    const blocks = parseMarkdown('Here:\n```python\nprint(1)\nprint(2');
    expect(blocks[1]).toEqual({ type: 'code', lang: 'python', text: 'print(1)\nprint(2', closed: false });
  });

  it('keeps markdown inside code untouched', () => {
    const blocks = parseMarkdown('```\n# not a heading\n**not bold**\n```');
    expect(blocks).toEqual([{ type: 'code', lang: '', text: '# not a heading\n**not bold**', closed: true }]);
  });

  it('parses ordered and unordered lists, nested lists and item continuation', () => {
    const blocks = parseMarkdown('1. one\n2. two\n   - a\n   - b\n3. three\n\n- x\n- y');
    expect(blocks).toHaveLength(2);
    const ordered = blocks[0]!;
    if (ordered.type !== 'list') throw new Error('not a list');
    expect(ordered.ordered).toBe(true);
    expect(ordered.items).toHaveLength(3);
    expect(ordered.items[1]!.map((b) => b.type)).toEqual(['paragraph', 'list']);
    const bullets = blocks[1]!;
    expect(bullets.type === 'list' && !bullets.ordered && bullets.items.length).toBe(2);
  });

  it('keeps the start number of an ordered list', () => {
    const [list] = parseMarkdown('3. c\n4. d');
    expect(list?.type === 'list' && list.start).toBe(3);
  });

  it('parses quotes and tables with alignment', () => {
    const blocks = parseMarkdown('> quoted\n> more\n\n| a | b |\n|:--|--:|\n| 1 | 2 |\n| 3 |');
    expect(blocks[0]?.type).toBe('quote');
    const table = blocks[1]!;
    if (table.type !== 'table') throw new Error('not a table');
    expect(table.align).toEqual(['left', 'right']);
    expect(table.rows.map((row) => row.map((cell) => inlineText(cell)))).toEqual([
      ['1', '2'],
      ['3', ''],
    ]);
  });
});

describe('parseInline', () => {
  it('parses emphasis, code spans, strikethrough and escapes', () => {
    expect(parseInline('**bold** and *it* and `co*de` ~~gone~~ \\*lit\\*')).toEqual([
      { type: 'strong', children: [{ type: 'text', text: 'bold' }] },
      { type: 'text', text: ' and ' },
      { type: 'em', children: [{ type: 'text', text: 'it' }] },
      { type: 'text', text: ' and ' },
      { type: 'code', text: 'co*de' },
      { type: 'text', text: ' ' },
      { type: 'del', children: [{ type: 'text', text: 'gone' }] },
      { type: 'text', text: ' *lit*' },
    ]);
  });

  it('leaves snake_case and lone asterisks alone', () => {
    expect(inlineText(parseInline('a snake_case_name and 2 * 3 * 4'))).toBe(
      'a snake_case_name and 2 * 3 * 4',
    );
    expect(parseInline('snake_case_name')).toEqual([{ type: 'text', text: 'snake_case_name' }]);
  });

  it('makes links of safe targets only', () => {
    expect(parseInline('[docs](https://example.com/a_(b)) and https://x.org/p.')).toEqual([
      { type: 'link', href: 'https://example.com/a_(b)', children: [{ type: 'text', text: 'docs' }] },
      { type: 'text', text: ' and ' },
      { type: 'link', href: 'https://x.org/p', children: [{ type: 'text', text: 'https://x.org/p' }] },
      { type: 'text', text: '.' },
    ]);
    expect(parseInline('[click](javascript:alert(1))')).toEqual([{ type: 'text', text: 'click' }]);
    expect(safeHref('data:text/html,x')).toBeNull();
    expect(safeHref('//evil.example')).toBeNull();
    expect(safeHref('/chat')).toBe('/chat');
  });

  it('never produces markup from HTML in the text', () => {
    const nodes = parseInline('<img src=x onerror=alert(1)> <script>');
    expect(nodes).toEqual([{ type: 'text', text: '<img src=x onerror=alert(1)> <script>' }]);
  });

  it('turns single newlines into line breaks', () => {
    expect(parseInline('a\nb').map((node) => node.type)).toEqual(['text', 'br', 'text']);
  });
});
