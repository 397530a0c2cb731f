import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { encodeSse } from '../../src/http/sse.ts';

/**
 * A fake Anthropic Messages API (`POST /v1/messages`, and `POST /v1/messages/count_tokens` answering
 * `{input_tokens}` — from a `message` script's `usage.input_tokens`, else estimated) on a real socket, speaking the wire format of
 * https://docs.claude.com/en/api/messages and /en/docs/build-with-claude/streaming: the same auth and
 * version headers, validation errors, error envelopes, ids, and SSE event sequence (`message_start`,
 * `content_block_start`, `ping`, `content_block_delta`, `content_block_stop`, `message_delta`,
 * `message_stop`). Each request is answered by a script the test chooses.
 *
 * ```ts
 * const fake = await startFakeAnthropic();
 * fake.setScript({ type: 'message', content: [{ type: 'text', text: 'Hi' }] });
 * fake.setScript((request, index) => (index === 0 ? { type: 'error', status: 529, errorType: 'overloaded_error', message: 'Overloaded' } : { type: 'message' }));
 * ```
 */

/** The key the fake accepts unless `apiKeys` says otherwise (made at run time: no real-looking key is committed). */
export const FAKE_ANTHROPIC_KEY = `sk-ant-fake-${randomBytes(8).toString('hex')}`;

/** A content block of the scripted answer. Streamed, text and tool input arrive in several deltas. */
export type FakeBlock =
  /** `text` as one string is streamed word by word; as an array, one `text_delta` per element. */
  | { type: 'text'; text: string | string[] }
  /**
   * `fragments` are the exact `input_json_delta` pieces (they must join to JSON of `input`); by default
   * the JSON is cut in three. `id` defaults to a fresh `toolu_…`.
   */
  | { type: 'tool_use'; name: string; input: Record<string, unknown>; id?: string; fragments?: string[] }
  /** Extended thinking: streamed as `thinking_delta` then `signature_delta`. */
  | { type: 'thinking'; thinking: string };

/** Token counts to report; missing ones are estimated from the request and answer (cache: 0). */
export interface FakeUsage {
  input_tokens?: number;
  output_tokens?: number;
  cache_creation_input_tokens?: number;
  cache_read_input_tokens?: number;
}

/** What happens to a stream after `afterEvents` SSE events have been written (streaming only). */
export interface StreamInterrupt {
  afterEvents: number;
  then:
    | { type: 'error'; errorType: string; message: string } // an `event: error`, then the response ends
    | { type: 'stall' } // nothing more, connection kept open
    | { type: 'disconnect' }; // the socket is destroyed
}

/** How the fake answers one request. */
export type FakeAnthropicScript =
  /**
   * A message, as JSON or as a stream depending on the request's `stream`. `stopReason` defaults to
   * `tool_use` when there is a tool_use block, else `end_turn`. `deltaUsage: 'cumulative'` (default,
   * today's API) repeats input and cache counts in `message_delta`; `'output-only'` sends only
   * `output_tokens` there, as older API responses did. `eventDelayMs` paces stream events.
   */
  | {
      type: 'message';
      content?: FakeBlock[];
      stopReason?: 'end_turn' | 'max_tokens' | 'stop_sequence' | 'tool_use' | 'pause_turn' | 'refusal';
      usage?: FakeUsage;
      deltaUsage?: 'cumulative' | 'output-only';
      eventDelayMs?: number;
      /**
       * Streaming: each event goes out in two socket writes, `splitWritesMs` apart, cut in the middle
       * of its text (what a key split across two network reads looks like to the gateway).
       */
      splitWritesMs?: number;
      interrupt?: StreamInterrupt;
    }
  /** An HTTP error with Anthropic's envelope, e.g. 429 `rate_limit_error` with `{ 'retry-after': '2' }`. */
  | { type: 'error'; status: number; errorType: string; message: string; headers?: Record<string, string> }
  /** No answer at all (`before-headers`), or a 200 status line and headers and then nothing. */
  | { type: 'stall'; phase: 'before-headers' | 'after-headers' }
  /** Anything else, byte for byte. */
  | { type: 'raw'; status: number; headers?: Record<string, string>; body: string };

