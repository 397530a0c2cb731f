import { randomBytes } from 'node:crypto';
import type { Context, Hono } from 'hono';
import { KeywayError } from '../../errors.ts';
import type { AppEnv } from '../../http/app-env.ts';
import { encodeSse } from '../../http/sse.ts';
import type { TokensService } from '../../tokens/tokens.service.ts';
import {
  countTokensRequestSchema,
  messagesRequestSchema,
  toAnthropicMessage,
  toChatRequest,
} from '../codecs/messages.ts';
import { MessagesStreamEncoder, type MessagesStreamEvent } from '../codecs/messages-stream.ts';
import {
  anthropicMessagesExchange,
  countTokensExchange,
  DEFAULT_ANTHROPIC_VERSION,
  type AnthropicHeaders,
} from '../exchanges/messages.ts';
import type { ExchangeAnswer, GatewayService, StreamedCompletion } from '../gateway.service.ts';
import type { ChatCompletionChunk } from '../openai-types.ts';
import { anthropicErrorEvent, anthropicErrorResponse } from './anthropic-errors.ts';
import {
  callOptions,
  readJsonBody,
  validated,
  respond,
  sseHeaders,
  wholeAnswer,
  relayStream,
} from './v1-http.ts';

const encoder = new TextEncoder();

/**
 * Anthropic's Messages API on `/v1/messages` (base URL: the bare origin, as Anthropic's SDKs and
 * Claude-style tools expect), every answer and error in Anthropic's format. A model behind an
 * Anthropic credential is relayed as it is (exchange); any other provider, and bots, are translated
 * through the chat core (codec). `count_tokens` exists where the provider has it: Anthropic.
 */
export function registerMessagesRoutes(
  v1: Hono<AppEnv>,
  deps: { gateway: GatewayService; tokens: TokensService },
): void {
  v1.post('/messages', (c) =>
    respond(
      c,
      deps.tokens,
      async (principal, startedAt) => {
        const body = await readJsonBody(c);
        const request = validated(messagesRequestSchema, body);
        const options = callOptions(c, startedAt);
        const provider = await deps.gateway.providerOf(principal, request.model);
        if (provider?.wire === 'anthropic') {
          const exchange = anthropicMessagesExchange({
            body: body as Record<string, unknown>,
            model: request.model,
            stream: request.stream === true,
            headers: anthropicHeaders(c),
          });
          return relay(c, await deps.gateway.exchange(principal, exchange, options));
        }
        const chat = toChatRequest(request, {
          label: provider?.label ?? 'a bot',
          outputField: provider?.id === 'openai' ? 'max_completion_tokens' : 'max_tokens',
        });
        const completion = await deps.gateway.complete(principal, chat, options);
        const id = `msg_01${randomBytes(12).toString('hex')}`;
        if (completion.kind === 'stream') {
          const events = new MessagesStreamEncoder({ id, model: request.model });
          return new Response(encodeStream(completion, events, c), {
            status: 200,
            headers: sseHeaders(c, completion.overheadMs),
          });
        }
        const message = toAnthropicMessage(completion.completion(), id, request.model);
        return wholeAnswer(c, JSON.stringify(message), completion.overheadMs);
      },
      anthropicErrorResponse,
    ),
  );

  v1.post('/messages/count_tokens', (c) =>
    respond(
      c,
      deps.tokens,
      async (principal, startedAt) => {
        const body = await readJsonBody(c);
        const request = validated(countTokensRequestSchema, body);
        // Gemini counts the request as it would generate it: translated, as for /v1/messages.
        const provider = await deps.gateway.providerOf(principal, request.model);
        const chat =
          provider?.wire === 'google'
            ? toChatRequest(
                { ...request, max_tokens: 1 },
                { label: provider.label, outputField: 'max_tokens' },
              )
            : undefined;
        const exchange = countTokensExchange({
          body: body as Record<string, unknown>,
          model: request.model,
          headers: anthropicHeaders(c),
          ...(chat ? { chat } : {}),
        });
        const answer = await deps.gateway.exchange(principal, exchange, callOptions(c, startedAt));
        return relay(c, answer);
      },
      anthropicErrorResponse,
    ),
  );
}

/** The client's `anthropic-version` and `anthropic-beta`, for the pass-through. */
function anthropicHeaders(c: Context<AppEnv>): AnthropicHeaders {
  const version = c.req.header('anthropic-version')?.trim() || DEFAULT_ANTHROPIC_VERSION;
  const beta = c.req.header('anthropic-beta')?.trim();
  return { version, ...(beta ? { beta } : {}) };
}

/** Anthropic's answer as it came: JSON, or its SSE bytes (straight into Node's response when served by Node). */
function relay(c: Context<AppEnv>, answer: ExchangeAnswer): Response {
  if (answer.kind === 'whole') return wholeAnswer(c, answer.body, answer.overheadMs);
  const encodeError = (failure: KeywayError) => encoder.encode(anthropicErrorEvent(failure, c));
  return relayStream(c, answer.passthrough, encodeError, sseHeaders(c, answer.overheadMs));
}

function encodeEvents(events: MessagesStreamEvent[]): Uint8Array {
  return encoder.encode(events.map((event) => encodeSse(JSON.stringify(event), event.type)).join(''));
}

/**
 * Chat chunks as Anthropic's event stream. A failure after the first byte ends it with an `error`
 * event in Anthropic's envelope. Pull-based: a slow client slows the provider read.
 */
function encodeStream(
  completion: StreamedCompletion,
  events: MessagesStreamEncoder,
  c: Context<AppEnv>,
): ReadableStream<Uint8Array> {
  const iterator = completion.chunks()[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>(
    {
      // pull() must enqueue before it returns: a pull that yields nothing is not called again.
      pull: async (stream) => {
        for (;;) {
          let next: IteratorResult<ChatCompletionChunk>;
          try {
            next = await iterator.next();
          } catch (error) {
            stream.enqueue(encoder.encode(anthropicErrorEvent(error, c)));
            stream.close();
            return;
          }
          const out = next.done ? events.end() : events.push(next.value);
          if (out.length > 0) stream.enqueue(encodeEvents(out));
          if (next.done) {
            stream.close();
            return;
          }
          if (out.length > 0) return;
        }
      },
      cancel: async () => {
        // The client went away: ending the iteration stops the provider.
        await iterator.return?.();
      },
    },
    { highWaterMark: 0 },
  );
}
