import { createContext, Fragment, memo, useContext, type ReactNode } from 'react';
import { highlight } from '../lib/highlight.ts';
import { splitCitations } from '../lib/knowledge.ts';
import { parseMarkdown, type Block, type Inline } from '../lib/markdown.ts';
import { CopyButton } from './copy-button.tsx';

/** The `[n]` markers of an answer's citations, and what one becomes (a button that opens it). */
export interface CitationMarkers {
  known: ReadonlySet<number>;
  render: (n: number) => ReactNode;
}

const MarkersContext = createContext<CitationMarkers | null>(null);

function Text({ text }: { text: string }) {
  const markers = useContext(MarkersContext);
  if (!markers || !text.includes('[')) return <>{text}</>;
  return (
    <>
      {splitCitations(text, markers.known).map((piece, index) =>
        typeof piece === 'string' ? (
          <Fragment key={index}>{piece}</Fragment>
        ) : (
          <Fragment key={index}>{markers.render(piece.n)}</Fragment>
        ),
      )}
    </>
  );
}

function renderInline(nodes: Inline[]): ReactNode[] {
  return nodes.map((node, index) => {
    switch (node.type) {
      case 'text':
        return <Text key={index} text={node.text} />;
      case 'code':
        return <code key={index}>{node.text}</code>;
      case 'strong':
        return <strong key={index}>{renderInline(node.children)}</strong>;
      case 'em':
        return <em key={index}>{renderInline(node.children)}</em>;
      case 'del':
        return <del key={index}>{renderInline(node.children)}</del>;
      case 'br':
        return <br key={index} />;
      case 'link':
        return (
          <a key={index} href={node.href} target="_blank" rel="noopener noreferrer nofollow">
            {renderInline(node.children)}
          </a>
        );
    }
  });
}

function CodeBlock({ lang, text }: { lang: string; text: string }) {
  return (
    <div className="code-block">
      <div className="code-head">
        <span className="code-lang">{lang || 'code'}</span>
        <CopyButton text={text} label="Copy code" />
      </div>
      <pre tabIndex={0}>
        <code>
          {highlight(text, lang).map((token, index) =>
            token.kind === 'plain' ? (
              <Fragment key={index}>{token.text}</Fragment>
            ) : (
              <span key={index} className={`tok-${token.kind}`}>
                {token.text}
              </span>
            ),
          )}
        </code>
      </pre>
    </div>
  );
}

function renderBlocks(blocks: Block[]): ReactNode[] {
  return blocks.map((block, index) => {
    switch (block.type) {
      case 'paragraph':
        return <p key={index}>{renderInline(block.children)}</p>;
      case 'heading': {
        const Tag = `h${Math.min(block.level + 2, 6)}` as 'h3';
        return <Tag key={index}>{renderInline(block.children)}</Tag>;
      }
      case 'code':
        return <CodeBlock key={index} lang={block.lang} text={block.text} />;
      case 'hr':
        return <hr key={index} />;
      case 'quote':
        return <blockquote key={index}>{renderBlocks(block.children)}</blockquote>;
      case 'list': {
        const items = block.items.map((item, i) => <li key={i}>{renderBlocks(item)}</li>);
        return block.ordered ? (
          <ol key={index} start={block.start}>
            {items}
          </ol>
        ) : (
          <ul key={index}>{items}</ul>
        );
      }
      case 'table':
        return (
          <div className="table-scroll" key={index}>
            <table>
              <thead>
                <tr>
                  {block.head.map((cell, i) => (
                    <th key={i} style={block.align[i] ? { textAlign: block.align[i]! } : undefined}>
                      {renderInline(cell)}
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {block.rows.map((row, r) => (
                  <tr key={r}>
                    {row.map((cell, i) => (
                      <td key={i} style={block.align[i] ? { textAlign: block.align[i]! } : undefined}>
                        {renderInline(cell)}
                      </td>
                    ))}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        );
    }
  });
}

/**
 * Markdown as React elements: no HTML string is ever injected. With `markers`, an answer's `[n]`
 * citation markers in its text (not in code) become whatever `markers.render` gives.
 */
export const MarkdownView = memo(function MarkdownView({
  source,
  markers = null,
}: {
  source: string;
  markers?: CitationMarkers | null;
}) {
  return (
    <MarkersContext.Provider value={markers}>
      <div className="markdown">{renderBlocks(parseMarkdown(source))}</div>
    </MarkersContext.Provider>
  );
});
