import { z } from 'zod';
import { KeywayError } from '../../errors.ts';
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

/** The Messages API version Keyway speaks; newer fields Anthropic adds are ignored, not rejected. */
export const ANTHROPIC_VERSION = '2023-06-01';

/** Anthropic requires `max_tokens`; OpenAI clients usually leave it out. */
export const DEFAULT_MAX_TOKENS = 4096;

/**
 * The key `buildRequest` puts a tool call's arguments under when they are not a JSON object (a model
 * cut off by `max_tokens` leaves half an object behind). Anthropic insists `tool_use.input` is an
 * object; failing the whole conversation over an old turn would be worse than showing the model
 * exactly what it wrote.
 */
export const RAW_ARGUMENTS_KEY = '_raw_arguments';

// ---------------------------------------------------------------------------------------------------
// Requests: OpenAI chat request → Anthropic Messages request
// ---------------------------------------------------------------------------------------------------

// Only the fields this adapter reads; everything else in the client's request is OpenAI-specific.
const contentPartSchema = z.looseObject({ type: z.string() });
const contentSchema = z.union([z.string(), z.array(contentPartSchema)]).nullish();

const openAiMessageSchema = z.object({
  role: z.enum(['system', 'developer', 'user', 'assistant', 'tool']),
  content: contentSchema,
  tool_calls: z
    .array(
      z.object({
        id: z.string(),
        type: z.literal('function').optional(),
        function: z.object({ name: z.string(), arguments: z.string().nullish() }),
      }),
    )
    .nullish(),
  tool_call_id: z.string().optional(),
});

const openAiRequestSchema = z.object({
  messages: z.array(openAiMessageSchema),
  max_completion_tokens: z.number().int().positive().nullish(),
  max_tokens: z.number().int().positive().nullish(),
  temperature: z.number().min(0).nullish(),
  top_p: z.number().nullish(),
  stop: z.union([z.string(), z.array(z.string())]).nullish(),
  tools: z
    .array(
      z.object({
        type: z.literal('function'),
        function: z.object({
          name: z.string(),
          description: z.string().optional(),
          parameters: z.record(z.string(), z.unknown()).optional(),
        }),
      }),
    )
    .nullish(),
  tool_choice: z
    .union([
      z.enum(['auto', 'required', 'none']),
      z.object({ type: z.literal('function'), function: z.object({ name: z.string() }) }),
    ])
    .nullish(),
  parallel_tool_calls: z.boolean().nullish(),
  user: z.string().nullish(),
});

type OpenAiMessage = z.infer<typeof openAiMessageSchema>;
type OpenAiRequest = z.infer<typeof openAiRequestSchema>;
type ContentPart = z.infer<typeof contentPartSchema>;

type ImageSource = { type: 'base64'; media_type: string; data: string } | { type: 'url'; url: string };
type AnthropicBlock =
  | { type: 'text'; text: string }
  | { type: 'image'; source: ImageSource }
  | { type: 'document'; source: { type: 'base64'; media_type: string; data: string } }
  | { type: 'tool_use'; id: string; name: string; input: Record<string, unknown> }
  | { type: 'tool_result'; tool_use_id: string; content?: string };

interface AnthropicMessage {
  role: 'user' | 'assistant';
  content: AnthropicBlock[];
}

type AnthropicToolChoice =
  | { type: 'auto' | 'any'; disable_parallel_tool_use?: true }
  | { type: 'tool'; name: string; disable_parallel_tool_use?: true }
  | { type: 'none' };

function invalid(message: string): KeywayError {
  return new KeywayError('validation_failed', message, {
    fix: 'Send an OpenAI chat request Anthropic can represent (see the message for the field).',
  });
}

function parseRequest(request: unknown): OpenAiRequest {
  const result = openAiRequestSchema.safeParse(request);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue?.path.length ? `${issue.path.join('.')}: ` : '';
  throw invalid(`Invalid request for an Anthropic model: ${where}${issue?.message ?? 'unreadable'}`);
}

