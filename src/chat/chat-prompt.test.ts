import { describe, expect, it } from 'vitest';
import { promptMessages, withinWindow, type PromptMessage } from './chat-prompt.ts';

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

  it('puts the system messages first (instructions, system prompt, context), skipping blank ones', () => {
    const messages = promptMessages([message({ content: 'hi' })], {
      context: 'Sources: [1]',
      images: new Map(),
      system: ['You are a tutor.', '  ', 'Answer in French.'],
    });
    expect(messages).toEqual([
      { role: 'system', content: 'You are a tutor.' },
      { role: 'system', content: 'Answer in French.' },
      { role: 'system', content: 'Sources: [1]' },
      { role: 'user', content: 'hi' },
    ]);
  });

  it('cuts the history to the context window, always keeping the message answered', () => {
    const history = ['one', 'two', 'three', 'four'].map((content) => message({ content }));
    const contents = (kept: PromptMessage[]) => kept.map((kept) => kept.content);
    expect(contents(withinWindow(history, { messages: 2, tokens: null }))).toEqual(['three', 'four']);
    expect(contents(withinWindow(history, { messages: 0, tokens: null }))).toEqual(['four']);
    // 'four' and 'three' cost 1 and 2 tokens (about four characters a token).
    expect(contents(withinWindow(history, { messages: null, tokens: 3 }))).toEqual(['three', 'four']);
    expect(
      contents(withinWindow([message({ content: 'x'.repeat(400) })], { messages: null, tokens: 1 })),
    ).toEqual(['x'.repeat(400)]);
    expect(contents(withinWindow(history, { messages: null, tokens: null }))).toEqual(contents(history));
    // A failed answer takes no room in the window.
    const withFailure = [
      message({ content: 'q1' }),
      message({ role: 'assistant', content: 'partial', status: 'failed' }),
      message({ content: 'q2' }),
    ];
    expect(
      promptMessages(withFailure, {
        context: null,
        images: new Map(),
        window: { messages: 2, tokens: null },
      }),
    ).toEqual([
      { role: 'user', content: 'q1' },
      { role: 'user', content: 'q2' },
    ]);
  });
});
