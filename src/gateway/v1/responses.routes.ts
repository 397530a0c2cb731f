import type { Context, Hono } from 'hono';
import { KeywayError } from '../../errors.ts';
import type { AppEnv } from '../../http/app-env.ts';
import { encodeSse } from '../../http/sse.ts';
import type { ResponsesService } from '../../responses/responses.service.ts';
import type { ExchangeAnswer } from '../gateway.service.ts';
import type { TokensService } from '../../tokens/tokens.service.ts';
import { errorEvent, type ResponseStreamEvent, type StreamErrorInfo } from '../codecs/responses-events.ts';
import { MAX_RESPONSE_ID_LENGTH, responsesRequestSchema } from '../codecs/responses.ts';
import { toOpenAiError } from '../v1-errors.ts';
import { callOptions, readValidBody, respond, sseHeaders, wholeAnswer, relayStream } from './v1-http.ts';

const encoder = new TextEncoder();

/**
 * OpenAI's Responses API on `/v1`: `POST /v1/responses` (JSON or SSE), `GET` and `DELETE
 * /v1/responses/{id}`. Errors in OpenAI's envelope, the overhead header on every answer.
 */
export function registerResponsesRoutes(
  v1: Hono<AppEnv>,
  deps: { responses: ResponsesService; tokens: TokensService },
): void {
  v1.post('/responses', (c) =>
    respond(c, deps.tokens, async (principal, startedAt) => {
      const request = await readValidBody(c, responsesRequestSchema);
      const created = await deps.responses.create(principal, request, callOptions(c, startedAt));
      switch (created.kind) {
        case 'whole':
          return json(c, created.response, created.overheadMs);
        case 'stream':
          return new Response(encodeEvents(created.events((error) => describe(error, c))), {
            status: 200,
            headers: sseHeaders(c, created.overheadMs),
          });
        case 'passthrough': {
          const { answer } = created;
          if (answer.kind === 'whole') return wholeAnswer(c, answer.body, answer.overheadMs);
          // OpenAI's events as they arrive; a failure after the start is one more `error` event.
          const encodeError = (failure: KeywayError) =>
            encoder.encode(encodeEvent(errorEvent(describe(failure, c), created.nextSequenceNumber())));
          return relayStream(c, answer.passthrough, encodeError, sseHeaders(c, answer.overheadMs));
        }
      }
    }),
  );

  v1.get('/responses/:id', (c) =>
    respond(c, deps.tokens, async (principal, startedAt) => {
      if (c.req.query('stream') === 'true')
        throw new KeywayError('invalid_request', 'Keyway cannot replay a stored response as a stream.', {
          details: { param: 'stream' },
        });
      const found = await deps.responses.retrieve(principal, responseId(c), callOptions(c, startedAt));
      return found.kind === 'stored'
        ? json(c, found.response, performance.now() - startedAt)
        : relayedAnswer(c, found.answer);
    }),
  );

  v1.delete('/responses/:id', (c) =>
    respond(c, deps.tokens, async (principal, startedAt) => {
      const deleted = await deps.responses.delete(principal, responseId(c), callOptions(c, startedAt));
      return deleted.kind === 'stored'
        ? json(c, deleted.deleted, performance.now() - startedAt)
        : relayedAnswer(c, deleted.answer);
    }),
  );
}

/** OpenAI's own answer about a relayed response, as it came. */
function relayedAnswer(c: Context<AppEnv>, answer: ExchangeAnswer): Response {
  return wholeAnswer(c, answer.kind === 'whole' ? answer.body : '', answer.overheadMs);
}

function responseId(c: Context<AppEnv>): string {
  const id = c.req.param('id') ?? '';
  if (id.length > MAX_RESPONSE_ID_LENGTH)
    throw new KeywayError('invalid_request', 'Invalid request: response_id: too long.', {
      details: { param: 'response_id' },
    });
  return id;
}

function json(c: Context<AppEnv>, body: unknown, overheadMs: number): Response {
  return wholeAnswer(c, JSON.stringify(body), overheadMs);
}

/** A failure as the `error` event describes it: `/v1`'s one error mapping, so never a secret. */
function describe(error: unknown, c: Context<AppEnv>): StreamErrorInfo {
  const { type, code, message, param } = toOpenAiError(error, c).body.error;
  return { type, code, message, param };
}

/** `event: <type>` and `data: <json>`, as OpenAI streams them. */
function encodeEvent(event: ResponseStreamEvent): string {
  return encodeSse(JSON.stringify(event), event.type);
}

/** The events as SSE bytes, pulled one at a time: a slow client slows the provider read. */
function encodeEvents(events: AsyncIterable<ResponseStreamEvent>): ReadableStream<Uint8Array> {
  const iterator = events[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>(
    {
      pull: async (stream) => {
        let next: IteratorResult<ResponseStreamEvent>;
        try {
          next = await iterator.next();
        } catch {
          // The events end failures themselves; this is a bug, and nothing more can be said safely.
          stream.close();
          return;
        }
        if (next.done) stream.close();
        else stream.enqueue(encoder.encode(encodeEvent(next.value)));
      },
      cancel: async () => {
        // The client went away: ending the iteration stops the provider.
        await iterator.return?.();
      },
    },
    { highWaterMark: 0 },
  );
}
