import { z } from 'zod';
import { KeywayError } from '../../errors.ts';
import type { ChatMessage, ChatRequest, ContentPart } from '../openai-types.ts';

/**
 * OpenAI's Responses API (`POST /v1/responses`) as a codec onto the chat core: a Responses request
 * becomes a `ChatRequest` for any provider, and a chat completion becomes a Response object. Pure: no
 * I/O, no clocks, no randomness — ids and times come in as arguments, so every transform is tested
 * against recorded formats. Response objects are in `response-object.ts`, the streamed events in
 * `responses-events.ts`.
 */

// ---------------------------------------------------------------------------------------------------
// The request, validated as far as the route needs; items and tools are read by `toChatRequest`.
// ---------------------------------------------------------------------------------------------------

/** Longest id Keyway accepts in `previous_response_id` and paths (OpenAI's are about 55 characters). */
export const MAX_RESPONSE_ID_LENGTH = 200;

export const responsesRequestSchema = z
  .object({
    model: z.string().min(1).max(300),
    input: z.union([z.string(), z.array(z.unknown())]).optional(),
    instructions: z.string().nullish(),
    stream: z.boolean().nullish(),
    store: z.boolean().nullish(),
    previous_response_id: z.string().min(1).max(MAX_RESPONSE_ID_LENGTH).nullish(),
    max_output_tokens: z.number().int().positive().nullish(),
    temperature: z.number().min(0).max(2).nullish(),
    top_p: z.number().min(0).max(1).nullish(),
    tools: z.array(z.looseObject({ type: z.string() })).nullish(),
    tool_choice: z.union([z.string(), z.looseObject({ type: z.string() })]).nullish(),
    parallel_tool_calls: z.boolean().nullish(),
    text: z.looseObject({ format: z.looseObject({ type: z.string() }).nullish() }).nullish(),
    reasoning: z.looseObject({ effort: z.string().nullish() }).nullish(),
    metadata: z.record(z.string().max(64), z.string().max(512)).nullish(),
    user: z.string().nullish(),
  })
  .loose();

export type ResponsesRequest = z.infer<typeof responsesRequestSchema>;

// ---------------------------------------------------------------------------------------------------
// Items: what a turn's input holds and what a response's output holds (both replayed as history).
// ---------------------------------------------------------------------------------------------------

const textPart = z.looseObject({ type: z.enum(['input_text', 'output_text']), text: z.string() });
const refusalPart = z.looseObject({ type: z.literal('refusal'), refusal: z.string() });
const imagePart = z.looseObject({
  type: z.literal('input_image'),
  image_url: z.string().nullish(),
  file_id: z.string().nullish(),
  detail: z.enum(['low', 'high', 'auto', 'original']).nullish(),
});
const filePart = z.looseObject({
  type: z.literal('input_file'),
  file_data: z.string().nullish(),
  file_id: z.string().nullish(),
  file_url: z.string().nullish(),
  filename: z.string().nullish(),
});
const contentPart = z.discriminatedUnion('type', [textPart, refusalPart, imagePart, filePart]);
type InputPart = z.infer<typeof contentPart>;

const messageItem = z.looseObject({
  type: z.literal('message').optional(),
  role: z.enum(['user', 'assistant', 'system', 'developer']),
  content: z.union([z.string(), z.array(contentPart)]),
});
const functionCallItem = z.looseObject({
  type: z.literal('function_call'),
  call_id: z.string().min(1),
  name: z.string().min(1),
  arguments: z.string(),
});
const functionCallOutputItem = z.looseObject({
  type: z.literal('function_call_output'),
  call_id: z.string().min(1),
  output: z.union([z.string(), z.array(contentPart)]),
});
/** Reasoning items come back from OpenAI's reasoning models; other providers cannot read them. */
const reasoningItem = z.looseObject({ type: z.literal('reasoning') });

export type MessageItem = z.infer<typeof messageItem>;
export type FunctionCallItem = z.infer<typeof functionCallItem>;
export type FunctionCallOutputItem = z.infer<typeof functionCallOutputItem>;
/** An item Keyway understands, as validated (unknown fields kept: they are echoed and stored as sent). */
export type ResponseItem =
  MessageItem | FunctionCallItem | FunctionCallOutputItem | z.infer<typeof reasoningItem>;

const ITEM_SCHEMAS = {
  message: messageItem,
  function_call: functionCallItem,
  function_call_output: functionCallOutputItem,
  reasoning: reasoningItem,
} as const;

function invalid(param: string, message: string): KeywayError {
  return new KeywayError('invalid_request', `Invalid request: ${param}: ${message}`, { details: { param } });
}

function unsupported(param: string, message: string): KeywayError {
  return new KeywayError('upstream_unsupported', message, { details: { param } });
}

/**
 * The request's `input` as items: a string is one user message. Every item is checked here, before
 * anything is sent or stored; an item type only OpenAI's own Responses API knows is a 400 naming it.
 */
