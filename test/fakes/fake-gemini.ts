import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/*
 * A fake Gemini API (generativelanguage.googleapis.com, v1beta) on a real socket, speaking the real
 * wire format: `POST /v1beta/models/{model}:generateContent` answers one pretty-printed
 * GenerateContentResponse; `:streamGenerateContent?alt=sse` answers `data: {chunk}\r\n\r\n` events
 * (no `[DONE]`; the stream just ends); `:batchEmbedContents` answers `{embeddings: [{values}]}` (one
 * per request, `outputDimensionality` long, deterministic per text); errors are Google's
 * `{error: {code, message, status, details}}`.
 * What each request gets is scripted: `setScript((request) => script)`.
 */

/** A function call as Gemini returns it: whole, never split across chunks. */
export interface FakeFunctionCall {
  name: string;
  args: Record<string, unknown>;
  /** Gemini 3 numbers its calls; older models send none. */
  id?: string;
  /** Gemini 2.5+/3 sign the first call of a batch; the signature must come back on replay. */
  thoughtSignature?: string;
}

/** One streamed event's content; `generateContent` merges them all into one candidate. */
export type FakeChunk =
  | { text: string; thought?: boolean }
  /** Several calls in one chunk are parallel calls. */
  | { functionCalls: FakeFunctionCall[] };

/** Token counts for the final chunk; earlier chunks carry only the prompt count, as Google does. */
export interface FakeUsage {
  promptTokenCount: number;
  candidatesTokenCount: number;
  thoughtsTokenCount?: number;
  cachedContentTokenCount?: number;
}

/** Google's error object, as it appears in bodies and inside a 200 stream. */
export interface GoogleError {
  code: number;
  message: string;
  status: string;
  details?: unknown[];
}

/** What the fake does with one request. */
export type GeminiScript =
  | {
      kind: 'reply';
      chunks: FakeChunk[];
      /** On the last chunk; default `STOP` (Gemini says STOP after function calls too). */
      finishReason?: string;
      usage?: FakeUsage;
      /** Pause before every streamed chunk after the first (and before a stream error). */
      chunkDelayMs?: number;
      /** Streaming only: after the chunks, an `error` event inside the 200 stream, then the end. */
      streamError?: GoogleError;
    }
  /** The prompt itself was blocked: no candidates, `promptFeedback.blockReason`. */
  | { kind: 'blocked'; blockReason: string }
  | { kind: 'error'; error: GoogleError; retryAfterSeconds?: number }
  /** `nothing`: never answer. `headers`: 200 and headers, then silence. */
  | { kind: 'stall'; after: 'nothing' | 'headers' };

/** A request as the script sees it. */
export interface FakeGeminiRequest {
  model: string;
  stream: boolean;
  /** Which method the path names. */
  action: 'generateContent' | 'streamGenerateContent' | 'batchEmbedContents' | 'countTokens';
  headers: IncomingHttpHeaders;
  /** The parsed JSON body (undefined when it was not JSON). */
  body: unknown;
}

/** A request as recorded, in arrival order. */
export interface RecordedGeminiRequest extends FakeGeminiRequest {
  method: string;
  /** Path and query string, as received. */
  path: string;
  /** The client went away before the fake finished its response. */
  aborted: boolean;
}

export interface FakeGeminiOptions {
  /** The only key accepted (in `x-goog-api-key`, or `?key=` as Google also allows). */
  apiKey?: string;
  /** Known models; any other answers 404 NOT_FOUND. Absent: every model exists. */
  models?: string[];
  /** Vector length of `batchEmbedContents` when a request names no `outputDimensionality`. */
  embeddingDimensions?: number;
}

export interface FakeGemini {
  /** The base URL, without `/v1beta`: what a credential's `baseUrl` would be. */
  url: string;
  apiKey: string;
  requests: RecordedGeminiRequest[];
  setScript(script: (request: FakeGeminiRequest) => GeminiScript): void;
  close(): Promise<void>;
}

