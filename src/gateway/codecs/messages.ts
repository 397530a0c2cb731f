import { z } from 'zod';
import { KeywayError } from '../../errors.ts';
import type {
  ChatCompletion,
  ChatMessage,
  ChatRequest,
  ContentPart,
  FinishReason,
  ToolCall,
  ToolDefinition,
  Usage,
} from '../openai-types.ts';

/*
 * Anthropic's Messages API (`POST /v1/messages`) as an ingress format onto the chat core: a Messages
 * request becomes an OpenAI chat request and a chat completion an Anthropic message (a chunk stream
 * becomes Anthropic's event sequence in `messages-stream.ts`). Pure: no I/O, no clocks, no randomness (the message
 * id comes in), so every transform is tested against recorded formats. Requests to Anthropic
 * credentials do not come through here: they pass through untouched (see `exchanges/messages.ts`).
 */

// ---------------------------------------------------------------------------------------------------
// The request, validated as far as both paths need; unknown fields are kept for the pass-through.
// ---------------------------------------------------------------------------------------------------

const textBlockSchema = z.looseObject({ type: z.literal('text'), text: z.string() });
const imageSourceSchema = z.discriminatedUnion('type', [
  z.looseObject({ type: z.literal('base64'), media_type: z.string().min(1), data: z.string().min(1) }),
  z.looseObject({ type: z.literal('url'), url: z.string().min(1) }),
]);
const imageBlockSchema = z.looseObject({ type: z.literal('image'), source: imageSourceSchema });
const toolUseBlockSchema = z.looseObject({
  type: z.literal('tool_use'),
  id: z.string().min(1),
  name: z.string().min(1),
  input: z.record(z.string(), z.unknown()),
});
const toolResultBlockSchema = z.looseObject({
  type: z.literal('tool_result'),
  tool_use_id: z.string().min(1),
  content: z.union([z.string(), z.array(z.looseObject({ type: z.string().min(1) }))]).optional(),
  is_error: z.boolean().optional(),
});
const documentBlockSchema = z.looseObject({
  type: z.literal('document'),
  source: z.looseObject({ type: z.string() }),
});

/** The block types Keyway checks; any other type passes to Anthropic as sent (and is refused when translated). */
const KNOWN_BLOCKS: Record<string, z.ZodType> = {
  text: textBlockSchema,
  image: imageBlockSchema,
  tool_use: toolUseBlockSchema,
  tool_result: toolResultBlockSchema,
  document: documentBlockSchema,
  thinking: z.looseObject({ type: z.literal('thinking'), thinking: z.string() }),
  redacted_thinking: z.looseObject({ type: z.literal('redacted_thinking'), data: z.string() }),
};

const contentBlockSchema = z.looseObject({ type: z.string().min(1) }).superRefine((block, context) => {
  const schema = KNOWN_BLOCKS[block.type];
  const checked = schema?.safeParse(block);
  if (checked && !checked.success)
    for (const issue of checked.error.issues)
      context.addIssue({ code: 'custom', message: issue.message, path: issue.path });
});

type ContentBlock = z.infer<typeof contentBlockSchema>;

const messageSchema = z.looseObject({
  role: z.enum(['user', 'assistant']),
  content: z.union([z.string(), z.array(contentBlockSchema)]),
});

const toolSchema = z.looseObject({
  name: z.string().min(1).max(200),
  type: z.string().optional(),
  description: z.string().optional(),
  input_schema: z.record(z.string(), z.unknown()).optional(),
});

const toolChoiceSchema = z.discriminatedUnion('type', [
  z.looseObject({ type: z.literal('auto'), disable_parallel_tool_use: z.boolean().optional() }),
  z.looseObject({ type: z.literal('any'), disable_parallel_tool_use: z.boolean().optional() }),
  z.looseObject({
    type: z.literal('tool'),
    name: z.string().min(1),
    disable_parallel_tool_use: z.boolean().optional(),
  }),
  z.looseObject({ type: z.literal('none') }),
]);