export function inputItems(input: ResponsesRequest['input']): ResponseItem[] {
  if (input === undefined) return [];
  if (typeof input === 'string') return [{ type: 'message', role: 'user', content: input }];
  return input.map((raw, index) => {
    const where = `input[${index}]`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
      throw invalid(where, 'an input item is an object.');
    const type = (raw as { type?: unknown }).type ?? 'message';
    if (typeof type !== 'string') throw invalid(`${where}.type`, 'the item type is a string.');
    const schema = ITEM_SCHEMAS[type as keyof typeof ITEM_SCHEMAS];
    if (!schema)
      throw unsupported(
        `${where}.type`,
        `Input items of type "${type}" need OpenAI's own Responses API: Keyway translates messages, function_call and function_call_output items.`,
      );
    const parsed = schema.safeParse(raw);
    if (!parsed.success) {
      const issue = deepestIssue(parsed.error.issues[0]!);
      const path = issue.path.map((key) => (typeof key === 'number' ? `[${key}]` : `.${String(key)}`));
      const message =
        issue.path.at(-1) === 'type' && issue.path.includes('content')
          ? 'not a content part Keyway translates (input_text, input_image, input_file, output_text, refusal).'
          : issue.message;
      throw invalid(where + path.join(''), message);
    }
    return parsed.data as ResponseItem;
  });
}

/** The most specific problem inside a union ("content is a string or parts" says less than "part 2's type"). */
function deepestIssue(issue: z.core.$ZodIssue): { path: PropertyKey[]; message: string } {
  if (issue.code !== 'invalid_union') return issue;
  let deepest: { path: PropertyKey[]; message: string } = issue;
  for (const inner of issue.errors.flat()) {
    const candidate = deepestIssue(inner);
    const path = [...issue.path, ...candidate.path];
    if (path.length > deepest.path.length) deepest = { path, message: candidate.message };
  }
  return deepest;
}

// ---------------------------------------------------------------------------------------------------
// Request → chat request
// ---------------------------------------------------------------------------------------------------

export interface ChatTranslation {
  /** Who the request is translated for, in messages: "Anthropic", or null for a bot. */
  providerLabel: string | null;
  /** The field a provider reads the output cap from (OpenAI: `max_completion_tokens`). */
  maxTokensField: 'max_tokens' | 'max_completion_tokens';
}

/**
 * A chat request for the core: `instructions` as a system message first, then the history and the
 * turn's items in order (consecutive assistant text and function calls become one assistant message,
 * as chat completions represent a turn), function tools, and the settings chat completions share.
 * A streamed request asks for the usage chunk: `response.completed` carries usage.
 */
export function toChatRequest(
  request: ResponsesRequest,
  items: readonly ResponseItem[],
  translation: ChatTranslation,
): ChatRequest {
  const messages: ChatMessage[] = [];
  if (request.instructions) messages.push({ role: 'system', content: request.instructions });
  for (const item of items) appendItem(messages, item);
  if (messages.length === 0) throw invalid('input', 'the request has no input.');
  rejectOpenAiOnly(request, translation);

  const chat: Record<string, unknown> = { model: request.model, messages };
  if (request.stream === true) {
    chat.stream = true;
    chat.stream_options = { include_usage: true };
  }
  if (request.max_output_tokens != null) chat[translation.maxTokensField] = request.max_output_tokens;
  if (request.temperature != null) chat.temperature = request.temperature;
  if (request.top_p != null) chat.top_p = request.top_p;
  if (request.user) chat.user = request.user;
  if (request.reasoning?.effort) chat.reasoning_effort = request.reasoning.effort;
  const tools = chatTools(request.tools, translation);
  if (tools) {
    chat.tools = tools;
    if (request.parallel_tool_calls != null) chat.parallel_tool_calls = request.parallel_tool_calls;
  }
  if (request.tool_choice != null) chat.tool_choice = chatToolChoice(request.tool_choice);
  const format = responseFormat(request.text?.format);
  if (format) chat.response_format = format;
  return chat as ChatRequest;
}

/** What only OpenAI's own Responses API does: a clear 400 rather than a silently different answer. */
function rejectOpenAiOnly(request: ResponsesRequest, translation: ChatTranslation): void {
  const who = translation.providerLabel ? `${translation.providerLabel} models` : 'Bots';
  const raw = request as Record<string, unknown>;
  if (raw.background === true)
    throw unsupported('background', `${who} cannot answer in the background (background: true is OpenAI's).`);
  for (const field of ['conversation', 'prompt'] as const)
    if (raw[field] != null)
      throw unsupported(field, `\`${field}\` refers to objects stored by OpenAI: ${who} cannot use it.`);
}

function appendItem(messages: ChatMessage[], item: ResponseItem): void {
  switch (item.type) {
    case 'reasoning':
      return;
    case 'function_call': {
      const call = {
        id: item.call_id,
        type: 'function' as const,
        function: { name: item.name, arguments: item.arguments },
      };
      // Calls right after the assistant's text belong to the same assistant turn.
      const last = messages.at(-1);
      if (last?.role === 'assistant') (last.tool_calls ??= []).push(call);
      else messages.push({ role: 'assistant', content: null, tool_calls: [call] });
      return;
    }
    case 'function_call_output':
      messages.push({ role: 'tool', tool_call_id: item.call_id, content: toolOutputText(item.output) });
      return;
    default:
      messages.push(chatMessage(item));
  }
}