/** The text of string or parts content; used where Anthropic takes only text (system, tool results). */
function plainText(content: OpenAiMessage['content'], separator: string): string {
  if (content == null) return '';
  if (typeof content === 'string') return content;
  return content
    .map((part) => (part.type === 'text' && typeof part.text === 'string' ? part.text : ''))
    .filter((text) => text !== '')
    .join(separator);
}

const DATA_URL = /^data:([^;,]+)((?:;[^;,]*)*),(.*)$/s;

function parseBase64DataUrl(url: string, what: string): { media_type: string; data: string } {
  const match = DATA_URL.exec(url);
  const [, mediaType, parameters, data] = match ?? [];
  if (mediaType === undefined || data === undefined || !parameters?.split(';').includes('base64')) {
    throw invalid(`Anthropic accepts ${what} only as base64 data URLs or http(s) URLs.`);
  }
  return { media_type: mediaType, data };
}

function imageBlock(part: ContentPart): AnthropicBlock {
  const imageUrl = part.image_url;
  const url =
    typeof imageUrl === 'string'
      ? imageUrl
      : typeof imageUrl === 'object' && imageUrl !== null && 'url' in imageUrl
        ? imageUrl.url
        : undefined;
  if (typeof url !== 'string') throw invalid('An image_url content part has no url.');
  if (url.startsWith('data:'))
    return { type: 'image', source: { type: 'base64', ...parseBase64DataUrl(url, 'images') } };
  if (/^https?:\/\//i.test(url)) return { type: 'image', source: { type: 'url', url } };
  throw invalid('Anthropic accepts images only as base64 data URLs or http(s) URLs.');
}

function documentBlock(part: ContentPart): AnthropicBlock {
  const file = z.object({ file_data: z.string() }).safeParse(part.file);
  if (!file.success)
    throw invalid('Anthropic accepts file parts only with inline file_data (a PDF data URL).');
  const source = parseBase64DataUrl(file.data.file_data, 'files');
  if (source.media_type !== 'application/pdf') throw invalid('Anthropic accepts only PDF files.');
  return { type: 'document', source: { type: 'base64', ...source } };
}

function contentBlocks(content: OpenAiMessage['content']): AnthropicBlock[] {
  if (content == null) return [];
  // Anthropic rejects empty text blocks, which OpenAI clients send freely (`content: ""`).
  if (typeof content === 'string') return content === '' ? [] : [{ type: 'text', text: content }];
  const blocks: AnthropicBlock[] = [];
  for (const part of content) {
    if (part.type === 'text' || part.type === 'refusal') {
      const text = part.type === 'text' ? part.text : part.refusal;
      if (typeof text === 'string' && text !== '') blocks.push({ type: 'text', text });
    } else if (part.type === 'image_url') {
      blocks.push(imageBlock(part));
    } else if (part.type === 'file') {
      blocks.push(documentBlock(part));
    } else {
      // Dropping it would have the model answer without what the user sent, unnoticed.
      throw invalid(`Content parts of type "${part.type}" cannot be sent to Anthropic.`);
    }
  }
  return blocks;
}

function toolInput(args: string | null | undefined): Record<string, unknown> {
  if (args == null || args.trim() === '') return {};
  try {
    const parsed: unknown = JSON.parse(args);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
      return parsed as Record<string, unknown>;
    }
  } catch {
    // Not JSON: kept verbatim below.
  }
  return { [RAW_ARGUMENTS_KEY]: args };
}

function toAnthropicMessage(
  message: OpenAiMessage & { role: 'user' | 'assistant' | 'tool' },
): AnthropicMessage {
  switch (message.role) {
    case 'user':
      return { role: 'user', content: contentBlocks(message.content) };
    case 'assistant': {
      const toolUses: AnthropicBlock[] = (message.tool_calls ?? []).map((call) => ({
        type: 'tool_use',
        id: call.id,
        name: call.function.name,
        input: toolInput(call.function.arguments),
      }));
      return { role: 'assistant', content: [...contentBlocks(message.content), ...toolUses] };
    }
    case 'tool': {
      if (message.tool_call_id === undefined) throw invalid('A tool message has no tool_call_id.');
      const text = plainText(message.content, '\n');
      return {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: message.tool_call_id, ...(text ? { content: text } : {}) },
        ],
      };
    }
  }
}