/** What `/v1/messages/count_tokens` takes: a Messages request without its output settings. */
export const countTokensRequestSchema = z.looseObject({
  model: z.string().min(1).max(300),
  messages: z.array(messageSchema).min(1),
  system: z.union([z.string(), z.array(textBlockSchema)]).optional(),
  tools: z.array(toolSchema).optional(),
  tool_choice: toolChoiceSchema.optional(),
  thinking: z.looseObject({ type: z.string() }).optional(),
});

/** `POST /v1/messages` as Anthropic documents it; `max_tokens` is required, as Anthropic requires it. */
export const messagesRequestSchema = countTokensRequestSchema.extend({
  max_tokens: z.number().int().positive(),
  stop_sequences: z.array(z.string()).optional(),
  temperature: z.number().min(0).max(1).optional(),
  top_p: z.number().min(0).max(1).optional(),
  top_k: z.number().int().nonnegative().optional(),
  metadata: z.looseObject({ user_id: z.string().nullish() }).optional(),
  stream: z.boolean().optional(),
});

export type MessagesRequest = z.infer<typeof messagesRequestSchema>;

// ---------------------------------------------------------------------------------------------------
// Request: Anthropic Messages → OpenAI chat
// ---------------------------------------------------------------------------------------------------

export interface TranslationTarget {
  /** Who the request goes to, for messages: `OpenAI`, `Google Gemini`, `the bot`. */
  label: string;
  /** OpenAI itself wants `max_completion_tokens`; every other OpenAI-wire provider `max_tokens`. */
  outputField: 'max_tokens' | 'max_completion_tokens';
}

function unsupported(where: string, what: string, target: TranslationTarget): KeywayError {
  return new KeywayError(
    'upstream_unsupported',
    `${where}: ${what} reach Anthropic models only; ${target.label} cannot take them.`,
    { details: { param: where } },
  );
}

/**
 * A Messages request as an OpenAI chat request. Dropped on the way, as nothing on the other side can
 * hold them: thinking blocks and the `thinking` setting, `cache_control`, `top_k` and any field
 * Keyway does not know. Tool results become `tool` messages (images in them move to a user message
 * right after); what cannot be expressed (server tools, other block types) is a 400 naming it.
 */
export function toChatRequest(request: MessagesRequest, target: TranslationTarget): ChatRequest {
  const messages: ChatMessage[] = [];
  const system = typeof request.system === 'string' ? request.system : textOf(request.system ?? []);
  if (system !== '') messages.push({ role: 'system', content: system });
  for (const [position, message] of request.messages.entries()) {
    const where = `messages.${position}.content`;
    if (typeof message.content === 'string') messages.push({ role: message.role, content: message.content });
    else if (message.role === 'assistant') {
      const turn = assistantTurn(message.content, where, target);
      if (turn) messages.push(turn);
    } else messages.push(...userTurn(message.content, where, target));
  }
  const tools = (request.tools ?? []).map((tool, position) => toolDefinition(tool, position, target));
  const chat: Record<string, unknown> = {
    model: request.model,
    messages,
    [target.outputField]: request.max_tokens,
  };
  if (request.stream === true) {
    chat.stream = true;
    // Anthropic's stream ends with the output count: ask every provider for it.
    chat.stream_options = { include_usage: true };
  }
  if (request.temperature !== undefined) chat.temperature = request.temperature;
  if (request.top_p !== undefined) chat.top_p = request.top_p;
  if (request.stop_sequences?.length) chat.stop = request.stop_sequences;
  if (request.metadata?.user_id) chat.user = request.metadata.user_id;
  if (tools.length > 0) {
    chat.tools = tools;
    const choice = request.tool_choice;
    if (choice?.type === 'auto') chat.tool_choice = 'auto';
    if (choice?.type === 'any') chat.tool_choice = 'required';
    if (choice?.type === 'none') chat.tool_choice = 'none';
    if (choice?.type === 'tool') chat.tool_choice = { type: 'function', function: { name: choice.name } };
    if (choice && 'disable_parallel_tool_use' in choice && choice.disable_parallel_tool_use === true)
      chat.parallel_tool_calls = false;
  }
  return chat as ChatRequest;
}