/** Chooses the answer to a request; `index` counts the requests this script has answered, from 0. */
export type FakeAnthropicScriptFn = (request: FakeAnthropicRequest, index: number) => FakeAnthropicScript;

export interface FakeAnthropicOptions {
  /** Keys accepted in `x-api-key`; default `[FAKE_ANTHROPIC_KEY]`. */
  apiKeys?: string[];
  /** The first script; default: a short text answer. */
  script?: FakeAnthropicScript | FakeAnthropicScriptFn;
  /** Pause between stream events for every script that does not set its own; default 0. */
  eventDelayMs?: number;
}

export interface FakeAnthropicRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** The parsed JSON body (`undefined` when it was not JSON). */
  body: unknown;
  /** The client went away before the response was complete; updated as it happens. */
  aborted: boolean;
  /** Resolves once the response is over, completed or aborted. */
  closed: Promise<void>;
}

export interface FakeAnthropic {
  /** Base URL, without `/v1`: what a credential's `baseUrl` would be. */
  url: string;
  requests: FakeAnthropicRequest[];
  setScript(script: FakeAnthropicScript | FakeAnthropicScriptFn): void;
  close(): Promise<void>;
}

const DEFAULT_CONTENT: FakeBlock[] = [{ type: 'text', text: 'Hello! How can I help you today?' }];
const DEFAULT_SCRIPT: FakeAnthropicScript = { type: 'message', content: DEFAULT_CONTENT };

