import { z } from 'zod';
import type { SseEvent } from '../../http/sse.ts';
import { providerErrorText, relayableMessage } from '../../providers/provider-error-text.ts';
import type { ChatCompletion, ChatCompletionChunk, FinishReason, ToolCall, Usage } from '../openai-types.ts';
import { UpstreamStreamError } from './adapter.ts';
import type {
  AdapterInput,
  ProviderAdapter,
  ResponseContext,
  StreamTranslator,
  UpstreamCall,
  UpstreamErrorInfo,
} from './adapter.ts';
import { toGeminiSchema } from './google-schema.ts';

/*
 * Google Gemini (generativelanguage.googleapis.com, v1beta) spoken in OpenAI's terms.
 *
 * Decisions that are not obvious from either API:
 * - Tool-call ids carry Gemini's thought signature: `<id>__thought__<signature>` (LiteLLM's
 *   convention). Gemini 3 answers 400 when a replayed functionCall lacks its signature, and OpenAI
 *   clients echo ids faithfully while dropping unknown fields. History without a signature (another
 *   model's turns) gets Google's documented placeholder on the first functionCall of the turn.
 * - `functionCall.id` / `functionResponse.id` are never sent: the v1beta request schema rejects them
 *   ("Unknown name \"id\""). Gemini pairs calls and results by name and order.
 * - Function parameters are converted to Gemini's OpenAPI subset (see `toGeminiSchema` in google-schema.ts).
 * - http(s) image URLs become `fileData` parts; Keyway never fetches them, Gemini does.
 */

const THOUGHT_SEPARATOR = '__thought__';
// Google documents this value for function calls the model did not produce itself.
const FOREIGN_THOUGHT_SIGNATURE = 'skip_thought_signature_validator';

type GeminiPart =
  | { text: string; thoughtSignature?: string }
  | { inlineData: { mimeType: string; data: string } }
  | { fileData: { fileUri: string; mimeType?: string } }
  | { functionCall: { name: string; args: Record<string, unknown> }; thoughtSignature?: string }
  | { functionResponse: { name: string; response: Record<string, unknown> } };

interface GeminiContent {
  role: 'user' | 'model';
  parts: GeminiPart[];
}

// ---------------------------------------------------------------------------------------------
// The client's request: read leniently. A field Keyway cannot use is left out and Gemini judges
// the rest, so one odd field never turns into a gateway error.

const optionalNumber = z.number().nullish().catch(undefined);
const optionalInteger = z.number().int().nullish().catch(undefined);
const jsonObject = z.record(z.string(), z.unknown());

const toolCallSchema = z.looseObject({
  id: z.string(),
  function: z.looseObject({ name: z.string(), arguments: z.string().catch('{}') }),
});

const messageSchema = z.looseObject({
  role: z.string(),
  content: z.unknown().optional(),
  name: z.string().nullish().catch(undefined),
  tool_calls: z.array(toolCallSchema).nullish().catch(undefined),
  tool_call_id: z.string().nullish().catch(undefined),
});
type Message = z.infer<typeof messageSchema>;

const requestOptionsSchema = z.looseObject({
  temperature: optionalNumber,
  top_p: optionalNumber,
  max_tokens: optionalInteger,
  max_completion_tokens: optionalInteger,
  n: optionalInteger,
  presence_penalty: optionalNumber,
  frequency_penalty: optionalNumber,
  seed: optionalInteger,
  stop: z
    .union([z.string(), z.array(z.string())])
    .nullish()
    .catch(undefined),
  tools: z
    .array(
      z.looseObject({
        type: z.string(),
        function: z.looseObject({
          name: z.string(),
          description: z.string().nullish(),
          parameters: jsonObject.nullish(),
        }),
      }),
    )
    .nullish()
    .catch(undefined),
  tool_choice: z
    .union([
      z.enum(['auto', 'none', 'required']),
      z.looseObject({ type: z.literal('function'), function: z.looseObject({ name: z.string() }) }),
    ])
    .nullish()
    .catch(undefined),
  response_format: z
    .union([
      z.looseObject({
        type: z.literal('json_schema'),
        json_schema: z.looseObject({ schema: jsonObject.nullish() }),
      }),
      z.looseObject({ type: z.enum(['json_object', 'text']) }),
    ])
    .nullish()
    .catch(undefined),
});

