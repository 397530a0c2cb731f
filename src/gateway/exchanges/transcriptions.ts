import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { KeywayError } from '../../errors.ts';
import type { RequestBound } from '../../limits/spend-guard.ts';
import type { TokenCounts } from '../../usage/prices.ts';
import { translateOpenAiWireError } from '../adapters/openai-wire.ts';
import type { Exchange, ExchangeCall, ExchangeTarget } from '../exchange.ts';
import { openAiWireEndpoint } from './openai-wire-endpoint.ts';

/*
 * `POST /v1/audio/transcriptions` in OpenAI's multipart shape, to OpenAI-wire providers that
 * transcribe (OpenAI, Groq, OpenAI-compatible servers). The form is rebuilt with only `model`
 * replaced: every other field, repeated ones (`timestamp_granularities[]`) and ones Keyway does not
 * know included, goes through in order, and the file keeps its name (OpenAI tells the format by
 * its extension). The answer goes back as it is: JSON, plain text, SRT, VTT, or with
 * `stream=true` OpenAI's `transcript.text.*` events.
 */

/** A transcription request, read and checked. */
export interface TranscriptionRequest {
  model: string;
  stream: boolean;
  /** Every text field but `model`, in the client's order, repeats included. */
  fields: [string, string][];
  file: { name: string; type: string; bytes: Uint8Array };
}

/** A field sent once as text; repeated or as a file, it is refused with a message naming it. */
const text = (name: string) =>
  z.string({
    error: (issue) =>
      issue.input === undefined ? `${name} is required.` : `${name} must be sent once, as text.`,
  });

/** The fields Keyway checks; others go through unread. */
const transcriptionFieldsSchema = z.looseObject({
  model: text('model').trim().min(1, 'model is required.'),
  language: text('language').optional(),
  prompt: text('prompt').optional(),
  response_format: z
    .enum(['json', 'text', 'srt', 'verbose_json', 'vtt', 'diarized_json'], {
      error: 'response_format must be one of json, text, srt, verbose_json, vtt or diarized_json.',
    })
    .optional(),
  temperature: text('temperature')
    .refine((value) => value.trim() !== '' && Number(value) >= 0 && Number(value) <= 1, {
      error: 'temperature must be a number from 0 to 1.',
    })
    .optional(),
  stream: z.enum(['true', 'false'], { error: 'stream must be true or false.' }).optional(),
  'timestamp_granularities[]': z
    .array(z.enum(['word', 'segment'], { error: 'timestamp_granularities[] must be word or segment.' }))
    .optional(),
});

/**
 * The request in a parsed multipart form: exactly one non-empty audio `file`, text fields checked.
 * Throws `invalid_request` (400) naming the field otherwise.
 */
export async function readTranscriptionRequest(form: FormData): Promise<TranscriptionRequest> {
  const fields: [string, string][] = [];
  const files: File[] = [];
  for (const [name, value] of form.entries()) {
    if (typeof value === 'string') fields.push([name, value]);
    else if (name === 'file') files.push(value);
    else throw invalid(name.slice(0, 64), `${name.slice(0, 64)} must be text, not a file.`);
  }
  if (files.length !== 1)
    throw invalid(
      'file',
      files.length === 0 ? 'file is required: send the audio as a file part.' : 'file must be sent once.',
    );

  const byName: Record<string, string | string[]> = {};
  for (const [name, value] of fields) {
    const before = byName[name];
    if (name.endsWith('[]')) byName[name] = [...((before as string[] | undefined) ?? []), value];
    else byName[name] = before === undefined ? value : [...[before].flat(), value];
  }
  const parsed = transcriptionFieldsSchema.safeParse(byName);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw invalid(String(issue.path[0] ?? 'body'), issue.message);
  }

  const file = files[0]!;
  const bytes = new Uint8Array(await file.arrayBuffer());
  const problem = notAudio(bytes);
  if (problem) throw invalid('file', problem);
  return {
    model: parsed.data.model,
    stream: parsed.data.stream === 'true',
    fields: fields.filter(([name]) => name !== 'model'),
    file: { name: file.name || 'audio', type: file.type || 'application/octet-stream', bytes },
  };
}

function invalid(param: string, message: string): KeywayError {
  return new KeywayError('invalid_request', `Invalid request: ${message}`, { details: { param } });
}

// Files that are recognisably something else. Audio containers are not listed: providers accept more
// of them than Keyway should try to know, so anything not recognisably other goes to the provider.
const OTHER_SIGNATURES: [number[], string][] = [
  [[0x89, 0x50, 0x4e, 0x47], 'a PNG image'],
  [[0xff, 0xd8, 0xff], 'a JPEG image'],
  [[0x47, 0x49, 0x46, 0x38], 'a GIF image'],
  [[0x25, 0x50, 0x44, 0x46], 'a PDF document'],
  [[0x50, 0x4b, 0x03, 0x04], 'a ZIP archive'],
];

/**
 * Why a file is not audio, or null when it may be: empty, text (every audio container has binary
 * bytes in its first 512), or an image, PDF or ZIP by its signature.
 */
