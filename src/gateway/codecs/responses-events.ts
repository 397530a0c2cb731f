import type { ChatCompletionChunk, FinishReason, Usage } from '../openai-types.ts';
import {
  finishedResponse,
  outputText,
  type NewItemId,
  type OutputFunctionCall,
  type OutputItem,
  type OutputMessage,
  type ResponseObject,
} from './response-object.ts';

/** One streamed event of the Responses API: its `type` (also the SSE `event:` name) and number. */
export interface ResponseStreamEvent {
  type: string;
  sequence_number: number;
  [field: string]: unknown;
}

/** An error as a failed stream reports it (OpenAI's error object: never a secret or an internal). */
export interface StreamErrorInfo {
  type: string;
  code: string | null;
  message: string;
  param: string | null;
}

/**
 * OpenAI's `error` event: the fields flat, as its reference documents the event, and nested under
 * `error`, as its API sends it (the official SDKs raise that one as an `APIError`).
 */
export function errorEvent(error: StreamErrorInfo, sequenceNumber: number): ResponseStreamEvent {
  return {
    type: 'error',
    code: error.code,
    message: error.message,
    param: error.param,
    error,
    sequence_number: sequenceNumber,
  };
}

/** The item being streamed right now. */
type OpenItem =
  | { kind: 'message'; index: number; item: OutputMessage }
  | { kind: 'call'; index: number; item: OutputFunctionCall; toolIndex: number };

/**
 * Chat completion chunks in, the Responses API's event sequence out, as OpenAI streams it:
 * `response.created`, `response.in_progress`; per output item `response.output_item.added`, its
 * deltas (`response.content_part.added` + `response.output_text.delta` for text,
 * `response.function_call_arguments.delta` for a call), its `…done` events and
 * `response.output_item.done` — one item at a time, each closed before the next opens — then
 * `response.completed` (or `response.incomplete` on the output cap) with usage. `sequence_number`
 * counts every event from 0. On a failure: OpenAI's `error` event, then `response.failed`.
 * Pure: ids and times come from the caller.
 */
export class ResponseEventEncoder {
  readonly #shell: ResponseObject;
  readonly #newId: NewItemId;
  readonly #output: OutputItem[] = [];
  /** Each chat tool-call index's item, so late fragments still land in the final output. */
  readonly #calls = new Map<number, OutputFunctionCall>();
  #open: OpenItem | null = null;
  #sequence = 0;
  #finish: FinishReason = null;
  #usage: Usage | null = null;

  constructor(shell: ResponseObject, newId: NewItemId) {
    this.#shell = shell;
    this.#newId = newId;
  }

  /** The first two events, sent as soon as the provider has answered. */
  start(): ResponseStreamEvent[] {
    return [
      this.#event('response.created', { response: this.#snapshot('in_progress') }),
      this.#event('response.in_progress', { response: this.#snapshot('in_progress') }),
    ];
  }

  /** The events one chunk makes (none for a role-only or usage-only chunk). */
  push(chunk: ChatCompletionChunk): ResponseStreamEvent[] {
    const events: ResponseStreamEvent[] = [];
    if (chunk.usage) this.#usage = chunk.usage;
    const choice = chunk.choices[0];
    if (!choice) return events;
    const { content, tool_calls: calls } = choice.delta;
    if (typeof content === 'string' && content !== '') this.#text(content, events);
    for (const call of calls ?? []) this.#call(call, events);
    if (choice.finish_reason) this.#finish = choice.finish_reason;
    return events;
  }

  /**
   * The provider's stream has ended: the open item's closing events, and the final Response object
   * (store it before sending `terminal`: a client that has seen `response.completed` may continue
   * from it at once).
   */
  finish(completedAt: number): { events: ResponseStreamEvent[]; response: ResponseObject } {
    const events: ResponseStreamEvent[] = [];
    // A turn that produced nothing still answers an (empty) message, as a whole response does.
    if (this.#output.length === 0) this.#openMessage(events);
    this.#close(events, this.#finish === 'length' || this.#finish === 'content_filter');
    const response = finishedResponse(this.#shell, {
      output: this.#output.map((item) => structuredClone(item)),
      finish: this.#finish ?? 'stop',
      usage: this.#usage,
      completedAt,
    });
    return { events, response };
  }

  /** The last event: `response.completed`, or `response.incomplete` when the output cap cut it short. */
  terminal(response: ResponseObject): ResponseStreamEvent {
    const type = response.status === 'incomplete' ? 'response.incomplete' : 'response.completed';
    return this.#event(type, { response });
  }