export const FAKE_GEMINI_KEY = `AIza-fake-${randomBytes(16).toString('hex')}`;

/** Ready-made scripts for the common cases. */
export const geminiScripts = {
  text(text: string, usage?: FakeUsage): GeminiScript {
    return { kind: 'reply', chunks: [{ text }], ...(usage ? { usage } : {}) };
  },
  streamedText(pieces: string[], chunkDelayMs = 0): GeminiScript {
    return { kind: 'reply', chunks: pieces.map((text) => ({ text })), chunkDelayMs };
  },
  functionCalls(calls: FakeFunctionCall[], textFirst?: string): GeminiScript {
    const chunks: FakeChunk[] = textFirst === undefined ? [] : [{ text: textFirst }];
    return { kind: 'reply', chunks: [...chunks, { functionCalls: calls }] };
  },
  rateLimited(retryAfterSeconds = 1): GeminiScript {
    const message =
      'You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.';
    return {
      kind: 'error',
      retryAfterSeconds,
      error: {
        code: 429,
        message,
        status: 'RESOURCE_EXHAUSTED',
        details: [
          {
            '@type': 'type.googleapis.com/google.rpc.QuotaFailure',
            violations: [
              {
                quotaMetric: 'generativelanguage.googleapis.com/generate_content_free_tier_requests',
                quotaId: 'GenerateRequestsPerMinutePerProjectPerModel-FreeTier',
              },
            ],
          },
          { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: `${retryAfterSeconds}s` },
        ],
      },
    };
  },
  unavailable(): GeminiScript {
    return {
      kind: 'error',
      error: {
        code: 503,
        message: 'The model is overloaded. Please try again later.',
        status: 'UNAVAILABLE',
      },
    };
  },
} as const;

const DEFAULT_USAGE: FakeUsage = { promptTokenCount: 9, candidatesTokenCount: 7 };

/** Starts the fake on 127.0.0.1 (a free port); it answers "Hello from Gemini." until scripted. */
export async function startFakeGemini(options: FakeGeminiOptions = {}): Promise<FakeGemini> {
  const apiKey = options.apiKey ?? FAKE_GEMINI_KEY;
  const requests: RecordedGeminiRequest[] = [];
  let script: (request: FakeGeminiRequest) => GeminiScript = () => geminiScripts.text('Hello from Gemini.');
  let responses = 0;

  const server = createServer((incoming, response) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => {
      const path = incoming.url ?? '/';
      const url = new URL(path, 'http://fake');
      const route =
        /^\/v1beta\/models\/([^/:]+):(generateContent|streamGenerateContent|batchEmbedContents|countTokens)$/.exec(
          url.pathname,
        );
      const recorded: RecordedGeminiRequest = {
        method: incoming.method ?? 'GET',
        path,
        model: route?.[1] ? decodeURIComponent(route[1]) : '',
        stream: route?.[2] === 'streamGenerateContent',
        action: (route?.[2] ?? 'generateContent') as FakeGeminiRequest['action'],
        headers: incoming.headers,
        body: parseJson(Buffer.concat(chunks).toString('utf8')),
        aborted: false,
      };
      requests.push(recorded);
      response.on('close', () => {
        if (!response.writableEnded) recorded.aborted = true;
      });

      if (!route || recorded.method !== 'POST') {
        response.writeHead(404, { 'content-type': 'text/html; charset=UTF-8' });
        response.end(`<!DOCTYPE html><html lang=en><title>Error 404 (Not Found)!!1</title>`);
        return;
      }
      const key = header(incoming.headers, 'x-goog-api-key') ?? url.searchParams.get('key') ?? undefined;
      const rejection = keyRejection(key, apiKey) ?? unknownModel(recorded.model, options.models);
      if (rejection) {
        sendError(response, rejection);
        return;
      }
      // Google's SSE stream only with alt=sse; without it the stream is one JSON array, not faked here.
      if (recorded.stream && url.searchParams.get('alt') !== 'sse') {
        sendError(response, {
          code: 400,
          message: 'This fake only speaks alt=sse for streamGenerateContent.',
          status: 'INVALID_ARGUMENT',
        });
        return;
      }
      responses += 1;
      const meta = { modelVersion: recorded.model, responseId: responseId(responses) };
      const plan = script(recorded);
      if (recorded.action === 'countTokens' && plan.kind !== 'error' && plan.kind !== 'stall') {
        countTokens(recorded, response);
        return;
      }
      if (recorded.action === 'batchEmbedContents' && plan.kind !== 'error' && plan.kind !== 'stall') {
        embed(recorded, options.embeddingDimensions ?? 8, response);
        return;
      }
      void perform(plan, recorded.stream, meta, response);
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    apiKey,
    requests,
    setScript(next) {
      script = next;
    },
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Stalled responses hold their sockets open forever; close them with the server.
        server.closeAllConnections();
      });
    },
  };
}

