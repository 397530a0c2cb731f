import { describe, expect, it } from 'vitest';
import { readSse, SseParser } from './sse.ts';

describe('SseParser', () => {
  it('returns each event once its blank line arrives', () => {
    const parser = new SseParser();
    expect(parser.feed('data: {"type":"delta","text":"Hel"}\n')).toEqual([]);
    expect(parser.feed('\ndata: {"type":"delta","text":"lo"}\n\n')).toEqual([
      '{"type":"delta","text":"Hel"}',
      '{"type":"delta","text":"lo"}',
    ]);
  });

  it('handles chunks split anywhere, including inside a CRLF', () => {
    const stream = 'data: one\r\n\r\n: keep-alive\r\n\r\nevent: x\r\ndata: two\r\ndata: lines\r\n\r\n';
    for (let size = 1; size <= 7; size++) {
      const parser = new SseParser();
      const events: string[] = [];
      for (let at = 0; at < stream.length; at += size)
        events.push(...parser.feed(stream.slice(at, at + size)));
      expect(events, `chunk size ${size}`).toEqual(['one', 'two\nlines']);
    }
  });

  it('accepts lone CR line ends, a field without a space, and a last event without its blank line', () => {
    const parser = new SseParser();
    expect(parser.feed('data:a\r\rdata: b')).toEqual(['a']);
    expect(parser.end()).toEqual(['b']);
  });

  it('ignores comments and other fields', () => {
    const parser = new SseParser();
    expect(parser.feed(': ping\n\nid: 4\nretry: 10\n\n')).toEqual([]);
  });

  it('reads a streamed body of UTF-8 bytes split inside a character', async () => {
    const bytes = new TextEncoder().encode('data: {"text":"héllo ✓"}\n\n');
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let at = 0; at < bytes.length; at += 3) controller.enqueue(bytes.slice(at, at + 3));
        controller.close();
      },
    });
    const events: string[] = [];
    for await (const data of readSse(body)) events.push(data);
    expect(events).toEqual(['{"text":"héllo ✓"}']);
  });
});