/**
 * Anthropic wants user and assistant turns to alternate and a user turn's tool results before its
 * text; OpenAI sends one `tool` message per result and lets roles repeat. Merging consecutive turns
 * of one role gives both: all results of one assistant turn land in a single user message.
 */
function mergeTurns(messages: AnthropicMessage[]): AnthropicMessage[] {
  const merged: AnthropicMessage[] = [];
  for (const message of messages) {
    if (message.content.length === 0) continue;
    const last = merged.at(-1);
    if (last?.role === message.role) last.content.push(...message.content);
    else merged.push({ role: message.role, content: [...message.content] });
  }
  for (const message of merged) {
    const results = message.content.filter((block) => block.type === 'tool_result');
    if (results.length > 0 && results.length < message.content.length) {
      message.content = [...results, ...message.content.filter((block) => block.type !== 'tool_result')];
    }
  }
  return merged;
}

function toolChoice(request: OpenAiRequest): AnthropicToolChoice | undefined {
  const choice = request.tool_choice;
  const single = request.parallel_tool_calls === false ? { disable_parallel_tool_use: true as const } : {};
  if (choice === 'none') return { type: 'none' };
  if (choice === 'required') return { type: 'any', ...single };
  if (typeof choice === 'object' && choice !== null)
    return { type: 'tool', name: choice.function.name, ...single };
  if (choice === 'auto' || request.parallel_tool_calls === false) return { type: 'auto', ...single };
  return undefined;
}

function buildBody(input: AdapterInput, stream: boolean): Record<string, unknown> {
  const request = parseRequest(input.request);
  // Anthropic has one top-level system prompt, wherever OpenAI clients put their system messages.
  const systemTexts: string[] = [];
  const turns: AnthropicMessage[] = [];
  for (const message of request.messages) {
    if (message.role === 'system' || message.role === 'developer') {
      const text = plainText(message.content, '\n');
      if (text !== '') systemTexts.push(text);
    } else {
      turns.push(toAnthropicMessage({ ...message, role: message.role }));
    }
  }
  const system = systemTexts.join('\n\n');
  const messages = mergeTurns(turns).map(({ role, content }) => ({
    role,
    // The plain-string form for a lone text block: what Anthropic's own examples send.
    content: content.length === 1 && content[0]?.type === 'text' ? content[0].text : content,
  }));
  const stops = request.stop == null ? [] : [request.stop].flat().filter((stop) => stop !== '');
  const tools = request.tools ?? [];
  const choice = tools.length > 0 ? toolChoice(request) : undefined;
  return {
    model: input.model,
    max_tokens: request.max_completion_tokens ?? request.max_tokens ?? DEFAULT_MAX_TOKENS,
    ...(system ? { system } : {}),
    messages,
    ...(stops.length > 0 ? { stop_sequences: stops } : {}),
    // OpenAI allows 0–2, Anthropic 0–1: the top of one range means "most random" in both.
    ...(request.temperature != null ? { temperature: Math.min(request.temperature, 1) } : {}),
    ...(request.top_p != null ? { top_p: request.top_p } : {}),
    ...(tools.length > 0
      ? {
          tools: tools.map(({ function: fn }) => ({
            name: fn.name,
            ...(fn.description !== undefined ? { description: fn.description } : {}),
            input_schema: fn.parameters ?? { type: 'object', properties: {} },
          })),
        }
      : {}),
    ...(choice ? { tool_choice: choice } : {}),
    ...(request.user ? { metadata: { user_id: request.user } } : {}),
    ...(stream ? { stream: true } : {}),
  };
}

