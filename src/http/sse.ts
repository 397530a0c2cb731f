/** One Server-Sent Event: the `event:` name (if any) and the joined `data:` lines. */
export interface SseEvent {
  event?: string;
  data: string;
}

/**
 * The app's one SSE decoder: feed it text as it arrives from a socket, get whole events back. Handles
 * `\n`, `\r\n` and `\r` line ends, multi-line data, comments and events split across chunks.
 */
export class SseDecoder {
  #buffer = '';
  #event: string | undefined;
  #data: string[] = [];

  push(text: string): SseEvent[] {
    this.#buffer += text;
    const events: SseEvent[] = [];
    for (;;) {
      const match = /\r\n|\r|\n/.exec(this.#buffer);
      if (!match) break;
      // A lone \r at the end may be the first half of \r\n: wait for more.
      if (match[0] === '\r' && match.index === this.#buffer.length - 1) break;
      const line = this.#buffer.slice(0, match.index);
      this.#buffer = this.#buffer.slice(match.index + match[0].length);
      const event = this.#line(line);
      if (event) events.push(event);
    }
    return events;
  }

  /** The stream ended: an event without its closing blank line still counts. */
  end(): SseEvent[] {
    const events = this.#buffer ? this.push('\n') : [];
    const last = this.#line('');
    return last ? [...events, last] : events;
  }

  #line(line: string): SseEvent | null {
    if (line === '') {
      if (this.#data.length === 0) {
        this.#event = undefined;
        return null;
      }
      const event: SseEvent = { data: this.#data.join('\n'), ...(this.#event ? { event: this.#event } : {}) };
      this.#event = undefined;
      this.#data = [];
      return event;
    }
    if (line.startsWith(':')) return null;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.#data.push(value);
    else if (field === 'event') this.#event = value;
    return null;
  }
}

/** `data: …\n\n` (with `event:` when named); data with line breaks is split over several `data:` lines. */
export function encodeSse(data: string, event?: string): string {
  const lines = data.split(/\r\n|\r|\n/).map((line) => `data: ${line}`);
  return `${event ? `event: ${event}\n` : ''}${lines.join('\n')}\n\n`;
}