function buildRequest(input: AdapterInput, stream: boolean): UpstreamCall {
  const options = requestOptionsSchema.parse(input.request);
  const messages = input.request.messages.flatMap((raw) => {
    const parsed = messageSchema.safeParse(raw);
    return parsed.success ? [parsed.data] : [];
  });

  const system: { text: string }[] = [];
  const contents: GeminiContent[] = [];
  const toolNames = new Map<string, string>();
  for (const message of messages) {
    if (message.role === 'system' || message.role === 'developer') {
      const text = textOf(message.content);
      if (text !== '') system.push({ text });
    } else if (message.role === 'user') {
      appendTurn(contents, 'user', userParts(message.content));
    } else if (message.role === 'assistant') {
      for (const call of message.tool_calls ?? []) toolNames.set(call.id, call.function.name);
      appendTurn(contents, 'model', assistantParts(message));
    } else if (message.role === 'tool') {
      appendTurn(contents, 'user', [toolResultPart(message, toolNames)]);
    }
  }

  const body: Record<string, unknown> = { contents };
  if (system.length > 0) body['systemInstruction'] = { parts: system };
  const tools = functionDeclarations(options.tools);
  if (tools.length > 0) body['tools'] = [{ functionDeclarations: tools }];
  const toolConfig = toolConfigOf(options.tool_choice);
  if (toolConfig) body['toolConfig'] = toolConfig;
  const generationConfig = generationConfigOf(options);
  if (Object.keys(generationConfig).length > 0) body['generationConfig'] = generationConfig;

  const base = input.baseUrl.replace(/\/v1beta$/, '');
  const model = encodeURIComponent(input.model.replace(/^models\//, ''));
  const url = stream
    ? `${base}/v1beta/models/${model}:streamGenerateContent?alt=sse`
    : `${base}/v1beta/models/${model}:generateContent`;
  // The key goes in a header only: URLs end up in logs, proxies and error messages.
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (input.secret !== null) headers['x-goog-api-key'] = input.secret;
  return { url, headers, body: JSON.stringify(body) };
}

/** Gemini wants strictly alternating turns: consecutive same-role messages become one turn. */
function appendTurn(contents: GeminiContent[], role: GeminiContent['role'], parts: GeminiPart[]): void {
  if (parts.length === 0) return;
  const last = contents.at(-1);
  if (last?.role === role) last.parts.push(...parts);
  else contents.push({ role, parts });
}

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((part: unknown) => (isRecord(part) && typeof part['text'] === 'string' ? part['text'] : ''))
    .join('');
}

function userParts(content: unknown): GeminiPart[] {
  if (typeof content === 'string') return content === '' ? [] : [{ text: content }];
  if (!Array.isArray(content)) return [];
  const parts: GeminiPart[] = [];
  for (const part of content) {
    if (!isRecord(part)) continue;
    const type = part['type'];
    if (type === 'text' && typeof part['text'] === 'string') parts.push({ text: part['text'] });
    else if (type === 'image_url') {
      const image = part['image_url'];
      const url = isRecord(image) ? image['url'] : image;
      if (typeof url === 'string') parts.push(mediaPart(url));
    } else if (type === 'input_audio' && isRecord(part['input_audio'])) {
      const { data, format } = part['input_audio'];
      if (typeof data === 'string' && typeof format === 'string') {
        parts.push({ inlineData: { mimeType: `audio/${format}`, data } });
      }
    } else if (type === 'file' && isRecord(part['file'])) {
      const data = part['file']['file_data'];
      if (typeof data === 'string') parts.push(mediaPart(data));
    }
  }
  return parts;
}

/** A data: URL is sent inline; any other URL is left for Gemini to fetch (Keyway does no I/O here). */
function mediaPart(url: string): GeminiPart {
  const data = /^data:([^;,]+)((?:;[^;,]*)*?),(.*)$/s.exec(url);
  if (data) {
    const [, mimeType = 'application/octet-stream', params = '', payload = ''] = data;
    const base64 = params.split(';').includes('base64')
      ? payload
      : Buffer.from(decodeURIComponent(payload)).toString('base64');
    return { inlineData: { mimeType, data: base64 } };
  }
  const mimeType = mimeTypeFromExtension(url);
  return { fileData: mimeType ? { fileUri: url, mimeType } : { fileUri: url } };
}

const MIME_BY_EXTENSION: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  webp: 'image/webp',
  gif: 'image/gif',
  heic: 'image/heic',
  heif: 'image/heif',
  pdf: 'application/pdf',
};