/**
 * `countTokens` with a `generateContentRequest`, as Google checks it (it names the path's model; its
 * `contents` are there): `totalTokens` is one per four characters of every text part, the system
 * instruction included — what a test can compute too.
 */
function countTokens(recorded: RecordedGeminiRequest, response: ServerResponse): void {
  const request = (recorded.body as { generateContentRequest?: Record<string, unknown> } | undefined)
    ?.generateContentRequest;
  if (!request || request.model !== `models/${recorded.model}` || !Array.isArray(request.contents)) {
    sendError(response, {
      code: 400,
      message: 'generateContentRequest.model must name the model of the path, with contents.',
      status: 'INVALID_ARGUMENT',
    });
    return;
  }
  const texts: string[] = [];
  const collect = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(collect);
    else if (typeof value === 'object' && value !== null) {
      const text = (value as { text?: unknown }).text;
      if (typeof text === 'string') texts.push(text);
      for (const [key, inner] of Object.entries(value)) if (key !== 'text') collect(inner);
    }
  };
  collect([request.contents, request.systemInstruction]);
  const totalTokens = texts.reduce((sum, text) => sum + Math.ceil(text.length / 4), 0);
  response.writeHead(200, { 'content-type': 'application/json; charset=UTF-8' });
  response.end(
    JSON.stringify(
      { totalTokens, promptTokensDetails: [{ modality: 'TEXT', tokenCount: totalTokens }] },
      null,
      2,
    ),
  );
}

/** The vector the fake answers for one text: deterministic and float32-exact. */
export function fakeGeminiEmbedding(text: string, dimensions: number): number[] {
  let hash = 2166136261;
  for (const char of text) hash = Math.imul(hash ^ char.codePointAt(0)!, 16777619) >>> 0;
  const values: number[] = [];
  for (let i = 0; i < dimensions; i++) {
    hash = Math.imul(hash ^ (i + 7), 2246822519) >>> 0;
    values.push(Math.fround(hash / 2 ** 32 - 0.5));
  }
  return values;
}

/**
 * `batchEmbedContents` as Google checks it: every request names the path's model (`models/…`) and has
 * text parts; at most 100 requests per batch.
 */
function embed(recorded: RecordedGeminiRequest, defaultDimensions: number, response: ServerResponse): void {
  const body = recorded.body as { requests?: unknown } | undefined;
  const requests = Array.isArray(body?.requests) ? (body.requests as Record<string, unknown>[]) : null;
  const invalid = (message: string) =>
    sendError(response, { code: 400, message, status: 'INVALID_ARGUMENT' });
  if (!requests || requests.length === 0)
    return invalid('* BatchEmbedContentsRequest.requests: contents is not specified');
  if (requests.length > 100)
    return invalid('* BatchEmbedContentsRequest.requests: at most 100 requests can be in one batch');
  const embeddings: { values: number[] }[] = [];
  for (const [index, request] of requests.entries()) {
    if (request['model'] !== `models/${recorded.model}`)
      return invalid(
        `Model names should match in the batch request. requests[${index}].model is "${String(request['model'])}"; expected "models/${recorded.model}".`,
      );
    const parts = (request['content'] as { parts?: { text?: unknown }[] } | undefined)?.parts;
    if (!Array.isArray(parts) || parts.length === 0 || parts.some((part) => typeof part.text !== 'string'))
      return invalid(`* BatchEmbedContentsRequest.requests[${index}].content: contents is not specified`);
    const dimensions =
      typeof request['outputDimensionality'] === 'number'
        ? request['outputDimensionality']
        : defaultDimensions;
    embeddings.push({ values: fakeGeminiEmbedding(parts.map((part) => part.text).join(''), dimensions) });
  }
  sendJson(response, 200, { embeddings });
}

