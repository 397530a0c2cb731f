import type { Logger } from 'pino';
import { AccessRevoked } from '../auth/access-watch.ts';
import type { KeywayError } from '../errors.ts';
import { SseDecoder, type SseEvent } from '../http/sse.ts';
import type { UpstreamStreamingResponse } from '../providers/upstream-client.ts';
import type { ProviderAdapter, ResponseContext } from './adapters/adapter.ts';
import { UpstreamStreamError } from './adapters/adapter.ts';
import { translateOpenAiWireError, usageIn } from './adapters/openai-wire.ts';
import type { TokenCounts } from '../usage/prices.ts';
import type { ChatCompletion, ChatCompletionChunk, Usage } from './openai-types.ts';
import { ProviderFailure, providerInterrupted } from './provider-failure.ts';
import { scrubSecret, StreamScrubber } from './secret-scrubber.ts';
import { SseEventScrubber } from './sse-event-scrubber.ts';

/** A whole answer. */
export interface WholeCompletion {
  kind: 'whole';
  /** Time spent in Keyway so far, the provider's time excluded. */
  overheadMs: number;
  /** The answer, typed (parsed on first call for a pass-through answer). */
  completion(): ChatCompletion;
  /** OpenAI-wire pass-through: the provider's own body (the key scrubbed), to relay byte for byte. */
  passthrough: string | null;
}

/** A streamed answer: consume one of its two views, once. */
export interface StreamedCompletion {
  kind: 'stream';
  overheadMs: number;
  /**
   * The answer as typed chunks, the key scrubbed (also when split across chunks). A failure after the
   * first chunk is thrown as a typed error (`ProviderFailure`, `access_revoked`).
   */
  chunks(): AsyncIterable<ChatCompletionChunk>;
  /**
   * OpenAI-wire pass-through (null when translated): the provider's SSE events as they arrive, the key
   * scrubbed from the text the client joins from them, also when it is split across events (see
   * `SseEventScrubber`). A failure after the first byte ends the stream with `encodeError`'s bytes.
   */
  passthrough: PassthroughView | null;
}

export interface PassthroughView {
  /** As a web stream (any runtime). */
  toStream(encodeError: (failure: KeywayError) => Uint8Array): ReadableStream<Uint8Array>;
  /** Straight into a byte sink such as Node's response: no web stream in between, the fast path. */
  pipeTo(sink: ByteSink, encodeError: (failure: KeywayError) => Uint8Array): void;
}

/** Where pass-through bytes go: `write` says false when the sink is full (wait for `drain`). */
export interface ByteSink {
  write(bytes: Uint8Array): boolean;
  end(): void;
  once(event: 'drain' | 'close', listener: () => void): unknown;
  /** Whether everything was written before the sink closed. */
  readonly writableFinished: boolean;
}

export type Completion = WholeCompletion | StreamedCompletion;

/** What relaying one provider answer needs. */
export interface Relay {
  response: UpstreamStreamingResponse;
  /** The translating adapter; none for OpenAI-wire pass-through. */
  adapter: ProviderAdapter | null;
  context: ResponseContext;
  /** To scrub from whatever the provider sends back. */
  secret: string | null;
  /** Aborts when the principal loses access. */
  revoked: AbortSignal | null;
  /**
   * Called once when the answer has ended, however it ended: records usage, settles limits, releases
   * the watch. `relayed` estimates the output tokens from what was relayed (a chunk per token, or a
   * whole answer's size / 4): what an answer is charged by when the provider reported no usage.
   */
  finish(status: number, used: TokenCounts | null, relayed: number): void;
  log: Logger;
  /**
   * Where a pass-through answer carries its token counts (an exchange's own format); chat
   * completions' `usage` when absent.
   */
  usage?: {
    ofWhole(text: string): TokenCounts | null;
    ofEvent(event: SseEvent, before: TokenCounts | null): TokenCounts | null;
  };
}

/** Chat completions' `usage` as token counts. */
export function tokensOf(usage: Usage | null | undefined): TokenCounts | null {
  if (!usage) return null;
  return {
    inputTokens: usage.prompt_tokens ?? 0,
    outputTokens: usage.completion_tokens ?? 0,
    cachedTokens: usage.prompt_tokens_details?.cached_tokens ?? 0,
  };
}

const chatUsage = {
  ofWhole: (text: string) => tokensOf(usageIn(text)),
  ofEvent: (event: SseEvent, before: TokenCounts | null) => tokensOf(usageIn(event.data)) ?? before,
};

const MAX_WHOLE_BYTES = 64 * 1024 * 1024;

