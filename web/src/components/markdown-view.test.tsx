import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { MarkdownView } from './markdown-view.tsx';

const html = (source: string) => renderToStaticMarkup(<MarkdownView source={source} />);

describe('MarkdownView', () => {
  it('renders a reply as elements: emphasis, lists, a highlighted code block with its copy button', () => {
    const out = html('Some **bold** and `code`.\n\n- one\n- two\n\n```js\nconst x = 1; // why\n```');
    expect(out).toContain('<strong>bold</strong>');
    expect(out).toContain('<code>code</code>');
    expect(out).toContain('<ul><li><p>one</p></li><li><p>two</p></li></ul>');
    expect(out).toContain('<span class="tok-keyword">const</span>');
    expect(out).toContain('<span class="tok-comment">// why</span>');
    expect(out).toContain('<span class="code-lang">js</span>');
    expect(out).toContain('Copy code');
  });

  it('never turns text into markup, and opens links safely', () => {
    const out = html('<script>alert(1)</script> [x](https://example.com) [y](javascript:alert(1))');
    expect(out).not.toContain('<script>');
    expect(out).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(out).toContain(
      '<a href="https://example.com" target="_blank" rel="noopener noreferrer nofollow">x</a>',
    );
    expect(out).not.toContain('javascript:');
  });

  it('shrinks heading levels under the page title', () => {
    expect(html('# Big')).toBe('<div class="markdown"><h3>Big</h3></div>');
  });
});