// ---------------------------------------------------------------------------------------------------
// Responses: Anthropic message / stream events → OpenAI chat completion / chunks
// ---------------------------------------------------------------------------------------------------

const usageSchema = z.looseObject({
  input_tokens: z.number().nullish(),
  output_tokens: z.number().nullish(),
  cache_creation_input_tokens: z.number().nullish(),
  cache_read_input_tokens: z.number().nullish(),
});

const textBlockSchema = z.looseObject({ type: z.literal('text'), text: z.string() });
const toolUseBlockSchema = z.looseObject({
  type: z.literal('tool_use'),
  id: z.string(),
  name: z.string(),
  input: z.unknown().optional(),
});

const messageSchema = z.looseObject({
  type: z.literal('message'),
  content: z.array(z.looseObject({ type: z.string() })),
  stop_reason: z.string().nullish(),
  usage: usageSchema.nullish(),
});

const errorBodySchema = z.looseObject({
  type: z.literal('error'),
  error: z.looseObject({ type: z.string(), message: z.string() }),
});

/** A block as `content_block_start` announces it: empty text, or a tool's id and name. */
const startedBlockSchema = z.looseObject({
  type: z.string(),
  id: z.string().optional(),
  name: z.string().optional(),
  text: z.string().optional(),
  input: z.unknown().optional(),
});

const streamEventSchema = z.discriminatedUnion('type', [
  z.looseObject({
    type: z.literal('message_start'),
    message: z.looseObject({ usage: usageSchema.nullish() }),
  }),
  z.looseObject({
    type: z.literal('content_block_start'),
    index: z.number(),
    content_block: startedBlockSchema,
  }),
  z.looseObject({
    type: z.literal('content_block_delta'),
    index: z.number(),
    delta: z.looseObject({
      type: z.string(),
      text: z.string().optional(),
      partial_json: z.string().optional(),
    }),
  }),
  z.looseObject({ type: z.literal('content_block_stop'), index: z.number() }),
  z.looseObject({
    type: z.literal('message_delta'),
    delta: z.looseObject({ stop_reason: z.string().nullish() }),
    usage: usageSchema.nullish(),
  }),
  z.looseObject({ type: z.literal('message_stop') }),
  z.looseObject({ type: z.literal('ping') }),
  errorBodySchema,
]);

const KNOWN_EVENTS = new Set([
  'message_start',
  'content_block_start',
  'content_block_delta',
  'content_block_stop',
  'message_delta',
  'message_stop',
  'ping',
  'error',
]);

type AnthropicUsage = z.infer<typeof usageSchema>;

const FINISH_REASONS: Record<string, FinishReason> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  // A server tool (web search) paused a long turn; the reply so far is complete as far as it goes.
  pause_turn: 'stop',
  max_tokens: 'length',
  model_context_window_exceeded: 'length',
  tool_use: 'tool_calls',
  refusal: 'content_filter',
};

function finishReason(stopReason: string | null | undefined): FinishReason {
  return (stopReason ? FINISH_REASONS[stopReason] : undefined) ?? 'stop';
}

/** Token counts as Anthropic splits them; every field is cumulative, so a later report replaces. */
interface TokenCounts {
  input: number;
  output: number;
  cacheRead: number;
  cacheCreation: number;
}

function mergeUsage(counts: TokenCounts, usage: AnthropicUsage | null | undefined): void {
  if (!usage) return;
  if (usage.input_tokens != null) counts.input = usage.input_tokens;
  if (usage.output_tokens != null) counts.output = usage.output_tokens;
  if (usage.cache_read_input_tokens != null) counts.cacheRead = usage.cache_read_input_tokens;
  if (usage.cache_creation_input_tokens != null) counts.cacheCreation = usage.cache_creation_input_tokens;
}

