import type { SseEvent } from '../../http/sse.ts';
import type { CallTarget } from '../exchange.ts';
import type { ChatCompletion, ChatCompletionChunk, ChatRequest, Usage } from '../openai-types.ts';

/** What an adapter needs to build one upstream call: the target, and the client's chat request. */
export interface AdapterInput extends CallTarget {
  /** The client's request, already validated; `model` is still the client's Keyway model name. */
  request: ChatRequest;
}

/** The HTTP request to send upstream. */
export interface UpstreamCall {
  url: string;
  headers: Record<string, string>;
  body: string;
}

/** Fields every translated response and chunk carries. */
export interface ResponseContext {
  id: string;
  created: number;
  /** The model name to report: the client's own (`credential/model`). */
  model: string;
  /** The client asked for `stream_options.include_usage`. */
  includeUsage: boolean;
}

/** An upstream failure as OpenAI would describe it; never holds the secret. */
export interface UpstreamErrorInfo {
  message: string;
  type: string;
  code: string | null;
}

/**
 * A provider's wire format, translated to and from OpenAI's. Pure: no I/O, no clocks, no randomness
 * (ids and times come in through the context), so every transform is tested against recorded formats.
 */
export interface ProviderAdapter {
  buildRequest(input: AdapterInput, stream: boolean): UpstreamCall;
  /** Non-streaming: the upstream's JSON body as an OpenAI chat completion. */
  translateResponse(body: unknown, context: ResponseContext): ChatCompletion;
  /** Streaming: one translator per response. */
  createStreamTranslator(context: ResponseContext): StreamTranslator;
  /** An upstream error response (status + body text) in OpenAI's terms. */
  translateError(status: number, body: string): UpstreamErrorInfo;
}

/** Thrown by a stream translator for an error that arrives inside a 200 stream (Anthropic's `error` event). */
export class UpstreamStreamError extends Error {
  readonly info: UpstreamErrorInfo;

  constructor(info: UpstreamErrorInfo) {
    super(info.message);
    this.name = 'UpstreamStreamError';
    this.info = info;
  }
}

export interface StreamTranslator {
  /** One upstream SSE event in, zero or more OpenAI chunks out. Throws `UpstreamStreamError`. */
  push(event: SseEvent): ChatCompletionChunk[];
  /** The upstream stream ended: any final chunks (finish reason, the `include_usage` chunk). */
  end(): ChatCompletionChunk[];
  /** Token counts seen so far, merged across events. */
  usage(): Usage | null;
}
