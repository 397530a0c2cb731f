import { describe, expect, it } from 'vitest';
import { URL_IMAGE_TOKENS } from '../limits/spend-guard.ts';
import { chatRequestBound } from './request-bound.ts';

const withImage = (url: string) => ({
  model: 'm',
  messages: [
    {
      role: 'user',
      content: [
        { type: 'text', text: 'What is in this picture?' },
        { type: 'image_url', image_url: { url } },
      ],
    },
  ],
});

describe('chatRequestBound', () => {
  it('counts an inline image as one image, not as its megabytes of base64', () => {
    const photo = `data:image/jpeg;base64,${Buffer.alloc(5 * 1024 * 1024).toString('base64')}`;
    const inline = chatRequestBound(withImage(photo), 1000);
    const byUrl = chatRequestBound(withImage('https://example.com/cat.jpg'), 1000);
    // The same bound whichever way the image comes, give or take the two URLs' lengths.
    expect(Math.abs(inline.inputTokens - byUrl.inputTokens)).toBeLessThan(100);
    expect(inline.inputTokens).toBeGreaterThan(URL_IMAGE_TOKENS);
    expect(inline.inputTokens).toBeLessThan(URL_IMAGE_TOKENS + 500);
  });

  it('bounds text by its bytes, and output by the cap times n', () => {
    const text = 'x'.repeat(10_000);
    const bound = chatRequestBound(
      { model: 'm', messages: [{ role: 'user', content: text }], max_tokens: 50, n: 3 },
      1000,
    );
    expect(bound.inputTokens).toBeGreaterThanOrEqual(10_000);
    expect(bound.outputTokens).toBe(150);
  });
});
