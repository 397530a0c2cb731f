import { isAscii } from 'node:buffer';
import { encodeSse, SseDecoder, type SseEvent } from '../http/sse.ts';
import {
  latin1,
  LONGEST_RELEASED_START,
  REDACTED,
  scrubEndedText,
  StreamScrubber,
} from './secret-scrubber.ts';

/**
 * Scrubs a key from a provider's SSE stream relayed as it is (chat completions, OpenAI's Responses,
 * Anthropic's Messages), as the client will reassemble it: a key streamed a few characters per event
 * is never whole in any one event, so each text the client joins from deltas (a choice's content, a
 * tool call's arguments, a content block) runs through its own `StreamScrubber`.
 *
 * Events go out as their own bytes. One is held back only while a text ends with a possible start of
 * the key (and every event after it, to keep the order); when the next event shows no key the held
 * events go out unchanged, and when the key is completed their text fields are rewritten so that the
 * client joins `[REDACTED]` and nothing of the key. A key whole in one event's bytes, JSON or not, is
 * replaced in place. Only events that can carry such text are parsed; bytes are relayed by whole
 * events, so a read that ends inside one waits for the rest of it.
 */
export class SseEventScrubber {
  /** The key as text (in parsed events) and as latin1 bytes (in raw ones). */
  readonly #secret: string;
  readonly #secretBytes: string;
  /** A start of the key this long at the end of a whole text is redacted too, as the streamed pieces are. */
  readonly #longStartBytes: string;
  /** Hears every event, in order, as it is read (usage). */
  readonly #observe: (event: SseEvent) => void;
  readonly #decoder = new SseDecoder();
  /** The texts of this answer that the client joins from deltas, by channel name. */
  readonly #channels = new Map<string, Channel>();
  /** Those whose text so far ends with a possible start of the key. */
  readonly #holding = new Set<Channel>();
  /** Those with pieces in the held events. */
  readonly #touched = new Set<Channel>();
  #held: HeldEvent[] = [];
  /** The bytes of an event not complete yet, as latin1. */
  #partial = '';
  /** What the current read lets out, as latin1, and whether that is exactly the bytes read. */
  #out = '';
  #asRead = true;

  constructor(secret: string, observe: (event: SseEvent) => void) {
    this.#secret = secret;
    this.#secretBytes = latin1(secret);
    this.#longStartBytes = this.#secretBytes.slice(0, LONGEST_RELEASED_START);
    this.#observe = observe;
  }

