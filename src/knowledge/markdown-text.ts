/** Markdown to sections at its headings, the Markdown itself kept. */
import { normaliseNewlines, SectionBuilder, tidyBlankLines, type Section } from './sections.ts';

/**
 * Markdown split at its ATX (`## Title`) and setext (`Title` over `===`/`---`) headings. Lines inside
 * fenced code blocks are never headings. The Markdown itself is kept: it is what a model reads best.
 */
export function markdownToSections(markdown: string): Section[] {
  // Indentation is meaning in Markdown (code, nested lists): only trailing spaces and blank runs go.
  const builder = new SectionBuilder(tidyBlankLines);
  const lines = normaliseNewlines(markdown).split('\n');
  let fence = '';
  let paragraphLines = 0;
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index]!;
    const trimmed = line.trimStart();
    const indent = line.length - trimmed.length;
    if (fence) {
      if (trimmed.startsWith(fence)) fence = '';
      builder.append(line + '\n');
      continue;
    }
    if (indent < 4 && (trimmed.startsWith('```') || trimmed.startsWith('~~~'))) {
      fence = trimmed.slice(0, 3);
      paragraphLines = 0;
      builder.append(line + '\n');
      continue;
    }
    const atx = indent < 4 ? atxHeading(trimmed) : null;
    if (atx) {
      builder.heading(atx.level, atx.text);
      paragraphLines = 0;
      continue;
    }
    const next = lines[index + 1];
    const setext = next !== undefined && paragraphLines === 0 && trimmed !== '' ? setextLevel(next) : 0;
    if (setext > 0 && indent < 4) {
      builder.heading(setext, trimmed.trim());
      index++;
      continue;
    }
    paragraphLines = trimmed === '' ? 0 : paragraphLines + 1;
    builder.append(line + '\n');
  }
  return builder.finish();
}

function atxHeading(line: string): { level: number; text: string } | null {
  let level = 0;
  while (level < line.length && line[level] === '#') level++;
  if (level < 1 || level > 6) return null;
  if (level < line.length && line[level] !== ' ' && line[level] !== '\t') return null;
  let text = line.slice(level).trim();
  // An optional closing run of '#', when separated by a space.
  let end = text.length;
  while (end > 0 && text[end - 1] === '#') end--;
  if (end === 0) text = '';
  else if (end < text.length && (text[end - 1] === ' ' || text[end - 1] === '\t'))
    text = text.slice(0, end).trim();
  return { level, text };
}

function setextLevel(line: string): number {
  const trimmed = line.trim();
  if (trimmed.length === 0 || line.length - line.trimStart().length >= 4) return 0;
  const char = trimmed[0];
  if (char !== '=' && char !== '-') return 0;
  for (const c of trimmed) if (c !== char) return 0;
  return char === '=' ? 1 : 2;
}
