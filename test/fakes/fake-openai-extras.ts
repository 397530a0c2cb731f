import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/*
 * A fake OpenAI-wire server for the two non-chat endpoints Keyway relays, on a real socket, speaking
 * the real wire format:
 * - `POST {prefix}/embeddings`: `{object: "list", data: [{object: "embedding", index, embedding}], model,
 *   usage: {prompt_tokens, total_tokens}}`; `encoding_format: "base64"` answers each vector as the base64
 *   of its little-endian float32 bytes, as OpenAI does; `dimensions` sets the vector length.
 * - `POST {prefix}/audio/transcriptions`: multipart/form-data parsed for real; `response_format` json
 *   (`{text, usage}`), text / srt (text/plain), vtt (text/vtt), verbose_json; `stream=true` answers
 *   `transcript.text.delta` events and a `transcript.text.done` with usage.
 * Every request is recorded (JSON body, or multipart fields with repeats and the file's bytes).
 * `flavour: 'groq'` answers transcriptions as Groq does (`x_groq.id`, no usage), under `/openai/v1`.
 */

/** What the fake does with one request. */
export type ExtrasScript =
  /** The normal answer; `echoKey` puts the caller's bearer key into it (a provider echoing a secret). */
  | { kind: 'answer'; echoKey?: boolean }
  /** An error status in OpenAI's envelope; `echoKey` puts the caller's key into its message. */
  | {
      kind: 'error';
      status: number;
      message: string;
      type?: string;
      code?: string;
      headers?: Record<string, string>;
      echoKey?: boolean;
    }
  /** Headers and nothing else, ever. */
  | { kind: 'stall' };

export interface RecordedFile {
  name: string;
  type: string;
  bytes: Buffer;
}

export interface RecordedExtrasRequest {
  method: string;
  /** Path and query string, as received. */
  path: string;
  endpoint: 'embeddings' | 'transcriptions' | 'other';
  headers: IncomingHttpHeaders;
  /** The embeddings request's JSON body. */
  json?: Record<string, unknown>;
  /** The transcription's multipart text fields, in order, repeats included. */
  fields?: [string, string][];
  /** Every file part (one, from a well-behaved client). */
  files?: (RecordedFile & { field: string })[];
  /** Body size in bytes, as received. */
  size: number;
}

export interface FakeOpenAiExtras {
  /** The base URL a credential's `baseUrl` would be (ends in `/v1`). */
  url: string;
  /** The origin only (what an Ollama credential's `baseUrl` is: Keyway adds `/v1`). */
  origin: string;
  requests: RecordedExtrasRequest[];
  setScript(script: (request: RecordedExtrasRequest, index: number) => ExtrasScript): void;
  close(): Promise<void>;
}

export const FAKE_TRANSCRIPT = 'Hello from the fake transcriber.';

/**
 * The vector the fake answers for one input: a hashed bag of words, normalised to length 1, so texts
 * that share words get similar vectors (what retrieval tests need); deterministic, float32-exact,
 * `dimensions` long. Token ids count as words.
 */
export function fakeEmbedding(input: string | number[], dimensions: number): number[] {
  const words =
    typeof input === 'string' ? (input.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []) : input.map(String);
  const vector = new Array<number>(dimensions).fill(0);
  for (const word of words) {
    let hash = 2166136261;
    for (const char of word) hash = Math.imul(hash ^ char.codePointAt(0)!, 16777619) >>> 0;
    // Two buckets a word, one of each sign: fewer collisions in small dimensions.
    vector[hash % dimensions]! += 1;
    vector[(Math.imul(hash, 2654435761) >>> 0) % dimensions]! -= 0.5;
  }
  const norm = Math.hypot(...vector);
  // An input with no words still gets a vector of length 1.
  if (norm === 0) return vector.map((_, index) => Math.fround(index === 0 ? 1 : 0));
  // float32-exact, so JSON floats and base64 bytes decode to the same numbers.
  return vector.map((value) => Math.fround(value / norm));
}