export function notAudio(bytes: Uint8Array): string | null {
  if (bytes.length === 0) return 'file is empty.';
  for (const [signature, what] of OTHER_SIGNATURES)
    if (signature.every((byte, index) => bytes[index] === byte)) return `file is ${what}, not audio.`;
  return isText(bytes.subarray(0, 512)) ? 'file is text, not audio.' : null;
}

function isText(head: Uint8Array): boolean {
  let text: string;
  try {
    // `stream`: a character cut at the end of the sample is not a decoding error.
    text = new TextDecoder('utf-8', { fatal: true }).decode(head, { stream: true });
  } catch {
    return false;
  }
  return !/[\u0000-\u0008\u000b\u000e-\u001f\u007f]/.test(text);
}

/** One transcription request as an exchange; streamed when the form says `stream=true`. */
export function transcriptionExchange(request: TranscriptionRequest): Exchange {
  const boundary = `----KeywayFormBoundary${randomBytes(16).toString('hex')}`;
  return {
    endpoint: '/v1/audio/transcriptions',
    model: request.model,
    stream: request.stream,
    bound: () => transcriptionBound(request),
    build: (target) => buildTranscriptionCall(request, target, boundary),
  };
}

/*
 * Audio has no byte-to-token rule, so the bound assumes the leanest common audio (16 kbit/s, a voice
 * note: 2,000 bytes a second) at 20 input tokens a second (OpenAI's transcribe models use about 17)
 * and at most 8 output tokens a second of speech; the likely input assumes 64 kbit/s.
 */
const BYTES_PER_SECOND = 2_000;
const INPUT_TOKENS_PER_SECOND = 20;
const OUTPUT_TOKENS_PER_SECOND = 8;

/** The most a transcription can use, from its file's size (and its prompt's). */
export function transcriptionBound(request: TranscriptionRequest): RequestBound {
  const seconds = request.file.bytes.length / BYTES_PER_SECOND;
  const prompt = Buffer.byteLength(request.fields.find(([name]) => name === 'prompt')?.[1] ?? '');
  return {
    inputTokens: Math.ceil(seconds * INPUT_TOKENS_PER_SECOND) + prompt,
    outputTokens: Math.ceil(seconds * OUTPUT_TOKENS_PER_SECOND),
    likelyInputTokens: Math.ceil((seconds / 4) * INPUT_TOKENS_PER_SECOND) + Math.ceil(prompt / 4),
  };
}

function buildTranscriptionCall(
  request: TranscriptionRequest,
  target: ExchangeTarget,
  boundary: string,
): ExchangeCall {
  if (target.provider.wire !== 'openai') {
    throw new KeywayError(
      'upstream_unsupported',
      `Keyway relays transcriptions to OpenAI-wire providers (OpenAI, Groq, OpenAI-compatible servers); ${target.provider.label} is not one of them.`,
      { details: { param: 'model' } },
    );
  }
  const body = encodeMultipart(
    [['model', target.model], ...request.fields],
    { field: 'file', ...request.file },
    boundary,
  );
  return {
    ...openAiWireEndpoint(target, '/audio/transcriptions', `multipart/form-data; boundary=${boundary}`),
    body,
    translateError: translateOpenAiWireError,
    usageOfWhole: (text) => (text.startsWith('{') ? tokensIn(parseJson(text)) : null),
    usageOfEvent: (event, before) => tokensIn(parseJson(event.data)) ?? before,
  };
}

/** `usage.input_tokens` / `output_tokens` (the transcribe models); none for duration-billed ones. */
function tokensIn(answer: unknown): TokenCounts | null {
  const usage = (answer as { usage?: { input_tokens?: unknown; output_tokens?: unknown } } | null)?.usage;
  if (typeof usage?.input_tokens !== 'number' || typeof usage.output_tokens !== 'number') return null;
  return { inputTokens: usage.input_tokens, outputTokens: usage.output_tokens, cachedTokens: 0 };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/**
 * A multipart/form-data body (RFC 7578), text fields first and the file last. Names are escaped as
 * browsers and undici do (`"`, CR and LF percent-encoded), so no field can forge a part.
 */
export function encodeMultipart(
  fields: [string, string][],
  file: { field: string; name: string; type: string; bytes: Uint8Array },
  boundary: string,
): Buffer {
  const pieces: Buffer[] = [];
  for (const [name, value] of fields) {
    pieces.push(
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="${escapeName(name)}"\r\n\r\n${normalizeNewlines(value)}\r\n`,
      ),
    );
  }
  pieces.push(
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="${escapeName(file.field)}"; filename="${escapeName(file.name)}"\r\nContent-Type: ${file.type.replace(/[\r\n]/g, '')}\r\n\r\n`,
    ),
    Buffer.from(file.bytes.buffer, file.bytes.byteOffset, file.bytes.byteLength),
    Buffer.from(`\r\n--${boundary}--\r\n`),
  );
  return Buffer.concat(pieces);
}

function escapeName(name: string): string {
  return name.replace(/\n/g, '%0A').replace(/\r/g, '%0D').replace(/"/g, '%22');
}

// What the form encoding does to text values: every line break is CRLF.
function normalizeNewlines(value: string): string {
  return value.replace(/\r\n|\r|\n/g, '\r\n');
}