/** Reads a whole (non-streamed) answer. */
export async function readWhole(relay: Relay): Promise<Pick<WholeCompletion, 'completion' | 'passthrough'>> {
  let text: string;
  try {
    text = await readText(relay.response);
  } catch (error) {
    relay.finish(502, null, 0);
    throw failureAfterStart(relay, error, true);
  }
  const { adapter, secret } = relay;
  if (!adapter) {
    const used = (relay.usage ?? chatUsage).ofWhole(text);
    relay.finish(200, used, used ? 0 : Math.ceil(text.length / 4));
    const passthrough = scrubSecret(text, secret);
    let parsed: ChatCompletion | undefined;
    return {
      passthrough,
      completion: () => (parsed ??= parseWireCompletion(passthrough)),
    };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    relay.finish(502, null, 0);
    throw new ProviderFailure('upstream_invalid', 'The provider answered with something that is not JSON.', {
      status: 502,
    });
  }
  let completion: ChatCompletion;
  try {
    completion = adapter.translateResponse(parsed, relay.context);
  } catch (error) {
    relay.finish(502, null, 0);
    if (error instanceof UpstreamStreamError)
      throw new ProviderFailure('upstream_error', scrubSecret(error.info.message, secret), {
        status: 502,
        type: error.info.type,
        code: error.info.code,
      });
    throw error;
  }
  relay.finish(
    200,
    tokensOf(completion.usage),
    completion.usage ? 0 : Math.ceil(JSON.stringify(completion.choices).length / 4),
  );
  const scrubbed = secret ? (scrubDeep(completion, secret) as ChatCompletion) : completion;
  return { passthrough: null, completion: () => scrubbed };
}

/** An OpenAI-wire provider's answer, typed as far as Keyway's own consumers read it. */
function parseWireCompletion(text: string): ChatCompletion {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || !Array.isArray((parsed as ChatCompletion).choices))
    throw new ProviderFailure(
      'upstream_invalid',
      'The provider answered with something that is not a completion.',
      {
        status: 502,
      },
    );
  return parsed as ChatCompletion;
}

/**
 * What both pass-through views do with the provider's bytes: watch them for `usage`, scrub the key
 * from the events as the client will reassemble their text (held-back events are released, or
 * rewritten, later or at the end), and record the answer once.
 */
class PassthroughBytes {
  readonly #relay: Relay;
  /** With a key: the events, scrubbed (it decodes them for `usage` too). */
  readonly #scrubber: SseEventScrubber | null;
  /** Without one: the events decoded for `usage` only, the bytes relayed as they come. */
  readonly #decoder = new SseDecoder();
  readonly #text = new TextDecoder();
  #usage: TokenCounts | null = null;
  readonly #usageOf: NonNullable<Relay['usage']>['ofEvent'];
  #events = 0;
  #finished = false;

  constructor(relay: Relay) {
    this.#relay = relay;
    this.#usageOf = (relay.usage ?? chatUsage).ofEvent;
    this.#scrubber = relay.secret ? new SseEventScrubber(relay.secret, (event) => this.#count(event)) : null;
  }

  /** The bytes to send on for this read; empty while all of it is held back. */
  push(chunk: Buffer): Uint8Array {
    if (this.#scrubber) return this.#scrubber.push(chunk);
    for (const event of this.#decoder.push(this.#text.decode(chunk, { stream: true }))) this.#count(event);
    return chunk;
  }

  /** What was held back, once the provider's bytes end (or break off). */
  rest(): Uint8Array {
    return this.#scrubber?.end() ?? EMPTY;
  }

  /** Records the answer, once, however it ended. */
  finish(status: number): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#relay.finish(status, this.#usage, this.#events);
  }

  #count(event: SseEvent): void {
    this.#events++;
    this.#usage = this.#usageOf(event, this.#usage);
  }
}

const EMPTY = new Uint8Array(0);

/**
 * The pass-through view as a web stream. Pull-based with no buffer of its own: a slow client slows the
 * provider read, nothing piles up.
 */
export function passthroughStream(
  relay: Relay,
  encodeError: (failure: KeywayError) => Uint8Array,
): ReadableStream<Uint8Array> {
  const { response } = relay;
  const iterator = response.body[Symbol.asyncIterator]();
  const bytes = new PassthroughBytes(relay);
  const enqueue = (stream: ReadableStreamDefaultController<Uint8Array>, piece: Uint8Array) => {
    if (piece.length > 0) stream.enqueue(piece);
    return piece.length > 0;
  };
  return new ReadableStream<Uint8Array>(
    {
      // pull() must enqueue before it returns: a pull that yields nothing is not called again.
      pull: async (stream) => {
        try {
          for (;;) {
            const next = await iterator.next();
            if (next.done) {
              enqueue(stream, bytes.rest());
              bytes.finish(200);
              stream.close();
              return;
            }
            if (enqueue(stream, bytes.push(next.value))) return;
          }
        } catch (error) {
          enqueue(stream, bytes.rest());
          stream.enqueue(encodeError(failureAfterStart(relay, error, false)));
          bytes.finish(502);
          response.body.destroy();
          stream.close();
        }
      },
      cancel: () => {
        // The client went away: stop the provider at once.
        response.body.destroy();
        bytes.finish(499);
      },
    },
    { highWaterMark: 0 },
  );
}