function textOf(blocks: { text: string }[]): string {
  return blocks.map((block) => block.text).join('\n');
}

function toolDefinition(
  tool: z.infer<typeof toolSchema>,
  position: number,
  target: TranslationTarget,
): ToolDefinition {
  // Server tools (`web_search_20250305`, `bash_20250124`…) carry a type and run at Anthropic.
  if ((tool.type !== undefined && tool.type !== 'custom') || tool.input_schema === undefined)
    throw unsupported(`tools.${position}`, `server tools such as "${tool.type ?? tool.name}"`, target);
  return {
    type: 'function',
    function: {
      name: tool.name,
      ...(tool.description !== undefined ? { description: tool.description } : {}),
      parameters: tool.input_schema,
    },
  };
}

function assistantTurn(blocks: ContentBlock[], where: string, target: TranslationTarget): ChatMessage | null {
  let text = '';
  const calls: ToolCall[] = [];
  for (const [position, block] of blocks.entries()) {
    if (block.type === 'text') text += (block as z.infer<typeof textBlockSchema>).text;
    else if (block.type === 'tool_use') {
      const use = block as z.infer<typeof toolUseBlockSchema>;
      calls.push({
        id: use.id,
        type: 'function',
        function: { name: use.name, arguments: JSON.stringify(use.input) },
      });
    } else if (block.type !== 'thinking' && block.type !== 'redacted_thinking')
      throw unsupported(`${where}.${position}`, `content blocks of type "${block.type}"`, target);
  }
  // A turn that held only thinking has nothing another provider can read.
  if (text === '' && calls.length === 0) return null;
  return {
    role: 'assistant',
    content: text === '' ? null : text,
    ...(calls.length > 0 ? { tool_calls: calls } : {}),
  };
}

/** One user turn: its tool results first (as `tool` messages, which must follow the tool calls), then the rest. */
function userTurn(blocks: ContentBlock[], where: string, target: TranslationTarget): ChatMessage[] {
  const results: ChatMessage[] = [];
  const parts: ContentPart[] = [];
  const movedImages: ContentPart[] = [];
  for (const [position, block] of blocks.entries()) {
    const at = `${where}.${position}`;
    if (block.type === 'tool_result') {
      const result = block as z.infer<typeof toolResultBlockSchema>;
      const texts: string[] = [];
      if (typeof result.content === 'string') texts.push(result.content);
      for (const [index, part] of (Array.isArray(result.content) ? result.content : []).entries()) {
        if (part.type === 'text' && typeof part.text === 'string') texts.push(part.text);
        // OpenAI's tool messages hold text only: the image goes to the user message that follows.
        else if (part.type === 'image') movedImages.push(contentPart(part, `${at}.content.${index}`, target));
        else throw unsupported(`${at}.content.${index}`, `tool results of type "${part.type}"`, target);
      }
      const text = texts.join('\n');
      results.push({
        role: 'tool',
        tool_call_id: result.tool_use_id,
        content: result.is_error === true ? `Error: ${text}` : text,
      });
    } else parts.push(contentPart(block, at, target));
  }
  const rest = [...movedImages, ...parts];
  if (rest.length === 0) return results;
  // The plain-string form for lone text: what every OpenAI-wire server understands.
  const only = rest.length === 1 ? rest[0] : undefined;
  const content = only?.type === 'text' ? (only as { text: string }).text : rest;
  return [...results, { role: 'user', content }];
}

