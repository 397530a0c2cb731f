import { Fragment, memo, type ReactNode } from 'react';
import { highlight } from '../lib/highlight.ts';
import { parseMarkdown, type Block, type Inline } from '../lib/markdown.ts';
import { CopyButton } from './copy-button.tsx';

function renderInline(nodes: Inline[]): ReactNode[] {
  return nodes.map((node, index) => {
    switch (node.type) {
      case 'text':
        return <Fragment key={index}>{node.text}</Fragment>;
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

/** Markdown as React elements: no HTML string is ever injected. */
export const MarkdownView = memo(function MarkdownView({ source }: { source: string }) {
  return <div className="markdown">{renderBlocks(parseMarkdown(source))}</div>;
});
