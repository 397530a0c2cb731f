import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import type { Citation } from '../api/types.ts';
import { CitationMarker, SourcesList } from './citations.tsx';
import { MarkdownView } from './markdown-view.tsx';

const page37: Citation = {
  n: 1,
  passageId: '42',
  knowledgeBaseId: 'kb1',
  fileId: 'f1',
  fileName: 'report.pdf',
  page: 37,
  headings: [],
};
const whole: Citation = {
  ...page37,
  n: 2,
  passageId: null,
  knowledgeBaseId: null,
  fileName: 'notes.md',
  page: null,
};
const noop = () => {};

describe('SourcesList', () => {
  it('lists sources by number: a passage is a button naming its page, a whole file is its name only', () => {
    const out = renderToStaticMarkup(<SourcesList citations={[page37, whole]} onOpen={noop} />);
    expect(out).toContain(
      '<li value="1"><button type="button" class="source-link">report.pdf, p. 37</button></li>',
    );
    expect(out).toContain('<li value="2"><span class="source-file">notes.md</span></li>');
  });

  it('shows nothing for an answer without sources', () => {
    expect(renderToStaticMarkup(<SourcesList citations={[]} onOpen={noop} />)).toBe('');
  });
});

describe('citation markers in an answer', () => {
  const markers = {
    known: new Set([1, 2]),
    render: (n: number) => <CitationMarker citation={n === 1 ? page37 : whole} onOpen={noop} />,
  };

  it('turns [n] of known sources into markers, in text but not in code, and leaves other brackets', () => {
    const out = renderToStaticMarkup(
      <MarkdownView source={'Revenue rose **12% [1]** in Q3 [2] [7].\n\n`a[1]`'} markers={markers} />,
    );
    expect(out).toContain(
      '<strong>12% <button type="button" class="cite-marker" aria-label="Source 1: report.pdf, p. 37" title="report.pdf, p. 37">[1]</button></strong>',
    );
    expect(out).toContain('<sup class="cite-marker" title="notes.md">[2]</sup> [7].');
    expect(out).toContain('<code>a[1]</code>');
  });

  it('renders plain Markdown unchanged without markers', () => {
    expect(renderToStaticMarkup(<MarkdownView source="See [1]." />)).toBe(
      '<div class="markdown"><p>See [1].</p></div>',
    );
  });
});