function mimeTypeFromExtension(url: string): string | undefined {
  const path = url.split(/[?#]/, 1)[0] ?? '';
  const extension = /\.([a-z0-9]+)$/i.exec(path)?.[1]?.toLowerCase();
  return extension === undefined ? undefined : MIME_BY_EXTENSION[extension];
}

function assistantParts(message: Message): GeminiPart[] {
  const parts: GeminiPart[] = [];
  const text = textOf(message.content);
  if (text !== '') parts.push({ text });
  const calls = (message.tool_calls ?? []).map((call) => {
    const { signature } = splitToolCallId(call.id);
    const part: GeminiPart = {
      functionCall: { name: call.function.name, args: parseArgs(call.function.arguments) },
    };
    return signature === undefined ? part : { ...part, thoughtSignature: signature };
  });
  // Gemini signs only the first call of a parallel batch; a batch with no signature at all came from
  // elsewhere, and Gemini 3 rejects it unless the first call carries the documented placeholder.
  const first = calls[0];
  if (first && !calls.some((call) => 'thoughtSignature' in call)) {
    calls[0] = { ...first, thoughtSignature: FOREIGN_THOUGHT_SIGNATURE };
  }
  return [...parts, ...calls];
}

function parseArgs(text: string): Record<string, unknown> {
  const value = parseJson(text);
  return isRecord(value) ? value : {};
}

function toolResultPart(message: Message, toolNames: Map<string, string>): GeminiPart {
  const id = message.tool_call_id ?? '';
  // Gemini matches results to calls by function name; OpenAI only gives the call's id.
  const name = toolNames.get(id) ?? message.name ?? 'unknown_function';
  const text = textOf(message.content);
  const value = parseJson(text);
  const response = isRecord(value) ? value : { content: text };
  return { functionResponse: { name, response } };
}

/** Splits a tool-call id Keyway minted into the client-visible id and Gemini's thought signature. */
function splitToolCallId(id: string): { id: string; signature?: string } {
  const at = id.indexOf(THOUGHT_SEPARATOR);
  if (at === -1) return { id };
  const signature = id.slice(at + THOUGHT_SEPARATOR.length);
  return signature === '' ? { id: id.slice(0, at) } : { id: id.slice(0, at), signature };
}

type RequestOptions = z.infer<typeof requestOptionsSchema>;

function functionDeclarations(tools: RequestOptions['tools']): Record<string, unknown>[] {
  return (tools ?? [])
    .filter((tool) => tool.type === 'function')
    .map(({ function: fn }) => {
      const declaration: Record<string, unknown> = { name: fn.name };
      if (fn.description) declaration['description'] = fn.description;
      const parameters = fn.parameters ? toGeminiSchema(fn.parameters) : undefined;
      // A tool without arguments must omit `parameters`: an OBJECT with no properties is a 400.
      if (parameters?.properties) declaration['parameters'] = parameters;
      return declaration;
    });
}

function toolConfigOf(choice: RequestOptions['tool_choice']): Record<string, unknown> | undefined {
  if (!choice) return undefined;
  if (choice === 'auto') return { functionCallingConfig: { mode: 'AUTO' } };
  if (choice === 'none') return { functionCallingConfig: { mode: 'NONE' } };
  if (choice === 'required') return { functionCallingConfig: { mode: 'ANY' } };
  return { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: [choice.function.name] } };
}

function generationConfigOf(options: RequestOptions): Record<string, unknown> {
  const config: Record<string, unknown> = {};
  const set = (key: string, value: unknown) => {
    if (value !== undefined && value !== null) config[key] = value;
  };
  set('temperature', options.temperature);
  set('topP', options.top_p);
  set('maxOutputTokens', options.max_completion_tokens ?? options.max_tokens);
  set('candidateCount', options.n);
  set('presencePenalty', options.presence_penalty);
  set('frequencyPenalty', options.frequency_penalty);
  set('seed', options.seed);
  if (options.stop !== undefined && options.stop !== null) {
    set('stopSequences', typeof options.stop === 'string' ? [options.stop] : options.stop);
  }
  const format = options.response_format;
  if (format?.type === 'json_object') set('responseMimeType', 'application/json');
  if (format?.type === 'json_schema') {
    set('responseMimeType', 'application/json');
    const schema = format.json_schema.schema;
    if (schema) set('responseSchema', toGeminiSchema(schema));
  }
  return config;
}

// ---------------------------------------------------------------------------------------------
// Gemini's responses: GenerateContentResponse, whole or one streamed chunk (the same shape).

const googleErrorSchema = z.looseObject({
  code: z.number().optional(),
  message: z.string().optional(),
  status: z.string().optional(),
  details: z
    .array(z.looseObject({ reason: z.string().optional() }))
    .optional()
    .catch(undefined),
});

const partSchema = z.looseObject({
  text: z.string().optional(),
  thought: z.boolean().optional(),
  thoughtSignature: z.string().optional(),
  functionCall: z
    .looseObject({ id: z.string().optional(), name: z.string(), args: jsonObject.nullish() })
    .optional(),
});

const usageMetadataSchema = z.looseObject({
  promptTokenCount: z.number().optional(),
  candidatesTokenCount: z.number().optional(),
  thoughtsTokenCount: z.number().optional(),
  toolUsePromptTokenCount: z.number().optional(),
  cachedContentTokenCount: z.number().optional(),
  totalTokenCount: z.number().optional(),
});

const candidateSchema = z.looseObject({
  index: z.number().int().optional(),
  content: z.looseObject({ parts: z.array(partSchema).optional() }).optional(),
  finishReason: z.string().optional(),
});

const generateContentResponseSchema = z.looseObject({
  candidates: z.array(candidateSchema).optional(),
  promptFeedback: z.looseObject({ blockReason: z.string().optional() }).optional(),
  usageMetadata: usageMetadataSchema.optional(),
  error: googleErrorSchema.optional(),
});

type GenerateContentResponse = z.infer<typeof generateContentResponseSchema>;
type Candidate = z.infer<typeof candidateSchema>;
type Part = z.infer<typeof partSchema>;

const FILTERED = new Set([
  'SAFETY',
  'RECITATION',
  'BLOCKLIST',
  'PROHIBITED_CONTENT',
  'SPII',
  'IMAGE_SAFETY',
  'IMAGE_PROHIBITED_CONTENT',
  'IMAGE_RECITATION',
]);

function finishReasonOf(reason: string, calledTools: boolean): FinishReason {
  if (reason === 'MAX_TOKENS') return 'length';
  if (FILTERED.has(reason)) return 'content_filter';
  // Gemini says STOP after function calls; OpenAI clients loop on `tool_calls`.
  return calledTools ? 'tool_calls' : 'stop';
}

function usageOf(metadata: z.infer<typeof usageMetadataSchema>): Usage {
  // promptTokenCount already includes the cached part, as OpenAI's prompt_tokens does; thinking is
  // billed as output, so it counts as completion.
  const prompt = (metadata.promptTokenCount ?? 0) + (metadata.toolUsePromptTokenCount ?? 0);
  const completion = (metadata.candidatesTokenCount ?? 0) + (metadata.thoughtsTokenCount ?? 0);
  const usage: Usage = {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: metadata.totalTokenCount ?? prompt + completion,
  };
  if (metadata.cachedContentTokenCount !== undefined) {
    usage.prompt_tokens_details = { cached_tokens: metadata.cachedContentTokenCount };
  }
  return usage;
}

function visibleText(parts: Part[]): string {
  return parts.map((part) => (part.thought === true || part.text === undefined ? '' : part.text)).join('');
}

/** Mints tool-call ids from the response id: pure, and unique within the response. */
class ToolCallIds {
  readonly #base: string;
  #next = 0;

  constructor(responseId: string) {
    this.#base = responseId.replace(/^chatcmpl-/, '');
  }

  idFor(part: Part): string {
    const id = part.functionCall?.id ?? `call_${this.#base}_${this.#next}`;
    this.#next += 1;
    return part.thoughtSignature ? `${id}${THOUGHT_SEPARATOR}${part.thoughtSignature}` : id;
  }
}

function toolCallOf(part: Part, ids: ToolCallIds): ToolCall | undefined {
  if (!part.functionCall) return undefined;
  return {
    id: ids.idFor(part),
    type: 'function',
    function: { name: part.functionCall.name, arguments: JSON.stringify(part.functionCall.args ?? {}) },
  };
}

function parseResponse(body: unknown): GenerateContentResponse {
  const parsed = generateContentResponseSchema.safeParse(body);
  if (!parsed.success) {
    throw new UpstreamStreamError({
      message: 'Gemini returned a response Keyway could not read.',
      type: 'upstream_error',
      code: 'invalid_upstream_response',
    });
  }
  const { error } = parsed.data;
  if (error) {
    const reasons = error.details?.flatMap((detail) => (detail.reason ? [detail.reason] : [])) ?? [];
    throw new UpstreamStreamError(
      errorInfoOf(error.message ?? '', { code: error.code, status: error.status, reasons }, 500),
    );
  }
  return parsed.data;
}

function translateResponse(body: unknown, context: ResponseContext): ChatCompletion {
  const response = parseResponse(body);
  const ids = new ToolCallIds(context.id);
  const candidates = response.candidates ?? [];
  const choices: ChatCompletion['choices'] = candidates.map((candidate, position) => {
    const parts = candidate.content?.parts ?? [];
    const toolCalls = parts.flatMap((part) => toolCallOf(part, ids) ?? []);
    const finish = finishReasonOf(candidate.finishReason ?? 'STOP', toolCalls.length > 0);
    const text = visibleText(parts);
    const content = text !== '' ? text : toolCalls.length > 0 || finish === 'content_filter' ? null : '';
    return {
      index: candidate.index ?? position,
      message: {
        role: 'assistant',
        content,
        ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
        refusal: null,
      },
      finish_reason: finish,
      logprobs: null,
    };
  });
  if (choices.length === 0) {
    // A blocked prompt (promptFeedback.blockReason) comes back with no candidates at all.
    choices.push({
      index: 0,
      message: { role: 'assistant', content: null, refusal: null },
      finish_reason: response.promptFeedback?.blockReason ? 'content_filter' : 'stop',
      logprobs: null,
    });
  }
  const completion: ChatCompletion = {
    id: context.id,
    object: 'chat.completion',
    created: context.created,
    model: context.model,
    choices,
  };
  if (response.usageMetadata) completion.usage = usageOf(response.usageMetadata);
  return completion;
}

// ---------------------------------------------------------------------------------------------
// Streaming: every SSE `data:` is a whole GenerateContentResponse; function calls arrive whole.

interface ChoiceState {
  toolCalls: number;
  finished: boolean;
}

class GeminiStreamTranslator implements StreamTranslator {
  readonly #context: ResponseContext;
  readonly #ids: ToolCallIds;
  readonly #choices = new Map<number, ChoiceState>();
  #usage: Usage | null = null;

  constructor(context: ResponseContext) {
    this.#context = context;
    this.#ids = new ToolCallIds(context.id);
  }

  push(event: SseEvent): ChatCompletionChunk[] {
    const data = event.data.trim();
    if (data === '' || data === '[DONE]') return [];
    const response = parseResponse(parseJson(data) ?? data);
    // usageMetadata is cumulative: the latest value is the whole count so far.
    if (response.usageMetadata) this.#usage = usageOf(response.usageMetadata);
    const chunks: ChatCompletionChunk[] = [];
    const candidates = response.candidates ?? [];
    candidates.forEach((candidate, position) => this.#candidate(candidate, position, chunks));
    if (candidates.length === 0) {
      const state = this.#state(0, chunks);
      if (response.promptFeedback?.blockReason && !state.finished) {
        state.finished = true;
        chunks.push(this.#chunk(0, {}, 'content_filter'));
      }
    }
    return chunks;
  }

  end(): ChatCompletionChunk[] {
    if (!this.#context.includeUsage || this.#usage === null) return [];
    return [{ ...this.#chunk(0, {}, null), choices: [], usage: this.#usage }];
  }

  usage(): Usage | null {
    return this.#usage;
  }

  #candidate(candidate: Candidate, position: number, chunks: ChatCompletionChunk[]): void {
    const index = candidate.index ?? position;
    const state = this.#state(index, chunks);
    const parts = candidate.content?.parts ?? [];
    const text = visibleText(parts);
    if (text !== '') chunks.push(this.#chunk(index, { content: text }, null));
    for (const part of parts) {
      const call = toolCallOf(part, this.#ids);
      if (!call) continue;
      chunks.push(this.#chunk(index, { tool_calls: [{ index: state.toolCalls, ...call }] }, null));
      state.toolCalls += 1;
    }
    if (candidate.finishReason && !state.finished) {
      state.finished = true;
      chunks.push(this.#chunk(index, {}, finishReasonOf(candidate.finishReason, state.toolCalls > 0)));
    }
  }

  /** The first chunk of every choice announces the role, as OpenAI's do. */
  #state(index: number, chunks: ChatCompletionChunk[]): ChoiceState {
    let state = this.#choices.get(index);
    if (!state) {
      state = { toolCalls: 0, finished: false };
      this.#choices.set(index, state);
      chunks.push(this.#chunk(index, { role: 'assistant', content: '' }, null));
    }
    return state;
  }

  #chunk(
    index: number,
    delta: ChatCompletionChunk['choices'][number]['delta'],
    finishReason: FinishReason,
  ): ChatCompletionChunk {
    const chunk: ChatCompletionChunk = {
      id: this.#context.id,
      object: 'chat.completion.chunk',
      created: this.#context.created,
      model: this.#context.model,
      choices: [{ index, delta, finish_reason: finishReason, logprobs: null }],
    };
    // With include_usage OpenAI sends `usage: null` on every chunk but the last.
    if (this.#context.includeUsage) chunk.usage = null;
    return chunk;
  }
}

// ---------------------------------------------------------------------------------------------
// Errors: Google's `{error: {code, message, status, details}}`, read by `providerErrorText`. Only
// `message` is relayed: Google has echoed keys in `details`.

const STATUS_MAP: Record<string, { type: string; code: string }> = {
  INVALID_ARGUMENT: { type: 'invalid_request_error', code: 'invalid_argument' },
  FAILED_PRECONDITION: { type: 'invalid_request_error', code: 'failed_precondition' },
  OUT_OF_RANGE: { type: 'invalid_request_error', code: 'out_of_range' },
  UNAUTHENTICATED: { type: 'authentication_error', code: 'invalid_api_key' },
  PERMISSION_DENIED: { type: 'permission_error', code: 'permission_denied' },
  NOT_FOUND: { type: 'invalid_request_error', code: 'model_not_found' },
  RESOURCE_EXHAUSTED: { type: 'rate_limit_error', code: 'rate_limit_exceeded' },
  CANCELLED: { type: 'server_error', code: 'cancelled' },
  DEADLINE_EXCEEDED: { type: 'server_error', code: 'timeout' },
  UNAVAILABLE: { type: 'server_error', code: 'service_unavailable' },
  INTERNAL: { type: 'server_error', code: 'internal_error' },
  UNKNOWN: { type: 'server_error', code: 'unknown_error' },
};

const STATUS_BY_HTTP: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  429: 'RESOURCE_EXHAUSTED',
  499: 'CANCELLED',
  500: 'INTERNAL',
  503: 'UNAVAILABLE',
  504: 'DEADLINE_EXCEEDED',
};

/** What a Google error says besides its message, from an error body or an error inside a stream. */
interface GoogleErrorFacts {
  code?: number | undefined;
  status?: string | undefined;
  reasons: string[];
}

function errorInfoOf(message: string, facts: GoogleErrorFacts, httpStatus: number): UpstreamErrorInfo {
  const status = facts.status ?? STATUS_BY_HTTP[facts.code ?? httpStatus];
  const mapped = facts.reasons.includes('API_KEY_INVALID')
    ? { type: 'authentication_error', code: 'invalid_api_key' }
    : ((status ? STATUS_MAP[status] : undefined) ?? fallbackError(httpStatus));
  return { message: relayableMessage(message) || `Gemini answered HTTP ${httpStatus}.`, ...mapped };
}

function fallbackError(status: number): { type: string; code: string } {
  if (status >= 500) return { type: 'server_error', code: 'upstream_error' };
  return { type: 'invalid_request_error', code: 'upstream_error' };
}

/** Google's envelope keeps its message and status; any other body is described by its HTTP status. */
function translateError(status: number, body: string): UpstreamErrorInfo {
  const error = providerErrorText('gemini', { status, body }, { who: 'Gemini' });
  if (error.relayed) return errorInfoOf(error.message, error.details, status);
  const mapped = STATUS_MAP[STATUS_BY_HTTP[status] ?? ''] ?? fallbackError(status);
  return { message: error.message, ...mapped };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Google Gemini's generateContent / streamGenerateContent (v1beta), translated to OpenAI's wire. */
export const googleAdapter: ProviderAdapter = {
  buildRequest,
  translateResponse,
  createStreamTranslator: (context) => new GeminiStreamTranslator(context),
  translateError,
};
