import { z } from 'zod';

/*
 * The one rule for what a provider's error answer may put in front of a user. A credential's base
 * URL can point at anything that speaks HTTP (an admin may point one at loopback), so whatever
 * answered is not trusted to be the provider: its body is relayed only when it is the provider's own
 * error envelope, and then only the envelope's message, cleaned and bounded. Anything else (an HTML
 * page, plain text, another service's JSON) is described by its size and kind, never quoted.
 *
 * Used by every adapter's `translateError` (and so by the exchanges that reuse them), by their
 * stream error events (`relayableMessage`), and by model listing.
 */

/**
 * Whose envelope a body must be. `openai` covers OpenAI, Azure OpenAI and every OpenAI-compatible
 * server; `ollama` is Ollama's native API (model listing), which also accepts OpenAI's.
 */
export type ErrorEnvelopeFormat = 'openai' | 'ollama' | 'anthropic' | 'gemini';

/** What each envelope says besides its message, for mapping to Keyway's error types. */
export interface EnvelopeDetails {
  openai: { type: string | null; code: string | null };
  ollama: { type: string | null; code: string | null };
  anthropic: { type: string };
  gemini: { code: number; status: string; reasons: string[] };
}

/**
 * A provider's error answer in words fit for a user. `relayed`: the body was the provider's envelope
 * and `message` is its message (cleaned); otherwise `message` describes the body without quoting it.
 */
export type ProviderErrorText<F extends ErrorEnvelopeFormat> =
  { relayed: true; message: string; details: EnvelopeDetails[F] } | { relayed: false; message: string };

/** An error answer as it came back. `contentType` when the caller has the headers. */
export interface ErrorAnswer {
  status: number;
  body: string;
  contentType?: string | undefined;
}

/**
 * A provider's own message is relayed up to this many characters: every real one Keyway has seen
 * fits (Google's quota messages run to ~400), and no page does. Anthropic's adapter had this bound.
 */
export const MAX_PROVIDER_MESSAGE_CHARS = 1000;

/** What stands where the credential's key (or any Google-shaped key) was. */
export const REDACTED = '[REDACTED]';

/** The body's envelope, if it is the provider's, and its message; otherwise a description of it. */
export function providerErrorText<F extends ErrorEnvelopeFormat>(
  format: F,
  answer: ErrorAnswer,
  options: {
    /** Who answered, to open the description: `Anthropic`, or `The provider` when unknown. */
    who: string;
    /** The credential's key, scrubbed from the message after JSON escapes are decoded. */
    secret?: string | null;
  },
): ProviderErrorText<F> {
  const schema: z.ZodType<Envelope<F>> = ENVELOPES[format];
  const envelope = schema.safeParse(parseJson(answer.body));
  if (envelope.success) {
    const { message, details } = envelope.data;
    return {
      relayed: true,
      message: relayableMessage(message, options.secret) || `${options.who} answered HTTP ${answer.status}.`,
      details,
    };
  }
  if (answer.body.trim() === '') {
    return { relayed: false, message: `${options.who} answered HTTP ${answer.status} with an empty body.` };
  }
  // A 5xx page may be a proxy's in front of the provider, passing; a 4xx page is whatever the URL reaches.
  const advice =
    answer.status >= 500
      ? "if it persists, check the credential's base URL"
      : "check the credential's base URL";
  return {
    relayed: false,
    message: `${options.who} answered HTTP ${answer.status} with a body that is not ${FORMAT_NAMES[format]} (${describeBody(answer.body, answer.contentType)}); ${advice}.`,
  };
}

/**
 * A message from a provider's own error (an envelope, or an error event inside its stream) made fit to
 * show: the key scrubbed, whitespace collapsed, control and bidirectional-override characters and
 * lone surrogates removed (NUL poisons PostgreSQL text, the rest can disguise what a user reads),
 * and the length bounded.
 */
export function relayableMessage(message: string, secret?: string | null): string {
  const cleaned = scrubKeys(
    scrubKeys(message, secret)
      .replace(/\s+/g, ' ')
      .replace(UNSHOWABLE, '')
      .replace(LONE_SURROGATE, '\uFFFD')
      .trim(),
    secret,
  );
  if (cleaned.length <= MAX_PROVIDER_MESSAGE_CHARS) return cleaned;
  // Never cut between the two halves of a surrogate pair.
  let end = MAX_PROVIDER_MESSAGE_CHARS - 1;
  if (/[\uD800-\uDBFF]/.test(cleaned[end - 1]!)) end--;
  return `${cleaned.slice(0, end)}…`;
}

