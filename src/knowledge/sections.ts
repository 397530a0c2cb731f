/**
 * Sections (text under a heading path, on a page) and the text tidying every reader shares: decoding,
 * newlines, whitespace. Every function here is linear in its input.
 */

/** A run of text under one heading path, on one page when the document has pages. */
export interface Section {
  text: string;
  /** 1-based page number (PDF only). */
  page?: number;
  /** Heading path, outermost first: `['Install', 'On Linux']`. Empty before the first heading. */
  headings: string[];
}

/** UTF-8 with invalid sequences replaced, the byte-order mark and NUL characters dropped. */
export function decodeUtf8(bytes: Uint8Array): string {
  return new TextDecoder('utf-8', { fatal: false, ignoreBOM: false }).decode(bytes).replaceAll('\0', '');
}

/** `\r\n` and lone `\r` as `\n`. */
export function normaliseNewlines(text: string): string {
  return text.replace(/\r\n?/g, '\n');
}

/** Drops sections with nothing but whitespace. */
export function nonEmpty(sections: Section[]): Section[] {
  return sections.filter((section) => section.text.trim() !== '');
}

const MAX_HEADING_CHARS = 200;

/** Collects text into sections, opening a new one at each heading with the heading path it sits under. */
export class SectionBuilder {
  readonly #tidy: (text: string) => string;
  #sections: Section[] = [];
  #path: { level: number; text: string }[] = [];
  #text = '';

  constructor(tidy: (text: string) => string) {
    this.#tidy = tidy;
  }

  append(text: string): void {
    this.#text += text;
  }

  heading(level: number, rawText: string): void {
    this.#flush();
    // A heading is a label in a citation, not content: a runaway one is cut.
    const text = rawText.length > MAX_HEADING_CHARS ? `${rawText.slice(0, MAX_HEADING_CHARS)}…` : rawText;
    while (this.#path.length > 0 && this.#path.at(-1)!.level >= level) this.#path.pop();
    if (text !== '') this.#path.push({ level, text });
  }

  finish(): Section[] {
    this.#flush();
    return this.#sections;
  }

  #flush(): void {
    const text = this.#tidy(this.#text);
    this.#text = '';
    if (text !== '') this.#sections.push({ text, headings: this.#path.map((entry) => entry.text) });
  }
}

/** Spaces collapsed within lines, lines trimmed, at most one blank line in a row. Linear. */
export function tidyWhitespace(text: string): string {
  return normaliseNewlines(text)
    .replace(/[^\S\n]+/g, ' ')
    .replace(/ ?\n ?/g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

/** Trailing spaces removed, at most one blank line in a row; indentation kept. Linear. */
export function tidyBlankLines(text: string): string {
  // trimEnd per line, not a regex: `[ \t]+\n` rescans a long run of spaces at each start (quadratic).
  const lines = normaliseNewlines(text)
    .split('\n')
    .map((line) => line.trimEnd());
  return lines
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .replace(/^\n+/, '')
    .trimEnd();
}

/** One line: every whitespace run a single space, trimmed (heading text). */
export function tidyInline(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}
