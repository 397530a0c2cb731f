import type { ChatCompletionChunk, FinishReason, Usage } from '../openai-types.ts';
import {
  anthropicUsage,
  stopReason,
  type AnthropicMessage,
  type AnthropicUsage,
  type StopReason,
} from './messages.ts';

/** One event of Anthropic's stream; its `type` is also the SSE `event:` name. */
export type MessagesStreamEvent =
  | { type: 'message_start'; message: AnthropicMessage }
  | {
      type: 'content_block_start';
      index: number;
      content_block:
        | { type: 'text'; text: '' }
        | { type: 'tool_use'; id: string; name: string; input: Record<string, never> };
    }
  | {
      type: 'content_block_delta';
      index: number;
      delta: { type: 'text_delta'; text: string } | { type: 'input_json_delta'; partial_json: string };
    }
  | { type: 'content_block_stop'; index: number }
  | {
      type: 'message_delta';
      delta: { stop_reason: StopReason; stop_sequence: null };
      usage: AnthropicUsage;
    }
  | { type: 'message_stop' };

/** A content block of the answer as it builds up: waiting for its turn, open, or done. */
interface Block {
  kind: 'text' | 'tool';
  state: 'waiting' | 'open' | 'closed';
  /** Anthropic's index, given when the block opens. */
  index: number;
  /** Pieces that arrived while another block was open. */
  held: string[];
  id: string;
  name: string;
  /** A tool's arguments so far: whether they are complete JSON says whether its block may close. */
  json: string;
}

/**
 * Turns chat chunks into Anthropic's event sequence: `message_start`, then per content block
 * `content_block_start`, deltas and `content_block_stop`, then `message_delta` (stop reason, usage)
 * and `message_stop`. Anthropic streams one block at a time; OpenAI may interleave the argument
 * fragments of parallel tool calls, so a block that is not the open one is held back until the open
 * one is complete (its arguments parse as JSON) or the answer ends.
 */
export class MessagesStreamEncoder {
  readonly #id: string;
  readonly #model: string;
  readonly #blocks: Block[] = [];
  readonly #tools = new Map<number, Block>();
  #open: Block | null = null;
  #nextIndex = 0;
  #started = false;
  #finish: FinishReason | undefined;
  #usage: Usage | null = null;
  #out: MessagesStreamEvent[] = [];

  constructor(options: { id: string; model: string }) {
    this.#id = options.id;
    this.#model = options.model;
  }

  /** The events one chunk makes (none while it only holds back). */
  push(chunk: ChatCompletionChunk): MessagesStreamEvent[] {
    if (chunk.usage) this.#usage = chunk.usage;
    this.#start();
    const choice = chunk.choices.find((candidate) => candidate.index === 0);
    if (choice) {
      const { content, tool_calls: calls } = choice.delta;
      if (typeof content === 'string' && content !== '') this.#text(content);
      for (const call of calls ?? []) this.#tool(call);
      if (choice.finish_reason) this.#finish = choice.finish_reason;
    }
    return this.#flush();
  }

  /** The chunks ended: every held-back block, then the stop reason and the usage. */
  end(): MessagesStreamEvent[] {
    this.#start();
    this.#close();
    for (const block of this.#blocks) {
      if (block.state !== 'waiting') continue;
      this.#openBlock(block);
      this.#close();
    }
    const usage = anthropicUsage(this.#usage);
    this.#out.push(
      {
        type: 'message_delta',
        delta: { stop_reason: stopReason(this.#finish, this.#tools.size > 0), stop_sequence: null },
        usage,
      },
      { type: 'message_stop' },
    );
    return this.#flush();
  }

  #start(): void {
    if (this.#started) return;
    this.#started = true;
    const usage = anthropicUsage(this.#usage);
    this.#out.push({
      type: 'message_start',
      message: {
        id: this.#id,
        type: 'message',
        role: 'assistant',
        model: this.#model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        // The output so far is none; the input is known only if the first chunk said it.
        usage: { ...usage, output_tokens: 0 },
      },
    });
  }

  #text(text: string): void {
    const last = this.#blocks.at(-1);
    const block =
      this.#open?.kind === 'text'
        ? this.#open
        : last?.kind === 'text' && last.state === 'waiting'
          ? last
          : this.#add('text', '', '');
    this.#deliver(block, text);
  }

  #tool(call: NonNullable<ChatCompletionChunk['choices'][number]['delta']['tool_calls']>[number]): void {
    let block = this.#tools.get(call.index);
    if (!block) {
      const id = call.id ?? `toolu_${this.#id.replace(/^msg_/, '')}_${call.index}`;
      block = this.#add('tool', id, call.function?.name ?? '');
      this.#tools.set(call.index, block);
    } else if (block.state === 'waiting' && block.name === '' && call.function?.name) {
      block.name = call.function.name;
    }
    const args = call.function?.arguments;
    if (args) this.#deliver(block, args);
    else this.#advance();
  }

  #add(kind: Block['kind'], id: string, name: string): Block {
    const block: Block = { kind, state: 'waiting', index: -1, held: [], id, name, json: '' };
    this.#blocks.push(block);
    return block;
  }

  #deliver(block: Block, piece: string): void {
    if (block.kind === 'tool') block.json += piece;
    // Text after a complete JSON value cannot change it: nothing to send for a block already closed.
    if (block.state === 'open') this.#out.push(this.#delta(block, piece));
    else if (block.state === 'waiting') block.held.push(piece);
    this.#advance();
  }

  /** Opens the next waiting block as soon as the open one may close. */
  #advance(): void {
    for (;;) {
      const next = this.#blocks.find((block) => block.state === 'waiting');
      if (!next || (this.#open && !mayClose(this.#open))) return;
      this.#close();
      this.#openBlock(next);
    }
  }

  #openBlock(block: Block): void {
    block.state = 'open';
    block.index = this.#nextIndex++;
    this.#open = block;
    this.#out.push({
      type: 'content_block_start',
      index: block.index,
      content_block:
        block.kind === 'text'
          ? { type: 'text', text: '' }
          : { type: 'tool_use', id: block.id, name: block.name, input: {} },
    });
    if (block.held.length > 0) this.#out.push(this.#delta(block, block.held.join('')));
    block.held = [];
  }

  #close(): void {
    if (!this.#open) return;
    this.#open.state = 'closed';
    this.#out.push({ type: 'content_block_stop', index: this.#open.index });
    this.#open = null;
  }

  #delta(block: Block, piece: string): MessagesStreamEvent {
    return {
      type: 'content_block_delta',
      index: block.index,
      delta:
        block.kind === 'text'
          ? { type: 'text_delta', text: piece }
          : { type: 'input_json_delta', partial_json: piece },
    };
  }

  #flush(): MessagesStreamEvent[] {
    const out = this.#out;
    this.#out = [];
    return out;
  }
}

/** A text block may always give way; a tool's block only once its arguments are a whole JSON value. */
function mayClose(block: Block): boolean {
  if (block.kind === 'text') return true;
  const json = block.json.trimEnd();
  // Cheap test first: a long argument streamed in small pieces is not parsed on every piece.
  if (!json.endsWith('}') && !json.endsWith(']')) return false;
  try {
    JSON.parse(json);
    return true;
  } catch {
    return false;
  }
}