/** `52 bytes of text/html` (the declared type), or of `HTML`, `JSON` or `text` by its look. */
export function describeBody(body: string, contentType?: string): string {
  const declared = /^[\w.+-]+\/[\w.+-]+/.exec(contentType ?? '')?.[0]?.toLowerCase();
  return `${Buffer.byteLength(body)} bytes of ${declared ?? kindOf(body)}`;
}

function kindOf(body: string): string {
  const start = body.trimStart();
  if (parseJson(start) !== undefined) return 'JSON';
  if (/^<(!doctype\s+html|html)\b/i.test(start)) return 'HTML';
  if (/^<\?xml\b/i.test(start)) return 'XML';
  return 'text';
}

const FORMAT_NAMES: Record<ErrorEnvelopeFormat, string> = {
  openai: 'an OpenAI-style error',
  ollama: 'an Ollama error',
  anthropic: 'an Anthropic error',
  gemini: 'a Google API error',
};

// A field the envelope may carry but Keyway only reads when it is a string.
const optionalString = z
  .unknown()
  .optional()
  .transform((value) => (typeof value === 'string' ? value : null));

// OpenAI, Azure OpenAI and most compatible servers (Groq, DeepSeek, xAI, OpenRouter, Together,
// Fireworks, Perplexity, Ollama's /v1, llama.cpp, LiteLLM, vLLM ≥ 0.8): `{error: {message, type,
// param, code}}`; Azure sends `{error: {code, message}}`.
const openAiNested = z
  .looseObject({
    error: z.looseObject({ message: z.string(), type: optionalString, code: optionalString }),
  })
  .transform(({ error }) => ({ message: error.message, details: { type: error.type, code: error.code } }));

// Mistral and older vLLM put the same fields at the top level, tagged `object: "error"`; a bare
// `{message}` (any web framework's error) is not an envelope.
const openAiTopLevel = z
  .looseObject({
    object: z.literal('error'),
    message: z.string(),
    type: optionalString,
    code: optionalString,
  })
  .transform(({ message, type, code }) => ({ message, details: { type, code } }));

const openAiEnvelope = z.union([openAiNested, openAiTopLevel]);

// Ollama's native API (`/api/tags`, `/api/chat`) answers `{"error": "..."}`. Only for the Ollama wire:
// `{error: string}` is also what any Express service sends.
const ollamaEnvelope = z.union([
  openAiEnvelope,
  z
    .strictObject({ error: z.string() })
    .transform(({ error }) => ({ message: error, details: { type: null, code: null } })),
]);

// https://docs.claude.com/en/api/errors: `{type: "error", error: {type, message}, request_id}`.
const anthropicEnvelope = z
  .looseObject({
    type: z.literal('error'),
    error: z.looseObject({ type: z.string(), message: z.string() }),
  })
  .transform(({ error }) => ({ message: error.message, details: { type: error.type } }));

// Google's `{error: {code, message, status, details}}` (google.rpc.Status), or that object in an array
// (streaming endpoints without alt=sse). Only the message is relayed: Google has echoed keys in details.
const googleStatus = z.looseObject({
  code: z.number(),
  message: z.string(),
  status: z.string(),
  details: z
    .array(z.unknown())
    .optional()
    .catch(undefined)
    .transform((details) =>
      (details ?? []).flatMap((detail) => {
        const reason = (detail as { reason?: unknown } | null)?.reason;
        return typeof reason === 'string' ? [reason] : [];
      }),
    ),
});
const geminiEnvelope = z
  .union([z.looseObject({ error: googleStatus }), z.array(z.looseObject({ error: googleStatus })).min(1)])
  .transform((body) => {
    const { error } = Array.isArray(body) ? body[0]! : body;
    return {
      message: error.message,
      details: { code: error.code, status: error.status, reasons: error.details },
    };
  });

/** An envelope read: its message, and what else it says. */
interface Envelope<F extends ErrorEnvelopeFormat> {
  message: string;
  details: EnvelopeDetails[F];
}

const ENVELOPES: { [F in ErrorEnvelopeFormat]: z.ZodType<Envelope<F>> } = {
  openai: openAiEnvelope,
  ollama: ollamaEnvelope,
  anthropic: anthropicEnvelope,
  gemini: geminiEnvelope,
};

// C0 and C1 controls (whitespace was collapsed first) and the bidirectional embeddings, overrides
// and isolates that can make a message read other than it is.
// eslint-disable-next-line no-control-regex
const UNSHOWABLE = /[\u0000-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]/g;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

// Google API keys have one shape; one never belongs in a message, whoever's it is.
const GOOGLE_KEY = /AIza[0-9A-Za-z_-]{30,}/g;

function scrubKeys(text: string, secret: string | null | undefined): string {
  const withoutGoogleKeys = text.replace(GOOGLE_KEY, REDACTED);
  return secret ? withoutGoogleKeys.split(secret).join(REDACTED) : withoutGoogleKeys;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
