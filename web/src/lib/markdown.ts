/**
 * A small Markdown parser for chat replies: the subset models actually write (fenced code, headings,
 * lists, quotes, tables, rules, emphasis, code spans, links). It returns a tree, never HTML, so the
 * renderer builds elements and nothing a model writes can become markup. Unclosed fences (a reply
 * still streaming) are code up to the end.
 */

export type Inline =
  | { type: 'text'; text: string }
  | { type: 'code'; text: string }
  | { type: 'strong' | 'em' | 'del'; children: Inline[] }
  | { type: 'link'; href: string; children: Inline[] }
  | { type: 'br' };

export type Block =
  | { type: 'paragraph'; children: Inline[] }
  | { type: 'heading'; level: 1 | 2 | 3 | 4 | 5 | 6; children: Inline[] }
  | { type: 'code'; lang: string; text: string; closed: boolean }
  | { type: 'list'; ordered: boolean; start: number; items: Block[][] }
  | { type: 'quote'; children: Block[] }
  | { type: 'table'; align: ('left' | 'center' | 'right' | null)[]; head: Inline[][]; rows: Inline[][][] }
  | { type: 'hr' };

const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([^`\s]*)[^`]*$/;
const HEADING = /^ {0,3}(#{1,6})(?:\s+(.*?))?(?:\s+#+)?\s*$/;
const RULE = /^ {0,3}([-*_])(?:\s*\1){2,}\s*$/;
const QUOTE = /^ {0,3}> ?(.*)$/;
const ITEM = /^( {0,3})([-*+]|(\d{1,9})[.)])(?:\s+(.*))?$/;
const TABLE_DELIMITER = /^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$/;

/** Parses a Markdown document into blocks. */
export function parseMarkdown(source: string): Block[] {
  return parseLines(source.replace(/\r\n?/g, '\n').split('\n'));
}

function startsBlock(line: string, next: string | undefined): boolean {
  return (
    FENCE.test(line) ||
    HEADING.test(line) ||
    RULE.test(line) ||
    QUOTE.test(line) ||
    ITEM.test(line) ||
    (line.includes('|') && next !== undefined && TABLE_DELIMITER.test(next) && next.includes('-'))
  );
}

function parseLines(lines: string[]): Block[] {
  const blocks: Block[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i]!;
    if (line.trim() === '') {
      i++;
      continue;
    }
    const fence = FENCE.exec(line);
    if (fence) {
      const marker = fence[1]!;
      const body: string[] = [];
      let closed = false;
      i++;
      while (i < lines.length) {
        const current = lines[i]!;
        const trimmed = current.trim();
        if (trimmed.startsWith(marker[0]!.repeat(marker.length)) && /^(`+|~+)$/.test(trimmed)) {
          closed = true;
          i++;
          break;
        }
        body.push(current);
        i++;
      }
      blocks.push({ type: 'code', lang: fence[2]!.toLowerCase(), text: body.join('\n'), closed });
      continue;
    }
    const heading = HEADING.exec(line);
    if (heading) {
      blocks.push({
        type: 'heading',
        level: heading[1]!.length as 1 | 2 | 3 | 4 | 5 | 6,
        children: parseInline(heading[2] ?? ''),
      });
      i++;
      continue;
    }
    if (RULE.test(line)) {
      blocks.push({ type: 'hr' });
      i++;
      continue;
    }
    if (QUOTE.test(line)) {
      const inner: string[] = [];
      while (i < lines.length && lines[i]!.trim() !== '') {
        const quoted = QUOTE.exec(lines[i]!);
        inner.push(quoted ? quoted[1]! : lines[i]!);
        i++;
      }
      blocks.push({ type: 'quote', children: parseLines(inner) });
      continue;
    }
    const item = ITEM.exec(line);
    if (item) {
      i = parseList(lines, i, blocks);
      continue;
    }
    const next = lines[i + 1];
    if (line.includes('|') && next !== undefined && TABLE_DELIMITER.test(next) && next.includes('-')) {
      const head = splitRow(line);
      const align = splitRow(next).map((cell) => {
        const left = cell.startsWith(':');
        const right = cell.endsWith(':');
        return left && right ? 'center' : right ? 'right' : left ? 'left' : null;
      });
      i += 2;
      const rows: Inline[][][] = [];
      while (i < lines.length && lines[i]!.includes('|') && lines[i]!.trim() !== '') {
        const cells = splitRow(lines[i]!);
        rows.push(head.map((_, column) => parseInline(cells[column] ?? '')));
        i++;
      }
      blocks.push({ type: 'table', align, head: head.map((cell) => parseInline(cell)), rows });
      continue;
    }
    const paragraph: string[] = [line];
    i++;
    while (i < lines.length && lines[i]!.trim() !== '' && !startsBlock(lines[i]!, lines[i + 1])) {
      paragraph.push(lines[i]!);
      i++;
    }
    blocks.push({ type: 'paragraph', children: parseInline(paragraph.map((l) => l.trim()).join('\n')) });
  }
  return blocks;
}

function parseList(lines: string[], from: number, blocks: Block[]): number {
  const first = ITEM.exec(lines[from]!)!;
  const ordered = first[3] !== undefined;
  const start = ordered ? Number(first[3]) : 1;
  const items: Block[][] = [];
  let i = from;
  while (i < lines.length) {
    const match = ITEM.exec(lines[i]!);
    if (!match || (match[3] !== undefined) !== ordered) break;
    const indent = match[1]!.length + match[2]!.length + 1;
    const content: string[] = [match[4] ?? ''];
    i++;
    while (i < lines.length) {
      const current = lines[i]!;
      if (current.trim() === '') {
        // A blank line continues the item only if indented content follows.
        const after = lines[i + 1];
        if (after !== undefined && /^\s+/.test(after) && leadingSpaces(after) >= Math.min(indent, 2)) {
          content.push('');
          i++;
          continue;
        }
        break;
      }
      const spaces = leadingSpaces(current);
      if (spaces >= Math.min(indent, 2)) {
        content.push(current.slice(Math.min(spaces, indent)));
        i++;
        continue;
      }
      if (ITEM.test(current) || startsBlock(current, lines[i + 1])) break;
      // A lazy continuation of the item's paragraph.
      content.push(current);
      i++;
    }
    items.push(parseLines(content));
    // Blank lines between items keep the list going.
    let j = i;
    while (j < lines.length && lines[j]!.trim() === '') j++;
    const nextItem = j < lines.length ? ITEM.exec(lines[j]!) : null;
    if (nextItem && nextItem[1]!.length === 0 && (nextItem[3] !== undefined) === ordered) i = j;
    else break;
  }
  blocks.push({ type: 'list', ordered, start, items });
  return i;
}

const leadingSpaces = (line: string) => line.length - line.replace(/^\s+/, '').length;

function splitRow(line: string): string[] {
  let row = line.trim();
  if (row.startsWith('|')) row = row.slice(1);
  if (row.endsWith('|') && !row.endsWith('\\|')) row = row.slice(0, -1);
  const cells: string[] = [];
  let cell = '';
  for (let i = 0; i < row.length; i++) {
    if (row[i] === '\\' && row[i + 1] === '|') {
      cell += '|';
      i++;
    } else if (row[i] === '|') {
      cells.push(cell.trim());
      cell = '';
    } else cell += row[i];
  }
  cells.push(cell.trim());
  return cells;
}

/** Only these link targets become links; anything else (javascript:, data:) stays text. */
export function safeHref(href: string): string | null {
  const trimmed = href.trim();
  if (/^(https?:|mailto:)/i.test(trimmed)) return trimmed;
  if (/^(\/(?!\/)|#)/.test(trimmed)) return trimmed;
  return null;
}

const PUNCTUATION = /[!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]/;

/** Parses inline Markdown: code spans, **strong**, *em*, ~~del~~, [links](url), bare URLs, line breaks. */
export function parseInline(text: string): Inline[] {
  const out: Inline[] = [];
  let plain = '';
  const flush = () => {
    if (plain) out.push({ type: 'text', text: plain });
    plain = '';
  };
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    if (ch === '\\' && i + 1 < text.length) {
      if (text[i + 1] === '\n') {
        flush();
        out.push({ type: 'br' });
        i += 2;
        continue;
      }
      if (PUNCTUATION.test(text[i + 1]!)) {
        plain += text[i + 1];
        i += 2;
        continue;
      }
    }
    if (ch === '\n') {
      flush();
      out.push({ type: 'br' });
      i++;
      continue;
    }
    if (ch === '`') {
      const run = /^`+/.exec(text.slice(i))![0];
      const close = text.indexOf(run, i + run.length);
      if (close !== -1) {
        flush();
        let code = text.slice(i + run.length, close).replace(/\n/g, ' ');
        if (code.length > 2 && code.startsWith(' ') && code.endsWith(' ')) code = code.slice(1, -1);
        out.push({ type: 'code', text: code });
        i = close + run.length;
        continue;
      }
      plain += run;
      i += run.length;
      continue;
    }
    const delimited = delimiter(text, i);
    if (delimited) {
      flush();
      out.push({ type: delimited.type, children: parseInline(delimited.inner) });
      i = delimited.end;
      continue;
    }
    if (ch === '[') {
      const link = linkAt(text, i);
      if (link) {
        flush();
        const href = safeHref(link.href);
        const children = parseInline(link.label);
        if (href) out.push({ type: 'link', href, children });
        else out.push(...children);
        i = link.end;
        continue;
      }
    }
    if ((ch === 'h' || ch === 'H') && (i === 0 || /[\s(]/.test(text[i - 1]!))) {
      const url = /^https?:\/\/[^\s<>()]+[^\s<>().,;:!?'"]/i.exec(text.slice(i));
      if (url) {
        flush();
        out.push({ type: 'link', href: url[0], children: [{ type: 'text', text: url[0] }] });
        i += url[0].length;
        continue;
      }
    }
    plain += ch;
    i++;
  }
  flush();
  return out;
}

function delimiter(
  text: string,
  at: number,
): { type: 'strong' | 'em' | 'del'; inner: string; end: number } | null {
  for (const [marker, type] of [
    ['**', 'strong'],
    ['__', 'strong'],
    ['~~', 'del'],
    ['*', 'em'],
    ['_', 'em'],
  ] as const) {
    if (!text.startsWith(marker, at)) continue;
    const after = text[at + marker.length];
    if (after === undefined || /\s/.test(after)) continue;
    // Underscores inside words (snake_case) are not emphasis.
    if (marker[0] === '_' && at > 0 && /\w/.test(text[at - 1]!)) continue;
    let search = at + marker.length + 1;
    for (;;) {
      const close = text.indexOf(marker, search);
      if (close === -1) break;
      const before = text[close - 1]!;
      const next = text[close + marker.length];
      const doubled = marker.length === 1 && next === marker;
      const wordAfter = marker[0] === '_' && next !== undefined && /\w/.test(next);
      if (!/\s/.test(before) && !doubled && !wordAfter) {
        return { type, inner: text.slice(at + marker.length, close), end: close + marker.length };
      }
      search = close + (doubled ? 2 : 1);
    }
  }
  return null;
}

function linkAt(text: string, at: number): { label: string; href: string; end: number } | null {
  let depth = 0;
  let close = -1;
  for (let i = at; i < text.length; i++) {
    if (text[i] === '\\') {
      i++;
      continue;
    }
    if (text[i] === '[') depth++;
    else if (text[i] === ']' && --depth === 0) {
      close = i;
      break;
    }
  }
  if (close === -1 || text[close + 1] !== '(') return null;
  let parens = 0;
  for (let i = close + 1; i < text.length; i++) {
    if (text[i] === '(') parens++;
    else if (text[i] === ')' && --parens === 0) {
      const target = text.slice(close + 2, i).trim();
      const href = target.replace(/\s+"[^"]*"$/, '').replace(/^<(.*)>$/, '$1');
      return { label: text.slice(at + 1, close), href, end: i + 1 };
    } else if (text[i] === '\n') return null;
  }
  return null;
}

/** The plain text of inline nodes (for copy, titles and accessible names). */
export function inlineText(nodes: Inline[]): string {
  return nodes
    .map((node) =>
      node.type === 'text' || node.type === 'code'
        ? node.text
        : node.type === 'br'
          ? '\n'
          : inlineText(node.children),
    )
    .join('');
}