/**
 * The pass-through view written straight to a byte sink (Node's response): data events from the
 * provider, scrubbed, written on; a full sink pauses the provider read until it drains; a sink that
 * closes early (the client went away) stops the provider at once.
 */
export function pipePassthrough(
  relay: Relay,
  sink: ByteSink,
  encodeError: (failure: KeywayError) => Uint8Array,
): void {
  const body = relay.response.body as unknown as NodeJS.ReadableStream & {
    destroy(error?: Error): void;
    on(event: 'data', listener: (chunk: Buffer) => void): unknown;
    on(event: 'end', listener: () => void): unknown;
    on(event: 'error', listener: (error: Error) => void): unknown;
  };
  const bytes = new PassthroughBytes(relay);
  let ended = false;
  // Nothing is written to a sink that has closed (writing to a closed response would be an error).
  let closed = false;
  const write = (piece: Uint8Array) => {
    if (closed || piece.length === 0) return;
    if (!sink.write(piece)) {
      body.pause();
      sink.once('drain', () => body.resume());
    }
  };
  sink.once('close', () => {
    closed = true;
    if (sink.writableFinished) return;
    body.destroy();
    bytes.finish(499);
  });
  body.on('data', (chunk: Buffer) => write(bytes.push(chunk)));
  body.on('end', () => {
    ended = true;
    write(bytes.rest());
    bytes.finish(200);
    if (!closed) sink.end();
  });
  body.on('error', (error: Error) => {
    if (ended) return;
    ended = true;
    write(bytes.rest());
    write(encodeError(failureAfterStart(relay, error, false)));
    bytes.finish(502);
    if (!closed) sink.end();
  });
}

/**
 * The typed view: chunks from a translating adapter, or decoded from an OpenAI-wire stream (whose
 * mid-stream `{"error":…}` events become typed failures). The key is scrubbed from content across
 * chunks. Ending the iteration early (a consumer's `break` or `return`) stops the provider.
 */
export async function* typedChunks(relay: Relay): AsyncGenerator<ChatCompletionChunk> {
  const { response, adapter, secret } = relay;
  const translator = adapter?.createStreamTranslator(relay.context) ?? null;
  const decoder = new SseDecoder();
  const textDecoder = new TextDecoder();
  const scrubber = secret ? new ChunkScrubber(secret) : null;
  let usage: Usage | null = null;
  let status = 499;
  let streamed = 0;
  const clean = (chunk: ChatCompletionChunk) => {
    streamed++;
    return scrubber ? scrubber.scrub(chunk) : chunk;
  };
  try {
    try {
      const chunksOf = (event: SseEvent): ChatCompletionChunk[] => {
        if (translator) return translator.push(event);
        const chunk = parseWireChunk(event.data);
        if (chunk?.usage) usage = chunk.usage;
        return chunk ? [chunk] : [];
      };
      for await (const piece of response.body) {
        for (const event of decoder.push(textDecoder.decode(piece, { stream: true })))
          for (const chunk of chunksOf(event)) yield clean(chunk);
      }
      // A last event without its blank line still counts.
      for (const event of decoder.end()) for (const chunk of chunksOf(event)) yield clean(chunk);
      if (translator) for (const chunk of translator.end()) yield clean(chunk);
      const rest = scrubber?.end(relay.context);
      if (rest) yield rest;
      status = 200;
    } catch (error) {
      status = 502;
      throw failureAfterStart(relay, error, false);
    }
  } finally {
    if (status !== 200) response.body.destroy();
    relay.finish(status, tokensOf(translator ? translator.usage() : usage), streamed);
  }
}

/** One event of an OpenAI-wire stream as a chunk; `undefined` for `[DONE]` and what is not a chunk. */
function parseWireChunk(data: string): ChatCompletionChunk | undefined {
  if (data === '[DONE]') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  if ('error' in parsed) {
    const info = translateOpenAiWireError(500, data);
    throw new UpstreamStreamError({ ...info, type: info.type, code: info.code ?? 'provider_error' });
  }
  return Array.isArray((parsed as { choices?: unknown }).choices)
    ? (parsed as ChatCompletionChunk)
    : undefined;
}