/** Anthropic's `input_tokens` excludes cached tokens; OpenAI's `prompt_tokens` includes them. */
function toOpenAiUsage(counts: TokenCounts): Usage {
  const prompt = counts.input + counts.cacheRead + counts.cacheCreation;
  return {
    prompt_tokens: prompt,
    completion_tokens: counts.output,
    total_tokens: prompt + counts.output,
    prompt_tokens_details: { cached_tokens: counts.cacheRead },
  };
}

function translateResponse(body: unknown, context: ResponseContext): ChatCompletion {
  const parsed = messageSchema.safeParse(body);
  if (!parsed.success)
    throw new KeywayError('upstream_invalid', 'Anthropic answered with something that is not a message.');
  const message = parsed.data;
  const texts: string[] = [];
  const toolCalls: ToolCall[] = [];
  for (const block of message.content) {
    const text = textBlockSchema.safeParse(block);
    if (text.success) texts.push(text.data.text);
    const toolUse = toolUseBlockSchema.safeParse(block);
    if (toolUse.success) {
      const { id, name, input } = toolUse.data;
      toolCalls.push({ id, type: 'function', function: { name, arguments: JSON.stringify(input ?? {}) } });
    }
    // Thinking, redacted thinking and server-tool blocks have no place in an OpenAI message.
  }
  const counts: TokenCounts = { input: 0, output: 0, cacheRead: 0, cacheCreation: 0 };
  mergeUsage(counts, message.usage);
  return {
    id: context.id,
    object: 'chat.completion',
    created: context.created,
    model: context.model,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: texts.length > 0 ? texts.join('') : null,
          ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
          refusal: null,
        },
        finish_reason: finishReason(message.stop_reason),
        logprobs: null,
      },
    ],
    usage: toOpenAiUsage(counts),
  };
}

type Delta = ChatCompletionChunk['choices'][number]['delta'];

/** What a content block became: text (forwarded), a tool call (OpenAI index), or nothing. */
type BlockState =
  | { kind: 'text' }
  | { kind: 'tool'; toolIndex: number; startInput: unknown; sentArguments: boolean }
  | { kind: 'skipped' };

class AnthropicStreamTranslator implements StreamTranslator {
  readonly #context: ResponseContext;
  readonly #blocks = new Map<number, BlockState>();
  readonly #counts: TokenCounts = { input: 0, output: 0, cacheRead: 0, cacheCreation: 0 };
  #sawUsage = false;
  #started = false;
  #nextToolIndex = 0;
  #finished = false;
  #stopped = false;

  constructor(context: ResponseContext) {
    this.#context = context;
  }