interface Meta {
  modelVersion: string;
  responseId: string;
}

async function perform(plan: GeminiScript, stream: boolean, meta: Meta, response: ServerResponse) {
  switch (plan.kind) {
    case 'stall':
      if (plan.after === 'headers') {
        response.writeHead(200, stream ? SSE_HEADERS : JSON_HEADERS);
        response.flushHeaders();
      }
      return;
    case 'error':
      sendError(response, plan.error, plan.retryAfterSeconds);
      return;
    case 'blocked': {
      const body = {
        promptFeedback: { blockReason: plan.blockReason },
        usageMetadata: {
          promptTokenCount: DEFAULT_USAGE.promptTokenCount,
          totalTokenCount: DEFAULT_USAGE.promptTokenCount,
        },
        ...meta,
      };
      if (stream) {
        response.writeHead(200, SSE_HEADERS);
        response.end(sseEvent(body));
      } else sendJson(response, 200, body);
      return;
    }
    case 'reply':
      if (stream) await streamReply(plan, meta, response);
      else sendJson(response, 200, wholeReply(plan, meta));
  }
}

type ReplyScript = Extract<GeminiScript, { kind: 'reply' }>;

function wholeReply(plan: ReplyScript, meta: Meta): Record<string, unknown> {
  const parts: Record<string, unknown>[] = [];
  for (const chunk of plan.chunks) {
    for (const part of partsOf(chunk)) {
      const last = parts.at(-1);
      // generateContent returns the text the stream would have split as one part.
      if (
        last &&
        typeof last['text'] === 'string' &&
        typeof part['text'] === 'string' &&
        !last['thought'] &&
        !part['thought']
      ) {
        last['text'] = last['text'] + part['text'];
      } else parts.push({ ...part });
    }
  }
  return {
    candidates: [{ content: { parts, role: 'model' }, finishReason: plan.finishReason ?? 'STOP', index: 0 }],
    usageMetadata: finalUsage(plan.usage ?? DEFAULT_USAGE),
    ...meta,
  };
}

async function streamReply(plan: ReplyScript, meta: Meta, response: ServerResponse): Promise<void> {
  response.writeHead(200, SSE_HEADERS);
  const usage = plan.usage ?? DEFAULT_USAGE;
  const last = plan.chunks.length - 1;
  for (const [position, chunk] of plan.chunks.entries()) {
    if (position > 0 && !(await pause(plan.chunkDelayMs, response))) return;
    const final = position === last && !plan.streamError;
    const candidate: Record<string, unknown> = { content: { parts: partsOf(chunk), role: 'model' } };
    if (final) candidate['finishReason'] = plan.finishReason ?? 'STOP';
    candidate['index'] = 0;
    const body = {
      candidates: [candidate],
      // Every chunk carries usage; only the last has the output counts.
      usageMetadata: final ? finalUsage(usage) : promptUsage(usage),
      ...meta,
    };
    if (response.destroyed) return;
    response.write(sseEvent(body));
  }
  if (plan.streamError) {
    if (!(await pause(plan.chunkDelayMs, response))) return;
    response.write(sseEvent({ error: plan.streamError }));
  }
  response.end();
}

