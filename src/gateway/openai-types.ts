import { z } from 'zod';

/**
 * The OpenAI chat-completions wire format as Keyway's `/v1` speaks it. Requests are validated only as
 * far as Keyway needs (model, messages, stream): every other field passes through untouched to
 * OpenAI-wire upstreams, and translated adapters read what they understand.
 */
export const chatRequestSchema = z
  .object({
    model: z.string().min(1).max(300),
    messages: z.array(z.looseObject({ role: z.string() })).min(1),
    stream: z.boolean().optional(),
    stream_options: z.looseObject({ include_usage: z.boolean().optional() }).nullish(),
  })
  .loose();

export type ChatRequest = z.infer<typeof chatRequestSchema>;

/** A message as OpenAI defines it (the parts translated adapters need). */
export interface ChatMessage {
  role: 'system' | 'developer' | 'user' | 'assistant' | 'tool';
  content?: string | ContentPart[] | null;
  name?: string;
  tool_calls?: ToolCall[];
  tool_call_id?: string;
}

export type ContentPart =
  | { type: 'text'; text: string }
  | { type: 'image_url'; image_url: { url: string; detail?: string } }
  | { type: string; [key: string]: unknown };

export interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export interface ToolDefinition {
  type: 'function';
  function: { name: string; description?: string; parameters?: Record<string, unknown>; strict?: boolean };
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details?: { cached_tokens?: number };
}

export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter' | null;

export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  choices: {
    index: number;
    message: { role: 'assistant'; content: string | null; tool_calls?: ToolCall[]; refusal?: null };
    finish_reason: FinishReason;
    logprobs?: null;
  }[];
  usage?: Usage;
}

/** One streamed chunk: `choices[].delta` carries the increment. */
export interface ChatCompletionChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  choices: {
    index: number;
    delta: {
      role?: 'assistant';
      content?: string | null;
      tool_calls?: {
        index: number;
        id?: string;
        type?: 'function';
        function?: { name?: string; arguments?: string };
      }[];
    };
    finish_reason: FinishReason;
    logprobs?: null;
  }[];
  usage?: Usage | null;
}