  push(event: SseEvent): ChatCompletionChunk[] {
    const data = parseEventData(event);
    if (data === null) return [];
    const chunks: ChatCompletionChunk[] = [];
    switch (data.type) {
      case 'message_start':
        this.#mergeUsage(data.message.usage);
        this.#start(chunks);
        break;
      case 'content_block_start':
        this.#blockStart(data.index, data.content_block, chunks);
        break;
      case 'content_block_delta': {
        const block = this.#blocks.get(data.index);
        const { delta } = data;
        if (block?.kind === 'text' && delta.type === 'text_delta' && delta.text) {
          this.#emit(chunks, { content: delta.text });
        } else if (block?.kind === 'tool' && delta.type === 'input_json_delta' && delta.partial_json) {
          block.sentArguments = true;
          this.#emit(chunks, {
            tool_calls: [{ index: block.toolIndex, function: { arguments: delta.partial_json } }],
          });
        }
        break;
      }
      case 'content_block_stop': {
        const block = this.#blocks.get(data.index);
        // A tool without parameters streams no JSON at all; OpenAI clients parse `arguments`, so give them `{}`.
        if (block?.kind === 'tool' && !block.sentArguments) {
          block.sentArguments = true;
          const input =
            typeof block.startInput === 'object' && block.startInput !== null ? block.startInput : {};
          this.#emit(chunks, {
            tool_calls: [{ index: block.toolIndex, function: { arguments: JSON.stringify(input) } }],
          });
        }
        break;
      }
      case 'message_delta':
        this.#mergeUsage(data.usage);
        if (data.delta.stop_reason != null) this.#finish(chunks, finishReason(data.delta.stop_reason));
        break;
      case 'message_stop':
        this.#stopped = true;
        break;
      case 'ping':
        break;
      case 'error':
        throw new UpstreamStreamError(errorInfo(data.error.type, data.error.message));
    }
    return chunks;
  }

  end(): ChatCompletionChunk[] {
    if (!this.#stopped && !this.#finished) {
      // A cut connection must not look like a complete answer.
      throw new UpstreamStreamError({
        message: 'Anthropic ended the stream before the message was complete.',
        type: 'server_error',
        code: 'incomplete_stream',
      });
    }
    const chunks: ChatCompletionChunk[] = [];
    this.#finish(chunks, 'stop');
    if (this.#context.includeUsage) {
      chunks.push({ ...this.#base(), choices: [], usage: toOpenAiUsage(this.#counts) });
    }
    return chunks;
  }

  usage(): Usage | null {
    return this.#sawUsage ? toOpenAiUsage(this.#counts) : null;
  }

  #blockStart(index: number, block: z.infer<typeof startedBlockSchema>, chunks: ChatCompletionChunk[]): void {
    if (block.type === 'text') {
      this.#blocks.set(index, { kind: 'text' });
      if (block.text) this.#emit(chunks, { content: block.text });
    } else if (block.type === 'tool_use' && block.id !== undefined && block.name !== undefined) {
      // OpenAI numbers tool calls 0, 1, 2…; Anthropic's index counts every block, text and thinking too.
      const toolIndex = this.#nextToolIndex++;
      this.#blocks.set(index, { kind: 'tool', toolIndex, startInput: block.input, sentArguments: false });
      this.#emit(chunks, {
        tool_calls: [
          { index: toolIndex, id: block.id, type: 'function', function: { name: block.name, arguments: '' } },
        ],
      });
    } else {
      this.#blocks.set(index, { kind: 'skipped' });
    }
  }

  #mergeUsage(usage: AnthropicUsage | null | undefined): void {
    if (!usage) return;
    this.#sawUsage = true;
    mergeUsage(this.#counts, usage);
  }

  #start(chunks: ChatCompletionChunk[]): void {
    if (this.#started) return;
    this.#started = true;
    chunks.push(this.#chunk({ role: 'assistant', content: '' }, null));
  }

  #finish(chunks: ChatCompletionChunk[], reason: FinishReason): void {
    if (this.#finished) return;
    this.#start(chunks);
    this.#finished = true;
    chunks.push(this.#chunk({}, reason));
  }

  #emit(chunks: ChatCompletionChunk[], delta: Delta): void {
    this.#start(chunks);
    chunks.push(this.#chunk(delta, null));
  }

  #base(): Omit<ChatCompletionChunk, 'choices'> {
    return {
      id: this.#context.id,
      object: 'chat.completion.chunk',
      created: this.#context.created,
      model: this.#context.model,
    };
  }

  #chunk(delta: Delta, reason: FinishReason): ChatCompletionChunk {
    return {
      ...this.#base(),
      choices: [{ index: 0, delta, logprobs: null, finish_reason: reason }],
      // OpenAI puts `usage: null` on every chunk but the last when the client asked for usage.
      ...(this.#context.includeUsage ? { usage: null } : {}),
    };
  }
}

function parseEventData(event: SseEvent): z.infer<typeof streamEventSchema> | null {
  let json: unknown;
  try {
    json = JSON.parse(event.data);
  } catch {
    throw new UpstreamStreamError({
      message: 'Anthropic sent a stream event that is not JSON.',
      type: 'server_error',
      code: 'invalid_upstream_response',
    });
  }
  const type = typeof json === 'object' && json !== null && 'type' in json ? json.type : event.event;
  // Anthropic documents that new event types may appear; they carry nothing OpenAI clients know.
  if (typeof type !== 'string' || !KNOWN_EVENTS.has(type)) return null;
  const parsed = streamEventSchema.safeParse(json);
  if (!parsed.success) {
    throw new UpstreamStreamError({
      message: `Anthropic sent a malformed ${type} event.`,
      type: 'server_error',
      code: 'invalid_upstream_response',
    });
  }
  return parsed.data;
}

