import type { ChatCompletion, FinishReason, Usage } from '../openai-types.ts';
import { functionTool, type ResponseItem, type ResponsesRequest } from './responses.ts';

/**
 * The Responses API's Response object, built from the chat core's answers: the shell echoing the
 * request, the output items, status and usage. Pure, like the rest of the codec.
 */

export interface OutputText {
  type: 'output_text';
  annotations: [];
  logprobs: [];
  text: string;
}

export interface OutputMessage {
  id: string;
  type: 'message';
  status: 'in_progress' | 'completed' | 'incomplete';
  role: 'assistant';
  content: OutputText[];
}

export interface OutputFunctionCall {
  id: string;
  type: 'function_call';
  status: 'in_progress' | 'completed' | 'incomplete';
  arguments: string;
  call_id: string;
  name: string;
}

export type OutputItem = OutputMessage | OutputFunctionCall;

export interface ResponseUsage {
  input_tokens: number;
  input_tokens_details: { cached_tokens: number };
  output_tokens: number;
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
}

export type ResponseStatus = 'in_progress' | 'completed' | 'incomplete' | 'failed';

/** A Response object as OpenAI's API answers it (the fields a translated response can fill truthfully). */
export interface ResponseObject {
  id: string;
  object: 'response';
  created_at: number;
  status: ResponseStatus;
  background: false;
  completed_at: number | null;
  error: { code: string; message: string } | null;
  incomplete_details: { reason: 'max_output_tokens' | 'content_filter' } | null;
  instructions: string | null;
  max_output_tokens: number | null;
  max_tool_calls: null;
  model: string;
  output: OutputItem[];
  parallel_tool_calls: boolean;
  previous_response_id: string | null;
  reasoning: { effort: string | null; summary: null };
  service_tier: 'default';
  store: boolean;
  temperature: number | null;
  text: { format: Record<string, unknown> };
  tool_choice: unknown;
  tools: unknown[];
  top_p: number | null;
  truncation: 'disabled';
  usage: ResponseUsage | null;
  user: string | null;
  metadata: Record<string, string>;
}

/** Ids for output items (`msg_…`, `fc_…`), made by the caller. */
export type NewItemId = (prefix: 'msg' | 'fc') => string;

/**
 * The Response object before any output: status `in_progress`, the request's settings echoed as
 * OpenAI echoes them (`model` is the client's own model name, as on chat completions).
 */
export function responseShell(request: ResponsesRequest, id: string, createdAt: number): ResponseObject {
  return {
    id,
    object: 'response',
    created_at: createdAt,
    status: 'in_progress',
    background: false,
    completed_at: null,
    error: null,
    incomplete_details: null,
    instructions: request.instructions ?? null,
    max_output_tokens: request.max_output_tokens ?? null,
    max_tool_calls: null,
    model: request.model,
    output: [],
    parallel_tool_calls: request.parallel_tool_calls ?? true,
    previous_response_id: request.previous_response_id ?? null,
    reasoning: { effort: request.reasoning?.effort ?? null, summary: null },
    service_tier: 'default',
    store: request.store !== false,
    temperature: request.temperature ?? null,
    text: { format: request.text?.format ?? { type: 'text' } },
    tool_choice: request.tool_choice ?? 'auto',
    tools: (request.tools ?? []).map(echoedTool),
    top_p: request.top_p ?? null,
    truncation: 'disabled',
    usage: null,
    user: request.user ?? null,
    metadata: request.metadata ?? {},
  };
}

/** A function tool as OpenAI echoes it: every field present, `strict` defaulting to true. */
function echoedTool(tool: { type: string }): unknown {
  const parsed = functionTool.safeParse(tool);
  if (!parsed.success) return tool;
  const { type, name, description, parameters, strict } = parsed.data;
  return {
    type,
    name,
    description: description ?? null,
    parameters: parameters ?? null,
    strict: strict ?? true,
  };
}

/** Why a response stopped short, from the chat finish reason (null: it did not). */
export function incompleteReason(finish: FinishReason): ResponseObject['incomplete_details'] {
  if (finish === 'length') return { reason: 'max_output_tokens' };
  if (finish === 'content_filter') return { reason: 'content_filter' };
  return null;
}

/** The final Response object: its output, status from the finish reason, usage, completion time. */
export function finishedResponse(
  shell: ResponseObject,
  result: {
    output: OutputItem[];
    finish: FinishReason;
    usage: Usage | null | undefined;
    completedAt: number;
  },
): ResponseObject {
  const incomplete = incompleteReason(result.finish);
  return {
    ...shell,
    status: incomplete ? 'incomplete' : 'completed',
    completed_at: result.completedAt,
    incomplete_details: incomplete,
    output: result.output,
    usage: responseUsage(result.usage),
  };
}

/** A whole chat completion as a Response: its text as one message item, then one item per tool call. */
export function responseFromCompletion(
  shell: ResponseObject,
  completion: ChatCompletion,
  options: { newId: NewItemId; completedAt: number },
): ResponseObject {
  const choice = completion.choices[0];
  const finish = choice?.finish_reason ?? 'stop';
  const status = incompleteReason(finish) ? 'incomplete' : 'completed';
  const output: OutputItem[] = [];
  const text = typeof choice?.message.content === 'string' ? choice.message.content : '';
  const calls = choice?.message.tool_calls ?? [];
  // A turn with only tool calls has no message; one with nothing at all still answers an empty message.
  if (text !== '' || calls.length === 0)
    output.push({
      id: options.newId('msg'),
      type: 'message',
      status,
      role: 'assistant',
      content: [outputText(text)],
    });
  for (const call of calls)
    output.push({
      id: options.newId('fc'),
      type: 'function_call',
      status: 'completed',
      arguments: call.function.arguments,
      call_id: call.id,
      name: call.function.name,
    });
  return finishedResponse(shell, {
    output,
    finish,
    usage: completion.usage,
    completedAt: options.completedAt,
  });
}

export function outputText(text: string): OutputText {
  return { type: 'output_text', annotations: [], logprobs: [], text };
}

/** Chat usage in the Responses API's terms. */
export function responseUsage(usage: Usage | null | undefined): ResponseUsage | null {
  if (!usage) return null;
  const reasoning = (usage as { completion_tokens_details?: { reasoning_tokens?: unknown } })
    .completion_tokens_details?.reasoning_tokens;
  return {
    input_tokens: usage.prompt_tokens ?? 0,
    input_tokens_details: { cached_tokens: usage.prompt_tokens_details?.cached_tokens ?? 0 },
    output_tokens: usage.completion_tokens ?? 0,
    output_tokens_details: { reasoning_tokens: typeof reasoning === 'number' ? reasoning : 0 },
    total_tokens: usage.total_tokens ?? (usage.prompt_tokens ?? 0) + (usage.completion_tokens ?? 0),
  };
}

/** A response's output items as input items of the next turn (what `previous_response_id` replays). */
export function outputAsInput(output: readonly OutputItem[]): ResponseItem[] {
  return output.map((item) =>
    item.type === 'message'
      ? {
          type: 'message',
          role: 'assistant',
          content: item.content.map((part) => ({ type: 'output_text', text: part.text, annotations: [] })),
        }
      : { type: 'function_call', call_id: item.call_id, name: item.name, arguments: item.arguments },
  );
}