function chatMessage(item: MessageItem): ChatMessage {
  if (item.role === 'user') {
    const content = typeof item.content === 'string' ? item.content : item.content.map(userPart);
    return { role: 'user', content };
  }
  return { role: item.role, content: plainText(item.content) };
}

function plainText(content: string | InputPart[]): string {
  if (typeof content === 'string') return content;
  return content
    .map((part) => (part.type === 'refusal' ? part.refusal : 'text' in part ? (part.text as string) : ''))
    .join('');
}

function userPart(part: InputPart): ContentPart {
  switch (part.type) {
    case 'input_text':
    case 'output_text':
      return { type: 'text', text: part.text };
    case 'refusal':
      return { type: 'text', text: part.refusal };
    case 'input_image':
      if (!part.image_url)
        throw unsupported(
          'input',
          'Images by `file_id` are OpenAI files: send the image as `image_url` (a URL or a data URL).',
        );
      return {
        type: 'image_url',
        image_url: { url: part.image_url, ...(part.detail ? { detail: part.detail } : {}) },
      };
    case 'input_file':
      if (!part.file_data)
        throw unsupported(
          'input',
          'Files by `file_id` or `file_url` are OpenAI features: send the file inline as `file_data`.',
        );
      return {
        type: 'file',
        file: { file_data: part.file_data, ...(part.filename ? { filename: part.filename } : {}) },
      };
  }
}

/** A tool's output as text: chat tool messages carry text only. */
function toolOutputText(output: string | InputPart[]): string {
  if (typeof output === 'string') return output;
  if (output.some((part) => part.type === 'input_image' || part.type === 'input_file'))
    throw unsupported(
      'input',
      'Images and files in a function_call_output cannot be translated: send them in a user message.',
    );
  return plainText(output);
}

/** A function tool as the Responses API defines it (flat: `name` beside `type`). */
export const functionTool = z.looseObject({
  type: z.literal('function'),
  name: z.string().min(1),
  description: z.string().nullish(),
  parameters: z.record(z.string(), z.unknown()).nullish(),
  strict: z.boolean().nullish(),
});

function chatTools(tools: ResponsesRequest['tools'], translation: ChatTranslation) {
  if (!tools || tools.length === 0) return undefined;
  return tools.map((tool, index) => {
    if (tool.type !== 'function') {
      const who = translation.providerLabel ? `${translation.providerLabel} models` : 'Bots';
      throw unsupported(
        `tools[${index}].type`,
        `Tools of type "${tool.type}" are built into OpenAI's Responses API: ${who} take function tools only.`,
      );
    }
    const parsed = functionTool.safeParse(tool);
    if (!parsed.success)
      throw invalid(
        `tools[${index}].${parsed.error.issues[0]!.path.join('.')}`,
        parsed.error.issues[0]!.message,
      );
    const { name, description, parameters, strict } = parsed.data;
    return {
      type: 'function' as const,
      function: {
        name,
        ...(description ? { description } : {}),
        ...(parameters ? { parameters } : {}),
        ...(strict != null ? { strict } : {}),
      },
    };
  });
}

function chatToolChoice(choice: NonNullable<ResponsesRequest['tool_choice']>): unknown {
  if (typeof choice === 'string') {
    if (choice === 'auto' || choice === 'none' || choice === 'required') return choice;
    throw invalid('tool_choice', `"${choice}" is not auto, none or required.`);
  }
  const name = (choice as { name?: unknown }).name;
  if (choice.type === 'function' && typeof name === 'string') return { type: 'function', function: { name } };
  throw unsupported('tool_choice', `A tool_choice of type "${choice.type}" names a tool only OpenAI has.`);
}

function responseFormat(format: unknown): Record<string, unknown> | undefined {
  const parsed = z
    .union([
      z.looseObject({
        type: z.literal('json_schema'),
        name: z.string().min(1),
        schema: z.record(z.string(), z.unknown()),
        description: z.string().nullish(),
        strict: z.boolean().nullish(),
      }),
      z.looseObject({ type: z.enum(['json_object', 'text']) }),
    ])
    .nullish()
    .safeParse(format);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw invalid(['text.format', ...issue.path].join('.'), issue.message);
  }
  const value = parsed.data;
  if (!value || value.type === 'text') return undefined;
  if (value.type === 'json_object') return { type: 'json_object' };
  const { name, schema, description, strict } = value as {
    name: string;
    schema: Record<string, unknown>;
    description?: string | null;
    strict?: boolean | null;
  };
  return {
    type: 'json_schema',
    json_schema: {
      name,
      schema,
      ...(description ? { description } : {}),
      ...(strict != null ? { strict } : {}),
    },
  };
}
