import { describe, expect, it } from 'vitest';
import { SseDecoder, type SseEvent } from '../http/sse.ts';
import { REDACTED } from './secret-scrubber.ts';
import { SseEventScrubber } from './sse-event-scrubber.ts';

const secret = 'sk-canary-0123456789abcdef';
/** What must never reach a client: the key's distinctive middle. */
const middle = secret.slice(4, -4);

const chatEvent = (delta: Record<string, unknown>, finish: string | null = null, index = 0) =>
  `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', choices: [{ index, delta, finish_reason: finish }] })}\n\n`;

/** A chat stream with `text` as content deltas of `size` characters. */
function chatStream(text: string, size: number): string[] {
  const events = [chatEvent({ role: 'assistant', content: '' })];
  for (let at = 0; at < text.length; at += size)
    events.push(chatEvent({ content: text.slice(at, at + size) }));
  events.push(chatEvent({}, 'stop'), 'data: [DONE]\n\n');
  return events;
}

/** Runs reads through a scrubber: what came out for each read, the whole output, and the events seen. */
function relay(reads: (string | Buffer)[]) {
  const seen: SseEvent[] = [];
  const scrubber = new SseEventScrubber(secret, (event) => seen.push(event));
  const out = reads.map((read) =>
    Buffer.from(scrubber.push(Buffer.isBuffer(read) ? read : Buffer.from(read))),
  );
  out.push(Buffer.from(scrubber.end()));
  const text = Buffer.concat(out).toString('utf8');
  const events = new SseDecoder().push(text);
  return { out: out.map((bytes) => bytes.toString('utf8')), text, events, seen };
}

const dataOf = (events: SseEvent[]) =>
  events
    .filter((event) => event.data.startsWith('{'))
    .map((event) => JSON.parse(event.data) as Record<string, any>);

/** The chat content a client joins, per choice. */
const chatContent = (events: SseEvent[], choice = 0) =>
  dataOf(events)
    .flatMap((data) => data.choices)
    .filter((entry) => entry.index === choice)
    .map((entry) => entry.delta.content ?? '')
    .join('');