/** Starts the fake on 127.0.0.1 and a free port. */
export async function startFakeAnthropic(options: FakeAnthropicOptions = {}): Promise<FakeAnthropic> {
  const apiKeys = options.apiKeys ?? [FAKE_ANTHROPIC_KEY];
  let scriptFn = toScriptFn(options.script ?? DEFAULT_SCRIPT);
  let scripted = 0;
  const requests: FakeAnthropicRequest[] = [];

  const server = createServer((incoming, response) => {
    let markClosed = () => {};
    const record: FakeAnthropicRequest = {
      method: incoming.method ?? 'GET',
      path: incoming.url ?? '/',
      headers: incoming.headers,
      body: undefined,
      aborted: false,
      closed: new Promise<void>((resolve) => (markClosed = resolve)),
    };
    requests.push(record);
    // `close` on the response fires for a finished response and for a vanished client alike.
    response.on('close', () => {
      if (!response.writableFinished) record.aborted = true;
      markClosed();
    });
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      try {
        record.body = text === '' ? undefined : (JSON.parse(text) as unknown);
      } catch {
        record.body = undefined;
      }
      const rejection = checkRequest(record, text, apiKeys);
      if (rejection) return sendError(response, rejection.status, rejection.type, rejection.message);
      const script = scriptFn(record, scripted++);
      void answer(response, record, script, options.eventDelayMs ?? 0);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    setScript(script) {
      scriptFn = toScriptFn(script);
      scripted = 0;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

function toScriptFn(script: FakeAnthropicScript | FakeAnthropicScriptFn): FakeAnthropicScriptFn {
  return typeof script === 'function' ? script : () => script;
}

// ----- validation, as the real API does it -----------------------------------------------------------

interface Rejection {
  status: number;
  type: string;
  message: string;
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function blocksOf(message: Record<string, unknown>): Record<string, unknown>[] {
  const content = message.content;
  if (typeof content === 'string') return [{ type: 'text', text: content }];
  return Array.isArray(content) ? content.filter(isObject) : [];
}

const COUNT_TOKENS_PATH = '/v1/messages/count_tokens';

function isCountTokens(record: FakeAnthropicRequest): boolean {
  return new URL(record.path, 'http://fake').pathname === COUNT_TOKENS_PATH;
}

function checkRequest(record: FakeAnthropicRequest, text: string, apiKeys: string[]): Rejection | null {
  const path = new URL(record.path, 'http://fake').pathname;
  if (record.method !== 'POST' || (path !== '/v1/messages' && path !== COUNT_TOKENS_PATH)) {
    return { status: 404, type: 'not_found_error', message: 'Not Found' };
  }
  const key = header(record.headers, 'x-api-key');
  if (key === undefined)
    return { status: 401, type: 'authentication_error', message: 'x-api-key header is required' };
  if (!apiKeys.includes(key))
    return { status: 401, type: 'authentication_error', message: 'invalid x-api-key' };
  if (header(record.headers, 'anthropic-version') === undefined) {
    return { status: 400, type: 'invalid_request_error', message: 'anthropic-version: header is required' };
  }
  const invalid = (message: string): Rejection => ({ status: 400, type: 'invalid_request_error', message });
  const body = record.body;
  if (!isObject(body)) {
    return invalid(
      text === '' ? 'messages: Field required' : 'There was an issue with the request body: invalid JSON',
    );
  }
  if (typeof body.model !== 'string') return invalid('model: Field required');
  if (typeof body.max_tokens !== 'number' && path !== COUNT_TOKENS_PATH)
    return invalid('max_tokens: Field required');
  if (!Array.isArray(body.messages)) return invalid('messages: Field required');
  if (body.messages.length === 0) return invalid('messages: at least one message is required');
  const messages = body.messages.filter(isObject);
  for (const [i, message] of messages.entries()) {
    if (message.role !== 'user' && message.role !== 'assistant') {
      return invalid(
        `messages.${i}.role: Unexpected role "${String(message.role)}". The Messages API accepts a top-level \`system\` parameter, not "system" as an input message role.`,
      );
    }
    const blocks = blocksOf(message);
    if (blocks.length === 0) return invalid(`messages.${i}: all messages must have non-empty content`);
    for (const [j, block] of blocks.entries()) {
      if (block.type === 'text' && block.text === '') {
        return invalid(`messages.${i}.content.${j}.text: text content blocks must be non-empty`);
      }
      if (block.type === 'tool_use' && !isObject(block.input)) {
        return invalid(`messages.${i}.content.${j}.tool_use.input: Input should be a valid dictionary`);
      }
    }
    const previous = i > 0 ? messages[i - 1] : undefined;
    const offered = new Set(
      previous?.role === 'assistant'
        ? blocksOf(previous)
            .filter((block) => block.type === 'tool_use')
            .map((block) => block.id)
        : [],
    );
    for (const [j, block] of blocks.entries()) {
      if (block.type === 'tool_result' && !offered.has(block.tool_use_id)) {
        return invalid(
          `messages.${i}.content.${j}: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${String(block.tool_use_id)}. Each \`tool_result\` block must have a corresponding \`tool_use\` block in the previous message.`,
        );
      }
    }
    const next = messages[i + 1];
    if (message.role === 'assistant' && next) {
      const answered = new Set(
        blocksOf(next)
          .filter((block) => block.type === 'tool_result')
          .map((block) => block.tool_use_id),
      );
      const missing = blocks.filter((block) => block.type === 'tool_use' && !answered.has(block.id));
      if (missing.length > 0) {
        return invalid(
          `messages.${i + 1}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${missing.map((block) => String(block.id)).join(', ')}. Each \`tool_use\` block must have a corresponding \`tool_result\` block in the next message.`,
        );
      }
    }
  }
  return null;
}

// ----- answers -----------------------------------------------------------------------------------------

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

function base62(length: number): string {
  return [...randomBytes(length)].map((byte) => BASE62[byte % 62]).join('');
}

/** Ids shaped like Anthropic's: `msg_01…`, `toolu_01…`, `req_011C…`. */
const newId = {
  message: () => `msg_01${base62(22)}`,
  toolUse: () => `toolu_01${base62(22)}`,
  request: () => `req_011C${base62(20)}`,
};

function sendError(
  response: ServerResponse,
  status: number,
  type: string,
  message: string,
  headers: Record<string, string> = {},
): void {
  const requestId = newId.request();
  response
    .writeHead(status, {
      'content-type': 'application/json',
      'request-id': requestId,
      ...(status === 429 || status >= 500 ? { 'x-should-retry': 'true' } : {}),
      ...headers,
    })
    .end(JSON.stringify({ type: 'error', error: { type, message }, request_id: requestId }));
}

async function answer(
  response: ServerResponse,
  request: FakeAnthropicRequest,
  script: FakeAnthropicScript,
  defaultDelayMs: number,
): Promise<void> {
  switch (script.type) {
    case 'error':
      return sendError(response, script.status, script.errorType, script.message, script.headers);
    case 'raw':
      response.writeHead(script.status, script.headers ?? {}).end(script.body);
      return;
    case 'stall':
      if (script.phase === 'after-headers') {
        const stream = isObject(request.body) && request.body.stream === true;
        response.writeHead(200, {
          'content-type': stream ? 'text/event-stream; charset=utf-8' : 'application/json',
        });
        response.flushHeaders();
      }
      return; // and never anything more: the client's timeout has to act.
    case 'message': {
      if (isCountTokens(request)) {
        const body = isObject(request.body) ? request.body : {};
        const counted = JSON.stringify([body.system ?? null, body.messages, body.tools ?? null]);
        const input_tokens = script.usage?.input_tokens ?? estimateTokens(counted);
        response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ input_tokens }));
        return;
      }
      const message = buildMessage(request, script);
      if (isObject(request.body) && request.body.stream === true) {
        return stream(response, message, script, script.eventDelayMs ?? defaultDelayMs);
      }
      response
        .writeHead(200, { 'content-type': 'application/json', 'request-id': newId.request() })
        .end(JSON.stringify(message.json));
      return;
    }
  }
}

interface ResolvedBlock {
  block: FakeBlock;
  id: string;
}

interface BuiltMessage {
  id: string;
  model: string;
  blocks: ResolvedBlock[];
  stopReason: string;
  usage: Required<FakeUsage>;
  /** The non-streaming body. */
  json: Record<string, unknown>;
}

const textOf = (block: { text: string | string[] }) => [block.text].flat().join('');
const estimateTokens = (text: string) => Math.max(1, Math.ceil(text.length / 4));

function buildMessage(
  request: FakeAnthropicRequest,
  script: Extract<FakeAnthropicScript, { type: 'message' }>,
): BuiltMessage {
  const body = isObject(request.body) ? request.body : {};
  const model = typeof body.model === 'string' ? body.model : 'claude-sonnet-4-5-20250929';
  const blocks = (script.content ?? DEFAULT_CONTENT).map((block) => ({
    block,
    id: block.type === 'tool_use' ? (block.id ?? newId.toolUse()) : '',
  }));
  const stopReason =
    script.stopReason ?? (blocks.some(({ block }) => block.type === 'tool_use') ? 'tool_use' : 'end_turn');
  const answerText = blocks
    .map(({ block }) =>
      block.type === 'text'
        ? textOf(block)
        : block.type === 'thinking'
          ? block.thinking
          : JSON.stringify(block.input),
    )
    .join('');
  const usage: Required<FakeUsage> = {
    input_tokens: script.usage?.input_tokens ?? estimateTokens(JSON.stringify(body.messages ?? [])),
    output_tokens: script.usage?.output_tokens ?? estimateTokens(answerText),
    cache_creation_input_tokens: script.usage?.cache_creation_input_tokens ?? 0,
    cache_read_input_tokens: script.usage?.cache_read_input_tokens ?? 0,
  };
  const id = newId.message();
  const content = blocks.map(({ block, id: blockId }) =>
    block.type === 'text'
      ? { type: 'text', text: textOf(block) }
      : block.type === 'tool_use'
        ? { type: 'tool_use', id: blockId, name: block.name, input: block.input }
        : { type: 'thinking', thinking: block.thinking, signature: signature() },
  );
  return {
    id,
    model,
    blocks,
    stopReason,
    usage,
    json: {
      id,
      type: 'message',
      role: 'assistant',
      model,
      content,
      stop_reason: stopReason,
      stop_sequence: null,
      usage: { ...usage, service_tier: 'standard' },
    },
  };
}

function signature(): string {
  return `Eq${randomBytes(48).toString('base64')}`;
}

function textPieces(text: string | string[]): string[] {
  if (Array.isArray(text)) return text;
  return text.match(/\s*\S+/g) ?? [text];
}

function jsonPieces(block: Extract<FakeBlock, { type: 'tool_use' }>): string[] {
  if (block.fragments) return block.fragments;
  const json = JSON.stringify(block.input);
  const third = Math.ceil(json.length / 3);
  return [json.slice(0, third), json.slice(third, 2 * third), json.slice(2 * third)].filter(
    (piece) => piece !== '',
  );
}

/** The SSE events of a message, in the order Anthropic sends them. */
function streamEvents(
  message: BuiltMessage,
  deltaUsage: 'cumulative' | 'output-only',
): { event: string; data: Record<string, unknown> }[] {
  const events: { event: string; data: Record<string, unknown> }[] = [];
  const add = (event: string, data: Record<string, unknown> = {}) =>
    events.push({ event, data: { type: event, ...data } });
  add('message_start', {
    message: {
      id: message.id,
      type: 'message',
      role: 'assistant',
      model: message.model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: {
        input_tokens: message.usage.input_tokens,
        cache_creation_input_tokens: message.usage.cache_creation_input_tokens,
        cache_read_input_tokens: message.usage.cache_read_input_tokens,
        output_tokens: 1,
        service_tier: 'standard',
      },
    },
  });
  for (const [index, { block, id }] of message.blocks.entries()) {
    const delta = (payload: Record<string, unknown>) => add('content_block_delta', { index, delta: payload });
    if (block.type === 'text') {
      add('content_block_start', { index, content_block: { type: 'text', text: '' } });
      if (index === 0) add('ping');
      for (const text of textPieces(block.text)) delta({ type: 'text_delta', text });
    } else if (block.type === 'tool_use') {
      add('content_block_start', {
        index,
        content_block: { type: 'tool_use', id, name: block.name, input: {} },
      });
      if (index === 0) add('ping');
      delta({ type: 'input_json_delta', partial_json: '' });
      for (const partial_json of jsonPieces(block)) delta({ type: 'input_json_delta', partial_json });
    } else {
      add('content_block_start', { index, content_block: { type: 'thinking', thinking: '', signature: '' } });
      if (index === 0) add('ping');
      for (const thinking of textPieces(block.thinking)) delta({ type: 'thinking_delta', thinking });
      delta({ type: 'signature_delta', signature: signature() });
    }
    add('content_block_stop', { index });
  }
  const { usage } = message;
  add('message_delta', {
    delta: { stop_reason: message.stopReason, stop_sequence: null },
    usage: deltaUsage === 'cumulative' ? usage : { output_tokens: usage.output_tokens },
  });
  add('message_stop');
  return events;
}

async function stream(
  response: ServerResponse,
  message: BuiltMessage,
  script: Extract<FakeAnthropicScript, { type: 'message' }>,
  delayMs: number,
): Promise<void> {
  response.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    'request-id': newId.request(),
  });
  const events = streamEvents(message, script.deltaUsage ?? 'cumulative');
  const interrupt = script.interrupt;
  for (const [written, { event, data }] of events.entries()) {
    if (response.destroyed) return;
    if (interrupt && written === interrupt.afterEvents) {
      const then = interrupt.then;
      if (then.type === 'error') {
        const error = { type: 'error', error: { type: then.errorType, message: then.message } };
        response.end(encodeSse(JSON.stringify(error), 'error'));
      } else if (then.type === 'disconnect') {
        // Let the events already written reach the client first, or it would see no stream at all.
        await new Promise<void>((resolve) => response.write('', () => resolve()));
        response.socket?.destroy();
      } else {
        response.flushHeaders();
      }
      return;
    }
    if (delayMs > 0 && written > 0) await sleep(delayMs);
    if (response.destroyed) return;
    const bytes = encodeSse(JSON.stringify(data), event);
    if (script.splitWritesMs === undefined) response.write(bytes);
    else {
      // In the middle of a text delta's text (where a key would be), else of the event.
      const text = (data.delta as { text?: unknown } | undefined)?.text;
      const at = typeof text === 'string' ? bytes.indexOf(JSON.stringify(text).slice(1, -1)) : -1;
      const middle = at >= 0 ? at + Math.floor((text as string).length / 2) : Math.floor(bytes.length / 2);
      response.write(bytes.slice(0, middle));
      await sleep(script.splitWritesMs);
      if (response.destroyed) return;
      response.write(bytes.slice(middle));
    }
  }
  response.end();
}