function partsOf(chunk: FakeChunk): Record<string, unknown>[] {
  if ('text' in chunk) return [chunk.thought ? { text: chunk.text, thought: true } : { text: chunk.text }];
  return chunk.functionCalls.map(({ name, args, id, thoughtSignature }) => ({
    functionCall: id === undefined ? { name, args } : { id, name, args },
    ...(thoughtSignature === undefined ? {} : { thoughtSignature }),
  }));
}

function promptUsage(usage: FakeUsage): Record<string, unknown> {
  return {
    promptTokenCount: usage.promptTokenCount,
    totalTokenCount: usage.promptTokenCount,
    promptTokensDetails: [{ modality: 'TEXT', tokenCount: usage.promptTokenCount }],
  };
}

function finalUsage(usage: FakeUsage): Record<string, unknown> {
  const thoughts = usage.thoughtsTokenCount ?? 0;
  return {
    promptTokenCount: usage.promptTokenCount,
    candidatesTokenCount: usage.candidatesTokenCount,
    totalTokenCount: usage.promptTokenCount + usage.candidatesTokenCount + thoughts,
    ...(usage.cachedContentTokenCount === undefined
      ? {}
      : {
          cachedContentTokenCount: usage.cachedContentTokenCount,
          cacheTokensDetails: [{ modality: 'TEXT', tokenCount: usage.cachedContentTokenCount }],
        }),
    promptTokensDetails: [{ modality: 'TEXT', tokenCount: usage.promptTokenCount }],
    ...(thoughts > 0 ? { thoughtsTokenCount: thoughts } : {}),
  };
}

/** Waits, unless the client left meanwhile (then false: stop writing). */
async function pause(ms: number | undefined, response: ServerResponse): Promise<boolean> {
  if (ms !== undefined && ms > 0) await new Promise((resolve) => setTimeout(resolve, ms));
  return !response.destroyed;
}

const SSE_HEADERS = { 'content-type': 'text/event-stream', 'content-disposition': 'attachment' };
const JSON_HEADERS = { 'content-type': 'application/json; charset=UTF-8' };

// Google ends each event with CRLF CRLF; a client that only splits on "\n\n" breaks on it.
function sseEvent(body: unknown): string {
  return `data: ${JSON.stringify(body)}\r\n\r\n`;
}

function sendJson(
  response: ServerResponse,
  status: number,
  body: unknown,
  extra: Record<string, string> = {},
) {
  // Google pretty-prints JSON bodies with two spaces.
  response.writeHead(status, { ...JSON_HEADERS, ...extra });
  response.end(`${JSON.stringify(body, null, 2)}\n`);
}

function sendError(response: ServerResponse, error: GoogleError, retryAfterSeconds?: number) {
  const extra: Record<string, string> =
    retryAfterSeconds === undefined ? {} : { 'retry-after': String(retryAfterSeconds) };
  sendJson(response, error.code, { error }, extra);
}

function keyRejection(key: string | undefined, apiKey: string): GoogleError | undefined {
  if (key === undefined) {
    return {
      code: 403,
      message:
        "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
      status: 'PERMISSION_DENIED',
    };
  }
  if (key === apiKey) return undefined;
  const message = 'API key not valid. Please pass a valid API key.';
  return {
    code: 400,
    message,
    status: 'INVALID_ARGUMENT',
    details: [
      {
        '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
        reason: 'API_KEY_INVALID',
        domain: 'googleapis.com',
        metadata: { service: 'generativelanguage.googleapis.com' },
      },
      { '@type': 'type.googleapis.com/google.rpc.LocalizedMessage', locale: 'en-US', message },
    ],
  };
}

function unknownModel(model: string, models: string[] | undefined): GoogleError | undefined {
  if (models === undefined || models.includes(model)) return undefined;
  return {
    code: 404,
    message: `models/${model} is not found for API version v1beta, or is not supported for generateContent. Call ListModels to see the list of available models and their supported methods.`,
    status: 'NOT_FOUND',
  };
}

// Google's response ids are 22–23 URL-safe characters; deterministic here so runs compare.
function responseId(sequence: number): string {
  return `fAkEgEmInI${String(sequence).padStart(6, '0')}xYzQwE`;
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