  /** A failure after the start: OpenAI's `error` event, then `response.failed`; nothing follows them. */
  fail(error: StreamErrorInfo): ResponseStreamEvent[] {
    return [
      errorEvent(error, this.#sequence++),
      this.#event('response.failed', {
        response: {
          ...this.#snapshot('failed'),
          error: { code: error.code ?? error.type, message: error.message },
        },
      }),
    ];
  }

  #text(delta: string, events: ResponseStreamEvent[]): void {
    if (this.#open?.kind !== 'message') {
      this.#close(events, false);
      this.#openMessage(events);
    }
    const open = this.#open as Extract<OpenItem, { kind: 'message' }>;
    // Kept in the item as it grows: a failure's `response.failed` shows what had arrived.
    open.item.content[0]!.text += delta;
    events.push(
      this.#event('response.output_text.delta', {
        item_id: open.item.id,
        output_index: open.index,
        content_index: 0,
        delta,
        logprobs: [],
      }),
    );
  }

  #openMessage(events: ResponseStreamEvent[]): void {
    const item: OutputMessage = {
      id: this.#newId('msg'),
      type: 'message',
      status: 'in_progress',
      role: 'assistant',
      content: [],
    };
    const index = this.#output.push(item) - 1;
    this.#open = { kind: 'message', index, item };
    events.push(
      this.#event('response.output_item.added', { output_index: index, item: structuredClone(item) }),
    );
    item.content.push(outputText(''));
    events.push(
      this.#event('response.content_part.added', {
        item_id: item.id,
        output_index: index,
        content_index: 0,
        part: outputText(''),
      }),
    );
  }

  #call(
    delta: NonNullable<ChatCompletionChunk['choices'][number]['delta']['tool_calls']>[number],
    events: ResponseStreamEvent[],
  ): void {
    const fragment = delta.function?.arguments ?? '';
    const known = this.#calls.get(delta.index);
    if (known) {
      known.arguments += fragment;
      // A fragment for a call already closed (providers stream calls one after another) only
      // reaches the final output.
      if (this.#open?.kind === 'call' && this.#open.toolIndex === delta.index && fragment !== '')
        events.push(
          this.#event('response.function_call_arguments.delta', {
            item_id: known.id,
            output_index: this.#open.index,
            delta: fragment,
          }),
        );
      return;
    }
    this.#close(events, false);
    const item: OutputFunctionCall = {
      id: this.#newId('fc'),
      type: 'function_call',
      status: 'in_progress',
      arguments: '',
      call_id: delta.id ?? `call_${this.#newId('fc').slice(3)}`,
      name: delta.function?.name ?? '',
    };
    const index = this.#output.push(item) - 1;
    this.#calls.set(delta.index, item);
    this.#open = { kind: 'call', index, item, toolIndex: delta.index };
    events.push(
      this.#event('response.output_item.added', { output_index: index, item: structuredClone(item) }),
    );
    if (fragment !== '') {
      item.arguments = fragment;
      events.push(
        this.#event('response.function_call_arguments.delta', {
          item_id: item.id,
          output_index: index,
          delta: fragment,
        }),
      );
    }
  }

  /** Closes the open item with its `…done` events. */
  #close(events: ResponseStreamEvent[], incomplete: boolean): void {
    const open = this.#open;
    if (!open) return;
    this.#open = null;
    if (open.kind === 'message') {
      const { item, index } = open;
      const text = item.content[0]!.text;
      item.status = incomplete ? 'incomplete' : 'completed';
      events.push(
        this.#event('response.output_text.done', {
          item_id: item.id,
          output_index: index,
          content_index: 0,
          text,
          logprobs: [],
        }),
        this.#event('response.content_part.done', {
          item_id: item.id,
          output_index: index,
          content_index: 0,
          part: outputText(text),
        }),
        this.#event('response.output_item.done', { output_index: index, item: structuredClone(item) }),
      );
      return;
    }
    const { item, index } = open;
    item.status = 'completed';
    events.push(
      this.#event('response.function_call_arguments.done', {
        item_id: item.id,
        output_index: index,
        name: item.name,
        arguments: item.arguments,
      }),
      this.#event('response.output_item.done', { output_index: index, item: structuredClone(item) }),
    );
  }

  /** The Response object as it stands, for the lifecycle events (a copy: events are sent later). */
  #snapshot(status: ResponseObject['status']): ResponseObject {
    return { ...this.#shell, status, output: this.#output.map((item) => structuredClone(item)) };
  }

  #event(type: string, fields: Record<string, unknown>): ResponseStreamEvent {
    return { type, ...fields, sequence_number: this.#sequence++ };
  }
}
