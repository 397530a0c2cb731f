/**
 * An incremental parser for `text/event-stream`: feed it chunks as they arrive (split anywhere,
 * even inside a line or a CRLF) and it returns the `data` of each completed event. Comments
 * (`: ping`) and fields other than `data` are ignored; several `data:` lines join with `\n`.
 */
export class SseParser {
  #buffer = '';
  #data: string[] = [];
  #pendingCr = false;

  feed(chunk: string): string[] {
    const events: string[] = [];
    let text = chunk;
    // A CR at the end of the last chunk may be half of a CRLF.
    if (this.#pendingCr) {
      if (text.startsWith('\n')) text = text.slice(1);
      this.#pendingCr = false;
    }
    this.#buffer += text;
    for (;;) {
      const match = /\r\n|\r|\n/.exec(this.#buffer);
      if (!match) break;
      if (match[0] === '\r' && match.index === this.#buffer.length - 1) {
        this.#pendingCr = true;
      }
      const line = this.#buffer.slice(0, match.index);
      this.#buffer = this.#buffer.slice(match.index + match[0].length);
      this.#line(line, events);
    }
    return events;
  }

  /** Ends the stream: a last event without its blank line still counts. */
  end(): string[] {
    const events: string[] = [];
    if (this.#buffer) this.#line(this.#buffer, events);
    this.#buffer = '';
    this.#line('', events);
    return events;
  }

  #line(line: string, events: string[]): void {
    if (line === '') {
      if (this.#data.length > 0) events.push(this.#data.join('\n'));
      this.#data = [];
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.#data.push(value);
  }
}

/** Reads a streamed response body and yields each event's data as it completes. */
export async function* readSse(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const parser = new SseParser();
  const decoder = new TextDecoder();
  const reader = body.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      yield* parser.feed(decoder.decode(value, { stream: true }));
    }
    yield* parser.feed(decoder.decode());
    yield* parser.end();
  } finally {
    reader.releaseLock();
  }
}
