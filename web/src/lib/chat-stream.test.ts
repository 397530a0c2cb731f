import { describe, expect, it } from 'vitest';
import type { GroundedMessage } from '../api/types.ts';
import {
  chatReducer,
  emptyChat,
  keepBefore,
  keepForRegenerate,
  parseChatEvent,
  titleFrom,
  type ChatView,
} from './chat-stream.ts';

const message = (id: string, role: 'user' | 'assistant', content: string): GroundedMessage => ({
  id,
  role,
  content,
  model: 'main/gpt',
  status: 'complete',
  error: null,
  attachments: { files: [], knowledgeBases: [] },
  citations: [],
  createdAt: '2026-11-22T07:00:00.000Z',
});

describe('parseChatEvent', () => {
  it("keeps what the knowledge API adds to a message: the answer's citations, the question's attachments", () => {
    const citations = [
      { n: 1, passageId: '7', knowledgeBaseId: 'kb', fileId: 'f', fileName: 'r.pdf', page: 37, headings: [] },
    ];
    const attachments = {
      files: [{ id: 'f', name: 'r.pdf', mediaType: 'application/pdf' }],
      knowledgeBases: [],
    };
    const done = parseChatEvent(
      JSON.stringify({ type: 'done', message: { ...message('a1', 'assistant', 'a [1]'), citations } }),
    );
    expect(done).toMatchObject({ type: 'done', message: { citations } });
    const user = parseChatEvent(
      JSON.stringify({ type: 'user', message: { ...message('u1', 'user', 'q'), attachments } }),
    );
    expect(user).toMatchObject({ type: 'user', message: { attachments } });
  });

  it('parses the four event types and drops anything else', () => {
    expect(parseChatEvent('{"type":"delta","text":"hi"}')).toEqual({ type: 'delta', text: 'hi' });
    expect(parseChatEvent(JSON.stringify({ type: 'user', message: message('u1', 'user', 'q') }))?.type).toBe(
      'user',
    );
    expect(
      parseChatEvent(JSON.stringify({ type: 'done', message: message('a1', 'assistant', 'a') }))?.type,
    ).toBe('done');
    expect(parseChatEvent('{"type":"error","code":"no_credentials","message":"Add one"}')).toEqual({
      type: 'error',
      code: 'no_credentials',
      message: 'Add one',
    });
    expect(parseChatEvent('[DONE]')).toBeNull();
    expect(parseChatEvent('{"type":"ping"}')).toBeNull();
    expect(parseChatEvent('{"type":"done","message":{"id":1}}')).toBeNull();
    expect(parseChatEvent('{"type":"delta"}')).toBeNull();
  });
});

describe('chatReducer', () => {
  const run = (state: ChatView, ...events: string[]) =>
    events.reduce(
      (current, data) => chatReducer(current, { type: 'event', event: parseChatEvent(data)! }),
      state,
    );

  it('shows the optimistic question, swaps in the stored one, streams deltas, then keeps the stored answer', () => {
    let state = chatReducer(emptyChat, {
      type: 'start',
      keep: 0,
      pending: { ...message('local-user-1', 'user', 'Hi?') },
    });
    expect(state.messages.map((m) => m.id)).toEqual(['local-user-1']);
    expect(state.streaming).toEqual({ content: '' });
    state = run(
      state,
      JSON.stringify({ type: 'user', message: message('u1', 'user', 'Hi?') }),
      '{"type":"delta","text":"Hel"}',
      '{"type":"delta","text":"lo"}',
    );
    expect(state.messages.map((m) => m.id)).toEqual(['u1']);
    expect(state.streaming?.content).toBe('Hello');
    state = run(state, JSON.stringify({ type: 'done', message: message('a1', 'assistant', 'Hello') }));
    expect(state.streaming).toBeNull();
    expect(state.messages.map((m) => `${m.id}:${m.content}`)).toEqual(['u1:Hi?', 'a1:Hello']);
  });

  it('keeps a stopped partial reply, marked stopped', () => {
    let state = chatReducer(emptyChat, {
      type: 'start',
      keep: 0,
      pending: message('local-user-1', 'user', 'Q'),
    });
    state = run(state, '{"type":"delta","text":"Part"}');
    state = chatReducer(state, { type: 'stopped', at: '2026-11-22T07:00:01.000Z', model: 'main/gpt' });
    expect(state.streaming).toBeNull();
    expect(state.messages.at(-1)).toMatchObject({ role: 'assistant', content: 'Part', status: 'stopped' });
    // A stop after the stream ended changes nothing.
    expect(chatReducer(state, { type: 'stopped', at: 'x', model: null })).toBe(state);
  });

  it('turns an error into a message and keeps any partial text as failed', () => {
    let state = chatReducer(emptyChat, {
      type: 'start',
      keep: 0,
      pending: message('local-user-1', 'user', 'Q'),
    });
    state = run(
      state,
      '{"type":"delta","text":"Par"}',
      '{"type":"error","code":"upstream_error","message":"boom"}',
    );
    expect(state.error).toEqual({ code: 'upstream_error', message: 'boom' });
    expect(state.messages.at(-1)).toMatchObject({ content: 'Par', status: 'failed' });
    expect(state.streaming).toBeNull();
  });

  it("tells the messages on screen their place in the tree from the server's copy, keeping the rest as shown", () => {
    const shown: ChatView = {
      messages: [
        message('q', 'user', 'Hi'),
        message('a2', 'assistant', 'Hello again'),
        message('local-x', 'assistant', '…'),
      ],
      streaming: null,
      error: null,
    };
    const stored = [
      { ...message('q', 'user', 'Hi'), parentId: null, siblings: { ids: ['q'], index: 0 } },
      { ...message('a2', 'assistant', 'changed'), parentId: 'q', siblings: { ids: ['a1', 'a2'], index: 1 } },
    ];
    const placed = chatReducer(shown, { type: 'placed', messages: stored });
    expect(placed.messages.map((one) => [one.id, one.content, one.siblings?.ids ?? null])).toEqual([
      ['q', 'Hi', ['q']],
      ['a2', 'Hello again', ['a1', 'a2']],
      ['local-x', '…', null],
    ]);
    expect(placed.messages[1]!.parentId).toBe('q');
  });

  it('cuts the conversation for edit-and-resend and for regenerate', () => {
    const messages = [
      message('u1', 'user', 'a'),
      message('a1', 'assistant', 'b'),
      message('u2', 'user', 'c'),
      message('a2', 'assistant', 'd'),
    ];
    expect(keepBefore(messages, 'u2')).toBe(2);
    expect(keepForRegenerate(messages)).toBe(3);
    expect(keepForRegenerate(messages.slice(0, 3))).toBe(3);
    const loaded = chatReducer(emptyChat, { type: 'load', messages });
    const edited = chatReducer(loaded, {
      type: 'start',
      keep: 2,
      pending: message('local-user-2', 'user', 'c2'),
    });
    expect(edited.messages.map((m) => m.id)).toEqual(['u1', 'a1', 'local-user-2']);
    const regenerated = chatReducer(loaded, { type: 'start', keep: 3, pending: null });
    expect(regenerated.messages.map((m) => m.id)).toEqual(['u1', 'a1', 'u2']);
  });
});

describe('titleFrom', () => {
  it('takes the first line, squeezed and shortened', () => {
    expect(titleFrom('  Hello   there\nsecond line')).toBe('Hello there');
    expect(titleFrom('x'.repeat(100))).toHaveLength(58);
    expect(titleFrom('   ')).toBe('New chat');
  });
});