  /** The bytes to send on for one read: whole events, scrubbed; empty while all of it is held back. */
  push(chunk: Buffer): Uint8Array {
    const before = this.#partial;
    const text = before + chunk.toString('latin1');
    this.#out = '';
    this.#asRead = before === '' && this.#held.length === 0;
    // Most reads are ASCII: their bytes as latin1 are their text already, no decoding per event.
    const ascii = isAscii(chunk) && !NON_ASCII.test(before);
    let start = 0;
    // An event that began in the last read can end in this one: a blank line is at most 4 bytes long.
    BLANK_LINE.lastIndex = Math.max(0, before.length - 3);
    for (let match = BLANK_LINE.exec(text); match; match = BLANK_LINE.exec(text)) {
      const end = match.index + match[0].length;
      this.#event(text.slice(start, end), ascii);
      start = end;
    }
    this.#partial = text.slice(start);
    // The usual read, whole events and nothing to hide: its own bytes, not a copy.
    if (this.#asRead && this.#partial === '' && this.#held.length === 0) return chunk;
    return this.#out === '' ? EMPTY : Buffer.from(this.#out, 'latin1');
  }

  /**
   * What is left once the provider's bytes end (or break off): the last event even without its blank
   * line, and the held events, every text ended (a long start of the key left at the end is redacted).
   */
  end(): Uint8Array {
    this.#out = '';
    const partial = this.#partial;
    this.#partial = '';
    if (partial !== '') this.#event(partial, !NON_ASCII.test(partial));
    this.#endTexts('all');
    this.#release();
    return this.#out === '' ? EMPTY : Buffer.from(this.#out, 'latin1');
  }

  /** One whole event (its latin1 bytes): scrubbed, then sent on or held back. */
  #event(raw: string, ascii: boolean): void {
    const whole = raw.includes(this.#secretBytes);
    const bytes = whole ? raw.split(this.#secretBytes).join(REDACTED) : raw;
    if (whole) this.#asRead = false;
    const event = this.#decode(ascii ? bytes : Buffer.from(bytes, 'latin1').toString('utf8'));
    const held: HeldEvent = { bytes, name: event?.event, data: undefined, rewrite: false };
    this.#held.push(held);
    if (event) {
      this.#observe(event);
      const data = this.#mayCarryText(event, bytes) ? parseJson(event.data) : undefined;
      if (data !== undefined) {
        held.data = data;
        const text = streamedTextOf(data);
        for (const piece of text.pieces) this.#take(piece, held);
        if (text.pieces.length === 0 && bytes.includes(this.#longStartBytes))
          held.rewrite = scrubEndedTexts(data, this.#secret);
        this.#endTexts(text.ends);
      }
    }
    if (this.#holding.size === 0) this.#release();
  }

  /** The event in this text (none for a comment); `end()` also completes a blank line ending in a lone `\r`. */
  #decode(text: string): SseEvent | undefined {
    return this.#decoder.push(text)[0] ?? this.#decoder.end()[0];
  }

  /**
   * Whether the event is worth parsing: while a text is held back, any event may end it; otherwise
   * only deltas (chat chunks have no event name) and events that may repeat a long start of the key.
   */
  #mayCarryText(event: SseEvent, bytes: string): boolean {
    if (this.#holding.size > 0) return true;
    const name = event.event;
    if (name === undefined) return event.data.trimStart().startsWith('{');
    return name.endsWith('.delta') || TEXT_EVENTS.has(name) || bytes.includes(this.#longStartBytes);
  }

  /** Runs one piece of text through its channel's scrubber, remembering what came out for it. */
  #take(piece: TextPiece, event: HeldEvent): void {
    let channel = this.#channels.get(piece.channel);
    if (!channel) {
      channel = { group: piece.group, scrubber: new StreamScrubber(this.#secret), queued: [] };
      this.#channels.set(piece.channel, channel);
    }
    const text = piece.holder[piece.field] as string;
    channel.queued.push({ piece, original: text, output: channel.scrubber.push(text), event });
    this.#touched.add(channel);
    if (channel.scrubber.holding) this.#holding.add(channel);
    else this.#holding.delete(channel);
  }

  /** Ends the texts of these groups: what their scrubbers held back goes with their last piece. */
  #endTexts(ends: readonly string[] | 'all'): void {
    if (ends !== 'all' && ends.length === 0) return;
    for (const channel of this.#holding) {
      if (ends !== 'all' && !ends.includes(channel.group)) continue;
      // A channel holds back only after a piece of it was queued, and the queue outlives the hold.
      channel.queued.at(-1)!.output += channel.scrubber.end();
      this.#holding.delete(channel);
    }
  }

  /**
   * Sends the held events on. A channel whose pieces came out as they went in keeps its events' bytes;
   * one where the scrubber changed something (the key, or a long start of it at the end) has its
   * pieces rewritten to what came out, which joins to the scrubbed text.
   */
  #release(): void {
    for (const channel of this.#touched) {
      const { queued } = channel;
      const changed =
        queued.length === 1
          ? queued[0]!.output !== queued[0]!.original
          : joined(queued, 'output') !== joined(queued, 'original');
      if (changed)
        for (const { piece, output, event } of queued) {
          piece.holder[piece.field] = output;
          event.rewrite = true;
        }
      channel.queued = [];
    }
    this.#touched.clear();
    for (const held of this.#held) {
      if (!held.rewrite) {
        this.#out += held.bytes;
        continue;
      }
      // Re-encoded by the one SSE codec: the event's name and data (an `id:` line would not survive).
      this.#asRead = false;
      this.#out += latin1(encodeSse(JSON.stringify(held.data), held.name));
    }
    this.#held = [];
  }
}

/** A text field of one streamed event, and which of the texts a client joins it belongs to. */
export interface TextPiece {
  /** The text it is joined to: a choice's content, a tool call's arguments, a content block's text. */
  channel: string;
  /** What ends that text together with others: a choice, an output item, a content block. */
  group: string;
  /** Where the piece is in the parsed event (so that it can be rewritten). */
  holder: Record<string, unknown>;
  field: string;
}

/** What one event adds to the texts a client joins, and which texts end with it. */
export interface StreamedText {
  pieces: TextPiece[];
  /** Groups whose texts end with this event; `'all'` when the answer ends. */
  ends: readonly string[] | 'all';
}

const NOTHING: StreamedText = { pieces: [], ends: [] };

/**
 * The text pieces of one parsed event of a streaming format: a chat completion chunk
 * (`choices[].delta`: content, reasoning, refusal, each tool call's arguments), an Anthropic Messages
 * event (`content_block_*`: text, thinking, tool input JSON, per block index) or an OpenAI Responses
 * event (any `*.delta` with a string `delta`, per output item and part; `*.done` ends the item).
 */
export function streamedTextOf(data: unknown): StreamedText {
  if (!isRecord(data)) return NOTHING;
  if (Array.isArray(data.choices)) return chatTextOf(data.choices);
  const type = data.type;
  if (typeof type !== 'string') return NOTHING;
  switch (type) {
    case 'content_block_start':
      return blockTextOf(data.index, data.content_block, BLOCK_START_FIELDS);
    case 'content_block_delta':
      return blockTextOf(data.index, data.delta, BLOCK_DELTA_FIELDS);
    case 'content_block_stop':
      return { pieces: [], ends: [`block ${String(data.index)}`] };
    case 'message_delta':
    case 'message_stop':
    case 'response.completed':
    case 'response.incomplete':
    case 'response.failed':
    case 'error':
      return { pieces: [], ends: 'all' };
  }
  const item = typeof data.output_index === 'number' ? `item ${data.output_index}` : null;
  if (type.endsWith('.delta') && typeof data.delta === 'string') {
    const part = `${String(data.content_index)} ${String(data.summary_index)}`;
    const channel = `${type.slice(0, -'.delta'.length)} ${item ?? ''} ${part}`;
    return { pieces: [{ channel, group: item ?? '', holder: data, field: 'delta' }], ends: [] };
  }
  if (type.endsWith('.done')) return { pieces: [], ends: item ? [item] : 'all' };
  return NOTHING;
}

const CHAT_DELTA_FIELDS = ['content', 'reasoning_content', 'reasoning', 'refusal'];
const BLOCK_START_FIELDS = ['text', 'thinking'];
const BLOCK_DELTA_FIELDS = ['text', 'thinking', 'partial_json'];

function chatTextOf(choices: readonly unknown[]): StreamedText {
  const pieces: TextPiece[] = [];
  const ends: string[] = [];
  for (const [position, choice] of choices.entries()) {
    if (!isRecord(choice)) continue;
    const group = `choice ${typeof choice.index === 'number' ? choice.index : position}`;
    const delta = choice.delta;
    if (isRecord(delta)) {
      for (const field of CHAT_DELTA_FIELDS)
        if (typeof delta[field] === 'string')
          pieces.push({ channel: `${group} ${field}`, group, holder: delta, field });
      const calls: unknown[] = Array.isArray(delta.tool_calls) ? delta.tool_calls : [];
      for (const [at, call] of calls.entries()) {
        if (!isRecord(call) || !isRecord(call.function) || typeof call.function.arguments !== 'string')
          continue;
        const index = typeof call.index === 'number' ? call.index : at;
        pieces.push({ channel: `${group} tool ${index}`, group, holder: call.function, field: 'arguments' });
      }
    }
    if (typeof choice.finish_reason === 'string') ends.push(group);
  }
  return { pieces, ends };
}

function blockTextOf(index: unknown, holder: unknown, fields: string[]): StreamedText {
  if (!isRecord(holder)) return NOTHING;
  const group = `block ${String(index)}`;
  const pieces: TextPiece[] = [];
  for (const field of fields)
    if (typeof holder[field] === 'string')
      pieces.push({ channel: `${group} ${field}`, group, holder, field });
  return { pieces, ends: [] };
}

/** One of the texts a client joins from deltas. */
interface Channel {
  readonly group: string;
  readonly scrubber: StreamScrubber;
  /** Its pieces in the held events, in order. */
  queued: QueuedPiece[];
}

/** A piece of a channel's text in a held event; it refers to the piece, not a copy: one is made per delta. */
interface QueuedPiece {
  piece: TextPiece;
  original: string;
  /** What the scrubber let out for it: held-back text comes out with a later piece. */
  output: string;
  event: HeldEvent;
}

interface HeldEvent {
  /** Its bytes as latin1, a key that stood whole in them already replaced. */
  bytes: string;
  name: string | undefined;
  /** Its parsed data, when it was parsed: what is re-encoded when its text is rewritten. */
  data: unknown;
  rewrite: boolean;
}

/**
 * A blank line, which ends an SSE event: two line ends (`\r\n`, `\n`, `\r`), neither `\r` the first
 * half of a `\r\n` (a last `\r` waits for the next byte: events are cut alike however reads are).
 */
const BLANK_LINE = /(?:\r\n|\n|\r(?!\n))(?:\r\n|\n|\r(?=[^\n]))/g;
const NON_ASCII = /[^\x00-\x7f]/;
/** Named events that carry text but are not `*.delta` (Anthropic's). */
const TEXT_EVENTS = new Set(['content_block_start', 'content_block_delta']);
const EMPTY = new Uint8Array(0);

function joined(pieces: QueuedPiece[], which: 'original' | 'output'): string {
  let text = '';
  for (const piece of pieces) text += piece[which];
  return text;
}

/** Every string of a parsed event scrubbed as a whole text (`scrubEndedText`); whether any changed. */
function scrubEndedTexts(value: unknown, secret: string): boolean {
  if (typeof value !== 'object' || value === null) return false;
  let changed = false;
  const record = value as Record<string, unknown>;
  for (const [key, item] of Object.entries(record)) {
    if (typeof item !== 'string') changed = scrubEndedTexts(item, secret) || changed;
    else {
      const scrubbed = scrubEndedText(item, secret);
      if (scrubbed !== item) {
        record[key] = scrubbed;
        changed = true;
      }
    }
  }
  return changed;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}