/** Starts the fake on 127.0.0.1 (a free port). */
export async function startFakeOpenAiExtras(options: {
  validKeys: string[];
  flavour?: 'openai' | 'groq';
  /** Vector length when a request names no `dimensions`. */
  defaultDimensions?: number;
}): Promise<FakeOpenAiExtras> {
  const flavour = options.flavour ?? 'openai';
  const prefix = flavour === 'groq' ? '/openai/v1' : '/v1';
  const validKeys = new Set(options.validKeys);
  const defaultDimensions = options.defaultDimensions ?? 8;
  const requests: RecordedExtrasRequest[] = [];
  let script: (request: RecordedExtrasRequest, index: number) => ExtrasScript = () => ({ kind: 'answer' });

  const server = createServer((incoming, response) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => {
      void (async () => {
        const body = Buffer.concat(chunks);
        const path = incoming.url ?? '/';
        const pathname = path.split('?')[0]!;
        const endpoint =
          pathname === `${prefix}/embeddings`
            ? 'embeddings'
            : pathname === `${prefix}/audio/transcriptions`
              ? 'transcriptions'
              : 'other';
        const record: RecordedExtrasRequest = {
          method: incoming.method ?? 'GET',
          path,
          endpoint,
          headers: incoming.headers,
          size: body.length,
        };
        requests.push(record);
        if (endpoint === 'other' || record.method !== 'POST')
          return sendError(
            response,
            404,
            `Invalid URL (${record.method} ${pathname})`,
            'invalid_request_error',
          );
        const key = /^Bearer (.+)$/.exec(incoming.headers.authorization ?? '')?.[1];
        if (!key || !validKeys.has(key)) {
          return sendError(
            response,
            401,
            `Incorrect API key provided: ${key ? `${key.slice(0, 3)}***${key.slice(-4)}` : 'none'}.`,
            'invalid_request_error',
            'invalid_api_key',
          );
        }
        if (endpoint === 'embeddings') {
          try {
            record.json = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
          } catch {
            return sendError(
              response,
              400,
              'We could not parse the JSON body of your request.',
              'invalid_request_error',
            );
          }
        } else {
          const parsed = await parseMultipart(incoming.headers['content-type'], body);
          if (!parsed)
            return sendError(response, 400, 'Could not parse multipart form', 'invalid_request_error');
          record.fields = parsed.fields;
          record.files = parsed.files;
        }
        const plan = script(record, requests.length - 1);
        switch (plan.kind) {
          case 'stall':
            response.writeHead(200, { 'content-type': 'application/json' });
            response.flushHeaders();
            return;
          case 'error':
            return sendError(
              response,
              plan.status,
              plan.echoKey ? `${plan.message} (key ${key})` : plan.message,
              plan.type ?? 'invalid_request_error',
              plan.code,
              plan.headers,
            );
          case 'answer':
            if (endpoint === 'embeddings')
              return answerEmbeddings(response, record.json!, plan.echoKey ? key : null);
            return answerTranscription(response, record, plan.echoKey ? key : null);
        }
      })().catch(() => response.destroy());
    });
  });

  function answerEmbeddings(response: ServerResponse, body: Record<string, unknown>, echo: string | null) {
    const inputs = inputsOf(body.input);
    if (!inputs || typeof body.model !== 'string')
      return sendError(
        response,
        400,
        "'$.input' is invalid. Please check the API reference.",
        'invalid_request_error',
      );
    const dimensions = typeof body.dimensions === 'number' ? body.dimensions : defaultDimensions;
    const base64 = body.encoding_format === 'base64';
    const promptTokens = inputs.reduce(
      (sum, input) =>
        sum + (typeof input === 'string' ? input.split(/\s+/).filter(Boolean).length : input.length),
      0,
    );
    sendJson(response, 200, {
      object: 'list',
      data: inputs.map((input, index) => {
        const vector = fakeEmbedding(input, dimensions);
        return { object: 'embedding', index, embedding: base64 ? float32Base64(vector) : vector };
      }),
      model: echo ? `${body.model}-${echo}` : body.model,
      usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
    });
  }

  async function answerTranscription(
    response: ServerResponse,
    record: RecordedExtrasRequest,
    echo: string | null,
  ) {
    const fields = record.fields!;
    const field = (name: string) => fields.find(([key]) => key === name)?.[1];
    const file = record.files?.find((part) => part.field === 'file');
    const model = field('model');
    if (!file || !model)
      return sendError(
        response,
        400,
        !file
          ? '1 validation error for Request\nbody -> file\n  field required'
          : 'you must provide a model parameter',
        'invalid_request_error',
      );
    const text = echo ? `${FAKE_TRANSCRIPT} ${echo}` : FAKE_TRANSCRIPT;
    const seconds = Math.max(1, Math.round(file.bytes.length / 2_000));
    const byTokens = flavour === 'openai' && model !== 'whisper-1';
    const usage = byTokens
      ? {
          type: 'tokens',
          input_tokens: seconds * 10,
          input_token_details: { text_tokens: 0, audio_tokens: seconds * 10 },
          output_tokens: 6,
          total_tokens: seconds * 10 + 6,
        }
      : { type: 'duration', seconds };
    if (field('stream') === 'true' && byTokens) {
      response.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8' });
      for (const word of text.split(/(?= )/)) {
        response.write(`data: ${JSON.stringify({ type: 'transcript.text.delta', delta: word })}\n\n`);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      response.end(`data: ${JSON.stringify({ type: 'transcript.text.done', text, usage })}\n\n`);
      return;
    }
    const format = field('response_format') ?? 'json';
    switch (format) {
      case 'text':
        return sendText(response, 'text/plain; charset=utf-8', `${text}\n`);
      case 'srt':
        return sendText(
          response,
          'text/plain; charset=utf-8',
          `1\n00:00:00,000 --> 00:00:0${Math.min(seconds, 9)},000\n${text}\n\n`,
        );
      case 'vtt':
        return sendText(
          response,
          'text/vtt; charset=utf-8',
          `WEBVTT\n\n00:00:00.000 --> 00:00:0${Math.min(seconds, 9)}.000\n${text}\n\n`,
        );
      case 'verbose_json':
        return sendJson(response, 200, {
          task: 'transcribe',
          language: field('language') ?? 'english',
          duration: seconds,
          text,
          segments: [{ id: 0, seek: 0, start: 0, end: seconds, text, tokens: [50364, 2425], temperature: 0 }],
          ...(flavour === 'groq' ? { x_groq: { id: 'req_fake' } } : { usage: { type: 'duration', seconds } }),
        });
      default:
        return sendJson(
          response,
          200,
          flavour === 'groq' ? { text, x_groq: { id: 'req_fake' } } : { text, usage },
        );
    }
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;
  return {
    url: `${origin}${prefix}`,
    origin,
    requests,
    setScript(next) {
      script = next;
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** OpenAI's accepted input shapes, as a list of inputs; null when it is none of them. */
function inputsOf(input: unknown): (string | number[])[] | null {
  if (typeof input === 'string') return [input];
  if (!Array.isArray(input) || input.length === 0) return null;
  if (input.every((item) => typeof item === 'string')) return input as string[];
  if (input.every((item) => typeof item === 'number')) return [input as number[]];
  if (input.every((item) => Array.isArray(item) && item.every((id) => typeof id === 'number')))
    return input as number[][];
  return null;
}

function float32Base64(vector: number[]): string {
  const bytes = Buffer.alloc(vector.length * 4);
  vector.forEach((value, index) => bytes.writeFloatLE(value, index * 4));
  return bytes.toString('base64');
}

/** Parses multipart/form-data as a server would (undici's parser); null when it is not that. */
async function parseMultipart(
  contentType: string | undefined,
  body: Buffer,
): Promise<{ fields: [string, string][]; files: (RecordedFile & { field: string })[] } | null> {
  if (!contentType?.startsWith('multipart/form-data')) return null;
  let form: FormData;
  try {
    form = await new Response(body, { headers: { 'content-type': contentType } }).formData();
  } catch {
    return null;
  }
  const fields: [string, string][] = [];
  const files: (RecordedFile & { field: string })[] = [];
  for (const [name, value] of form.entries()) {
    if (typeof value === 'string') fields.push([name, value]);
    else
      files.push({
        field: name,
        name: value.name,
        type: value.type,
        bytes: Buffer.from(await value.arrayBuffer()),
      });
  }
  return { fields, files };
}

function sendJson(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
) {
  response.writeHead(status, { 'content-type': 'application/json', ...headers });
  response.end(JSON.stringify(body));
}

function sendText(response: ServerResponse, contentType: string, text: string) {
  response.writeHead(200, { 'content-type': contentType });
  response.end(text);
}

function sendError(
  response: ServerResponse,
  status: number,
  message: string,
  type: string,
  code?: string,
  headers?: Record<string, string>,
) {
  sendJson(response, status, { error: { message, type, param: null, code: code ?? null } }, headers);
}