function contentPart(block: ContentBlock, where: string, target: TranslationTarget): ContentPart {
  switch (block.type) {
    case 'text':
      return { type: 'text', text: (block as z.infer<typeof textBlockSchema>).text };
    case 'image': {
      const { source } = imageBlockSchema.parse(block);
      const url = source.type === 'base64' ? `data:${source.media_type};base64,${source.data}` : source.url;
      return { type: 'image_url', image_url: { url } };
    }
    case 'document': {
      const source = block.source as Record<string, unknown>;
      if (source.type === 'text' && typeof source.data === 'string')
        return { type: 'text', text: source.data };
      if (
        source.type === 'base64' &&
        source.media_type === 'application/pdf' &&
        typeof source.data === 'string'
      )
        return {
          type: 'file',
          file: { filename: 'document.pdf', file_data: `data:application/pdf;base64,${source.data}` },
        };
      throw unsupported(where, `documents other than base64 PDFs and plain text`, target);
    }
    default:
      throw unsupported(where, `content blocks of type "${block.type}"`, target);
  }
}

// ---------------------------------------------------------------------------------------------------
// Responses: OpenAI chat → Anthropic message / events
// ---------------------------------------------------------------------------------------------------

export type StopReason = 'end_turn' | 'max_tokens' | 'stop_sequence' | 'tool_use' | 'refusal';

export interface AnthropicUsage {
  input_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
  output_tokens: number;
}

export type AnthropicContent =
  | { type: 'text'; text: string }
  | { type: 'tool_use'; id: string; name: string; input: Record<string, unknown> };

export interface AnthropicMessage {
  id: string;
  type: 'message';
  role: 'assistant';
  model: string;
  content: AnthropicContent[];
  stop_reason: StopReason | null;
  stop_sequence: string | null;
  usage: AnthropicUsage;
}

/** Anthropic's `input_tokens` excludes the tokens read from cache; OpenAI's `prompt_tokens` includes them. */
export function anthropicUsage(usage: Usage | null | undefined): AnthropicUsage {
  const cached = usage?.prompt_tokens_details?.cached_tokens ?? 0;
  return {
    input_tokens: Math.max(0, (usage?.prompt_tokens ?? 0) - cached),
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: cached,
    output_tokens: usage?.completion_tokens ?? 0,
  };
}

/**
 * Why the answer stopped. OpenAI's `stop` does not say whether a stop sequence ended it, so it is
 * always `end_turn`; a provider that ends a tool-calling turn with `stop` (Gemini does) still says `tool_use`.
 */
export function stopReason(finish: FinishReason | undefined, calledTools: boolean): StopReason {
  if (finish === 'length') return 'max_tokens';
  if (finish === 'content_filter') return 'refusal';
  return finish === 'tool_calls' || calledTools ? 'tool_use' : 'end_turn';
}

/** The key a tool call's arguments go under when they are not a JSON object (a model cut off mid-call). */
const RAW_ARGUMENTS_KEY = '_raw_arguments';

function toolInput(args: string): Record<string, unknown> {
  if (args.trim() === '') return {};
  try {
    const parsed: unknown = JSON.parse(args);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed))
      return parsed as Record<string, unknown>;
  } catch {
    // Kept verbatim below.
  }
  return { [RAW_ARGUMENTS_KEY]: args };
}

/** A whole chat completion as an Anthropic message; `model` is the client's own model name. */
export function toAnthropicMessage(completion: ChatCompletion, id: string, model: string): AnthropicMessage {
  const choice = completion.choices[0];
  const content: AnthropicContent[] = [];
  const text = choice?.message.content;
  if (typeof text === 'string' && text !== '') content.push({ type: 'text', text });
  for (const call of choice?.message.tool_calls ?? [])
    content.push({
      type: 'tool_use',
      id: call.id,
      name: call.function.name,
      input: toolInput(call.function.arguments ?? ''),
    });
  return {
    id,
    type: 'message',
    role: 'assistant',
    model,
    content,
    stop_reason: stopReason(
      choice?.finish_reason ?? undefined,
      content.some((block) => block.type === 'tool_use'),
    ),
    stop_sequence: null,
    usage: anthropicUsage(completion.usage),
  };
}