// ---------------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------------

/** Anthropic's error types (https://docs.claude.com/en/api/errors) in OpenAI's terms. */
const ERROR_TYPES: Record<string, { type: string; code: string | null }> = {
  invalid_request_error: { type: 'invalid_request_error', code: null },
  authentication_error: { type: 'authentication_error', code: 'invalid_api_key' },
  billing_error: { type: 'insufficient_quota', code: 'insufficient_quota' },
  permission_error: { type: 'permission_error', code: 'permission_denied' },
  not_found_error: { type: 'invalid_request_error', code: 'not_found' },
  request_too_large: { type: 'invalid_request_error', code: 'request_too_large' },
  rate_limit_error: { type: 'rate_limit_error', code: 'rate_limit_exceeded' },
  api_error: { type: 'server_error', code: 'server_error' },
  timeout_error: { type: 'server_error', code: 'timeout' },
  overloaded_error: { type: 'server_error', code: 'overloaded' },
};

/** The error type Anthropic uses for each status, for bodies that do not say (a proxy's HTML page). */
export function anthropicTypeForStatus(status: number): string {
  const byStatus: Record<number, string> = {
    400: 'invalid_request_error',
    401: 'authentication_error',
    402: 'billing_error',
    403: 'permission_error',
    404: 'not_found_error',
    413: 'request_too_large',
    429: 'rate_limit_error',
    504: 'timeout_error',
    529: 'overloaded_error',
  };
  return byStatus[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error');
}

const CONTEXT_TOO_LONG = /prompt is too long|exceed context limit/i;

function errorInfo(anthropicType: string, message: string): UpstreamErrorInfo {
  const mapped = ERROR_TYPES[anthropicType] ?? { type: 'server_error', code: anthropicType };
  const code =
    anthropicType === 'invalid_request_error' && CONTEXT_TOO_LONG.test(message)
      ? 'context_length_exceeded'
      : mapped.code;
  return { message: relayableMessage(message), type: mapped.type, code };
}

/** Anthropic's envelope keeps its message and type; any other body is described by its status. */
function translateError(status: number, body: string): UpstreamErrorInfo {
  const error = providerErrorText('anthropic', { status, body }, { who: 'Anthropic' });
  if (error.relayed) return errorInfo(error.details.type, error.message);
  return { ...errorInfo(anthropicTypeForStatus(status), ''), message: error.message };
}

/**
 * OpenAI chat completions ↔ Anthropic Messages (`POST /v1/messages`, API version 2023-06-01).
 *
 * `buildRequest` throws a `KeywayError` with code `validation_failed` for requests Anthropic cannot
 * represent (unknown roles, audio parts, non-PDF files); `translateResponse` throws one with code
 * `upstream_error` for a 200 body that is not a message. The stream translator throws
 * `UpstreamStreamError` for `error` events, malformed events, and from `end()` when the stream
 * stopped before `message_delta`/`message_stop`.
 */
export const anthropicAdapter: ProviderAdapter = {
  buildRequest(input: AdapterInput, stream: boolean): UpstreamCall {
    return {
      url: `${input.baseUrl}/v1/messages`,
      headers: {
        ...(input.secret !== null ? { 'x-api-key': input.secret } : {}),
        'anthropic-version': ANTHROPIC_VERSION,
        'content-type': 'application/json',
      },
      body: JSON.stringify(buildBody(input, stream)),
    };
  },
  translateResponse,
  createStreamTranslator: (context) => new AnthropicStreamTranslator(context),
  translateError,
};