/** A failure after the first byte, typed: the provider's own error event, a revocation, or a cut. */
function failureAfterStart(relay: Relay, error: unknown, whole: boolean): KeywayError {
  if (relay.revoked?.aborted) return new AccessRevoked();
  if (error instanceof UpstreamStreamError) {
    relay.log.warn(
      { type: error.info.type, code: error.info.code },
      'upstream stream failed after the first byte',
    );
    return new ProviderFailure('upstream_error', scrubSecret(error.info.message, relay.secret), {
      status: 502,
      type: error.info.type,
      code: error.info.code,
    });
  }
  relay.log.warn({ code: (error as { code?: string }).code }, 'upstream answer broke off');
  return providerInterrupted(error, whole);
}

async function readText(response: UpstreamStreamingResponse): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response.body) {
    chunks.push(chunk);
    size += chunk.length;
    if (size > MAX_WHOLE_BYTES) throw new Error('response too large');
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Every string in a JSON value with the secret replaced. */
function scrubDeep(value: unknown, secret: string): unknown {
  if (typeof value === 'string') return scrubSecret(value, secret);
  if (Array.isArray(value)) return value.map((item) => scrubDeep(item, secret));
  if (typeof value === 'object' && value !== null)
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, scrubDeep(item, secret)]));
  return value;
}

/**
 * Scrubs the key from typed chunks: from each choice's content across chunks (a key streamed token by
 * token), and whole from every other string. Held-back content is released with the choice's
 * finishing chunk, or in one last chunk.
 */
class ChunkScrubber {
  readonly #secret: string;
  readonly #content = new Map<number, StreamScrubber>();
  /** Tool-call arguments, by choice and call index: a key can be streamed into them piece by piece too. */
  readonly #arguments = new Map<number, Map<number, StreamScrubber>>();

  constructor(secret: string) {
    this.#secret = secret;
  }

  scrub(chunk: ChatCompletionChunk): ChatCompletionChunk {
    const scrubbed = JSON.stringify(chunk).includes(this.#secret)
      ? (scrubDeep(chunk, this.#secret) as ChatCompletionChunk)
      : chunk;
    for (const choice of scrubbed.choices) {
      let scrubber = this.#content.get(choice.index);
      if (!scrubber) {
        scrubber = new StreamScrubber(this.#secret);
        this.#content.set(choice.index, scrubber);
      }
      const { content, tool_calls: calls } = choice.delta;
      if (typeof content === 'string') choice.delta.content = scrubber.push(content);
      for (const call of calls ?? []) {
        if (typeof call.function?.arguments !== 'string') continue;
        call.function.arguments = this.#argumentsOf(choice.index, call.index).push(call.function.arguments);
      }
      if (choice.finish_reason !== null) {
        const rest = scrubber.end();
        if (rest) choice.delta.content = (choice.delta.content ?? '') + rest;
        const held = this.#heldArguments(choice.index);
        if (held.length > 0) choice.delta.tool_calls = [...(choice.delta.tool_calls ?? []), ...held];
      }
    }
    return scrubbed;
  }

  #argumentsOf(choice: number, call: number): StreamScrubber {
    let calls = this.#arguments.get(choice);
    if (!calls) this.#arguments.set(choice, (calls = new Map()));
    let scrubber = calls.get(call);
    if (!scrubber) calls.set(call, (scrubber = new StreamScrubber(this.#secret)));
    return scrubber;
  }

  /** What is still held back of a choice's tool-call arguments, as deltas. */
  #heldArguments(choice: number): NonNullable<ChatCompletionChunk['choices'][number]['delta']['tool_calls']> {
    const held = [];
    for (const [index, scrubber] of this.#arguments.get(choice) ?? []) {
      const rest = scrubber.end();
      if (rest) held.push({ index, function: { arguments: rest } });
    }
    return held;
  }

  /** A last chunk with whatever content is still held back, if any. */
  end(context: ResponseContext): ChatCompletionChunk | null {
    const choices: ChatCompletionChunk['choices'] = [];
    for (const [index, scrubber] of this.#content) {
      const rest = scrubber.end();
      const held = this.#heldArguments(index);
      if (rest || held.length > 0)
        choices.push({
          index,
          delta: { ...(rest ? { content: rest } : {}), ...(held.length > 0 ? { tool_calls: held } : {}) },
          finish_reason: null,
        });
    }
    if (choices.length === 0) return null;
    return {
      id: context.id,
      object: 'chat.completion.chunk',
      created: context.created,
      model: context.model,
      choices,
    };
  }
}
