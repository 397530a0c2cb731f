/** HTML to sections by a single linear scan of its tags: no DOM, no regular expression over the markup. */
import { SectionBuilder, tidyInline, tidyWhitespace, type Section } from './sections.ts';

const SKIPPED_ELEMENTS = new Set([
  'script',
  'style',
  'noscript',
  'template',
  'svg',
  'head',
  'iframe',
  'object',
]);
const BLOCK_ELEMENTS = new Set([
  'address',
  'article',
  'aside',
  'blockquote',
  'body',
  'br',
  'dd',
  'details',
  'div',
  'dl',
  'dt',
  'figcaption',
  'figure',
  'footer',
  'form',
  'header',
  'hr',
  'html',
  'li',
  'main',
  'nav',
  'ol',
  'p',
  'pre',
  'section',
  'summary',
  'table',
  'tbody',
  'tfoot',
  'thead',
  'title',
  'tr',
  'ul',
]);

/**
 * Text of an HTML document, split at its headings. A single left-to-right scan (no DOM, no regex over
 * the markup), so hostile markup costs linear time: comments, `<script>`, `<style>` and the like are
 * skipped whole, block elements end a paragraph, entities are decoded.
 */
export function htmlToSections(html: string): Section[] {
  const builder = new SectionBuilder(tidyWhitespace);
  // Lower-cased once, to find closing tags case-blind without rescanning per element.
  const lower = html.toLowerCase();
  let heading: { level: number; text: string } | null = null;
  let index = 0;
  const emitText = (raw: string) => {
    const text = decodeEntities(raw);
    if (heading) heading.text += text;
    else builder.append(text);
  };
  while (index < html.length) {
    const open = html.indexOf('<', index);
    if (open < 0) {
      emitText(html.slice(index));
      break;
    }
    if (open > index) emitText(html.slice(index, open));
    if (html.startsWith('<!--', open)) {
      const close = html.indexOf('-->', open + 4);
      index = close < 0 ? html.length : close + 3;
      continue;
    }
    const tag = readTag(html, open);
    if (!tag) {
      // A lone '<' is text.
      emitText('<');
      index = open + 1;
      continue;
    }
    index = tag.end;
    if (!tag.closing && SKIPPED_ELEMENTS.has(tag.name) && !tag.selfClosing) {
      index = skipElement(lower, index, tag.name);
      continue;
    }
    const level = /^h[1-6]$/.test(tag.name) ? Number(tag.name[1]) : 0;
    if (level > 0) {
      if (!tag.closing) {
        heading = { level, text: '' };
      } else if (heading) {
        builder.heading(heading.level, tidyInline(heading.text));
        heading = null;
      }
      continue;
    }
    if (BLOCK_ELEMENTS.has(tag.name)) {
      // A block opening inside a heading means the heading was never closed (`<h1>Title<p>…`): end it
      // there, or the rest of the page would become its title.
      if (heading && !tag.closing && tag.name !== 'br') {
        builder.heading(heading.level, tidyInline(heading.text));
        heading = null;
      }
      if (heading) heading.text += ' ';
      else if (tag.name === 'br') builder.append('\n');
      // A list item or table row is a line of its own; only its opening says so, or lists double-space.
      else if (tag.name === 'li' || tag.name === 'tr') builder.append(tag.closing ? '' : '\n');
      else builder.append('\n\n');
    } else if (tag.name === 'td' || tag.name === 'th') {
      builder.append(' ');
    }
  }
  if (heading) builder.heading(heading.level, tidyInline(heading.text));
  return builder.finish();
}

interface Tag {
  name: string;
  closing: boolean;
  selfClosing: boolean;
  end: number;
}

/** Reads the tag opening at `open`, quoted attribute values included; null when it is not a tag. */
function readTag(html: string, open: number): Tag | null {
  let at = open + 1;
  const closing = html[at] === '/';
  if (closing) at++;
  if (html[at] === '!' || html[at] === '?') {
    // Doctype or processing instruction.
    const close = html.indexOf('>', at);
    return { name: '!', closing: false, selfClosing: true, end: close < 0 ? html.length : close + 1 };
  }
  const nameStart = at;
  while (at < html.length && /[A-Za-z0-9:-]/.test(html[at]!)) at++;
  if (at === nameStart) return null;
  const name = html.slice(nameStart, at).toLowerCase();
  let quote = '';
  for (; at < html.length; at++) {
    const char = html[at];
    if (quote) {
      if (char === quote) quote = '';
    } else if (char === '"' || char === "'") {
      quote = char;
    } else if (char === '>') {
      return { name, closing, selfClosing: html[at - 1] === '/', end: at + 1 };
    }
  }
  return { name, closing, selfClosing: true, end: html.length };
}

/** The index after `</name>`, or the end of the input: a script's content is never text. */
function skipElement(lower: string, from: number, name: string): number {
  const close = lower.indexOf(`</${name}`, from);
  if (close < 0) return lower.length;
  const end = lower.indexOf('>', close);
  return end < 0 ? lower.length : end + 1;
}

const NAMED_ENTITIES: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: '\u00a0',
  copy: '©',
  reg: '®',
  trade: '™',
  hellip: '…',
  mdash: '—',
  ndash: '–',
  lsquo: '‘',
  rsquo: '’',
  ldquo: '“',
  rdquo: '”',
  laquo: '«',
  raquo: '»',
  bull: '•',
  middot: '·',
  deg: '°',
  euro: '€',
  pound: '£',
  yen: '¥',
  cent: '¢',
  sect: '§',
  para: '¶',
  times: '×',
  divide: '÷',
  shy: '',
};

/** Decodes numeric and common named character references; unknown names stay as written. */
export function decodeEntities(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(
    /&(#[0-9]{1,8}|#[xX][0-9a-fA-F]{1,8}|[A-Za-z][A-Za-z0-9]{1,31});/g,
    (whole, body: string) => {
      if (body.startsWith('#')) {
        const code =
          body[1] === 'x' || body[1] === 'X' ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
        const valid = code > 0 && code <= 0x10ffff && (code < 0xd800 || code > 0xdfff);
        return valid ? String.fromCodePoint(code) : '\ufffd';
      }
      return NAMED_ENTITIES[body] ?? NAMED_ENTITIES[body.toLowerCase()] ?? whole;
    },
  );
}