describe('SseEventScrubber', () => {
  it('redacts a key streamed 1, 2 or 3 characters per chat event; the text around it intact', () => {
    for (const size of [1, 2, 3]) {
      const { text, events } = relay(chatStream(`Your key is ${secret}. Keep it safe.`, size));
      expect(chatContent(events)).toBe(`Your key is ${REDACTED}. Keep it safe.`);
      expect(text).not.toContain(middle);
      expect(text).toContain('data: [DONE]');
    }
  });

  it('relays a text that only resembles the key byte for byte, holding events back only until the next one', () => {
    const stream = chatStream('The sk- prefix and sk-canary-01 look alike: sk-can is not it, nor s', 1);
    const { out, text } = relay(stream);
    expect(text).toBe(stream.join(''));
    // "T", "h", "e", " " go out at once; the "s" of "sk-" waits for "k", "-", " " and goes with them.
    expect(out.slice(0, 5)).toEqual(stream.slice(0, 5));
    const at = stream.findIndex((event) => event.includes('"content":"s"'));
    expect(out.slice(at, at + 4)).toEqual(['', '', '', stream.slice(at, at + 4).join('')]);
  });

  it('returns the bytes read themselves when nothing is held back', () => {
    const read = Buffer.from(chatStream('Hello there', 5).join(''));
    const scrubber = new SseEventScrubber(secret, () => {});
    expect(scrubber.push(read)).toBe(read);
  });

  it('gives the same output however the bytes are cut into reads, UTF-8 and CRLF included', () => {
    const stream = chatStream(`é日本 ${secret} ok`, 2).join('').replace(/\n/g, '\r\n');
    const bytes = Buffer.from(stream);
    const whole = relay([bytes]).text;
    expect(chatContent(new SseDecoder().push(whole))).toBe(`é日本 ${REDACTED} ok`);
    for (let cut = 1; cut < bytes.length; cut++)
      expect(relay([bytes.subarray(0, cut), bytes.subarray(cut)]).text).toBe(whole);
  });

  it('sees every event once, in order, whatever is held back (usage is read from them)', () => {
    const stream = chatStream(`a ${secret} b`, 3);
    expect(relay(stream).seen.map((event) => event.data)).toEqual(
      stream.map((event) => event.slice('data: '.length, -2)),
    );
  });

  it('redacts a long start of the key left when the stream breaks off, and releases a short one as it was', () => {
    expect(chatContent(relay(chatStream(`key ${secret.slice(0, 12)}`, 2).slice(0, -2)).events)).toBe(
      `key ${REDACTED}`,
    );
    expect(chatContent(relay(chatStream('key sk-c', 2).slice(0, -2)).events)).toBe('key sk-c');
  });

  it('scrubs each tool call’s arguments on its own, parallel calls interleaved', () => {
    const first = `{"key":"${secret}"}`;
    const second = `{"city":"${secret.slice(0, 8)}x"}`;
    const events = [chatEvent({ role: 'assistant', content: null })];
    for (let at = 0; at < Math.max(first.length, second.length); at += 3)
      for (const [index, args] of [first, second].entries())
        if (at < args.length)
          events.push(
            chatEvent({ tool_calls: [{ index, function: { arguments: args.slice(at, at + 3) } }] }),
          );
    events.push(chatEvent({}, 'tool_calls'));
    const out = relay(events);
    const args = ['', ''];
    for (const data of dataOf(out.events))
      for (const call of data.choices[0].delta.tool_calls ?? []) args[call.index] += call.function.arguments;
    expect(args).toEqual([`{"key":"${REDACTED}"}`, second]);
    expect(out.text).not.toContain(middle);
  });

  it('scrubs Anthropic text, thinking and tool input per content block', () => {
    const event = (name: string, data: Record<string, unknown>) =>
      `event: ${name}\ndata: ${JSON.stringify({ type: name, ...data })}\n\n`;
    const pieces = (text: string) => text.match(/.{1,3}/gs)!;
    const blocks: [string, string, string][] = [
      ['thinking', 'thinking_delta', `I recall ${secret} here`],
      ['text', 'text_delta', `Key: ${secret}`],
      ['partial_json', 'input_json_delta', `{"key":"${secret}"}`],
    ];
    const stream = [
      event('message_start', { message: { id: 'msg_1', content: [] } }),
      'event: ping\ndata: {"type": "ping"}\n\n',
    ];
    for (const [index, [field, type, text]] of blocks.entries()) {
      stream.push(
        event('content_block_start', {
          index,
          content_block: {
            type: field === 'partial_json' ? 'tool_use' : field,
            [field === 'partial_json' ? 'input' : field]: field === 'partial_json' ? {} : '',
          },
        }),
      );
      for (const piece of pieces(text))
        stream.push(event('content_block_delta', { index, delta: { type, [field]: piece } }));
      stream.push(event('content_block_stop', { index }));
    }
    stream.push(
      event('message_delta', { delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 9 } }),
      event('message_stop', {}),
    );
    const { text, events } = relay(stream);
    const joinedOf = (index: number, field: string) =>
      dataOf(events)
        .filter((data) => data.type === 'content_block_delta' && data.index === index)
        .map((data) => data.delta[field] ?? '')
        .join('');
    expect(joinedOf(0, 'thinking')).toBe(`I recall ${REDACTED} here`);
    expect(joinedOf(1, 'text')).toBe(`Key: ${REDACTED}`);
    expect(JSON.parse(joinedOf(2, 'partial_json'))).toEqual({ key: REDACTED });
    expect(text).not.toContain(middle);
    expect(events.map((entry) => entry.event)).toEqual(
      new SseDecoder().push(stream.join('')).map((entry) => entry.event),
    );
  });

  it('scrubs Responses deltas and the events that repeat the whole text, a long start at the end alike', () => {
    const event = (type: string, data: Record<string, unknown>) =>
      `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
    for (const text of [`Key: ${secret}.`, `Cut: ${secret.slice(0, 14)}`]) {
      const where = { item_id: 'msg_1', output_index: 0, content_index: 0 };
      const stream = [event('response.created', { response: { id: 'resp_1', output: [] } })];
      for (const piece of text.match(/.{1,2}/gs)!)
        stream.push(event('response.output_text.delta', { ...where, delta: piece }));
      stream.push(
        event('response.output_text.done', { ...where, text }),
        event('response.content_part.done', { ...where, part: { type: 'output_text', text } }),
        event('response.completed', {
          response: { id: 'resp_1', output: [{ content: [{ type: 'output_text', text }] }] },
        }),
      );
      const out = relay(stream);
      const expected = text.startsWith('Key') ? `Key: ${REDACTED}.` : `Cut: ${REDACTED}`;
      const data = dataOf(out.events);
      expect(
        data
          .filter((entry) => entry.type.endsWith('.delta'))
          .map((entry) => entry.delta)
          .join(''),
      ).toBe(expected);
      expect(data.find((entry) => entry.type === 'response.output_text.done')!.text).toBe(expected);
      expect(data.find((entry) => entry.type === 'response.content_part.done')!.part.text).toBe(expected);
      expect(data.at(-1)!.response.output[0].content[0].text).toBe(expected);
      expect(out.text).not.toContain(secret.slice(4, 14));
    }
  });

  it('keeps scrubbing a key that stands whole in an event that is not JSON', () => {
    const { text } = relay([`data: plain ${secret.slice(0, 5)}`, `${secret.slice(5)} text\n\n`]);
    expect(text).toBe(`data: plain ${REDACTED} text\n\n`);
  });
});
