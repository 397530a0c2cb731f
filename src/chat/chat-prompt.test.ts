import { describe, expect, it } from 'vitest';
import { promptMessages, type PromptMessage } from './chat-prompt.ts';

const message = (overrides: Partial<PromptMessage>): PromptMessage => ({
  role: 'user',
  content: 'hello',
  status: 'complete',
  imageIds: [],
  ...overrides,
});

describe('promptMessages', () => {
  it('puts the context first, leaves failed answers out and keeps stopped ones', () => {
    const messages = promptMessages(
      [
        message({ content: 'first' }),
        message({ role: 'assistant', content: 'partial', status: 'stopped' }),
        message({ content: 'second' }),
        message({ role: 'assistant', content: '', status: 'failed' }),
        message({ content: 'third' }),
      ],
      { context: 'Sources: [1] a.pdf', images: new Map() },
    );
    expect(messages).toEqual([
      { role: 'system', content: 'Sources: [1] a.pdf' },
      { role: 'user', content: 'first' },
      { role: 'assistant', content: 'partial' },
      { role: 'user', content: 'second' },
      { role: 'user', content: 'third' },
    ]);
  });

  it("sends a user message's images as image_url parts after its text, skipping images that are gone", () => {
    const messages = promptMessages([message({ content: 'look', imageIds: ['a', 'gone', 'b'] })], {
      context: null,
      images: new Map([
        ['a', 'data:image/png;base64,AAAA'],
        ['b', 'data:image/jpeg;base64,BBBB'],
      ]),
    });
    expect(messages).toEqual([
      {
        role: 'user',
        content: [
          { type: 'text', text: 'look' },
          { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } },
          { type: 'image_url', image_url: { url: 'data:image/jpeg;base64,BBBB' } },
        ],
      },
    ]);
    // Every image gone: plain text again.
    expect(
      promptMessages([message({ content: 'look', imageIds: ['gone'] })], {
        context: null,
        images: new Map(),
      }),
    ).toEqual([{ role: 'user', content: 'look' }]);
  });
});
