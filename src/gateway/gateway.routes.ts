import { Hono, type Context } from 'hono';
import { KeywayError } from '../errors.ts';
import type { AppEnv } from '../http/app-env.ts';
import { bodyLimit } from '../http/body-limit.ts';
import type { Readiness } from '../http/readiness.ts';
import { encodeSse } from '../http/sse.ts';
import type { ResponsesService } from '../responses/responses.service.ts';
import type { TokensService } from '../tokens/tokens.service.ts';
import type { GatewayService, ServedModel, StreamedCompletion } from './gateway.service.ts';
import { chatRequestSchema, type ChatCompletionChunk } from './openai-types.ts';
import { toOpenAiError } from './v1-errors.ts';
import { anthropicErrorResponse, isMessagesPath } from './v1/anthropic-errors.ts';
import { registerMessagesRoutes } from './v1/messages.routes.ts';
import { registerResponsesRoutes } from './v1/responses.routes.ts';
import { registerEmbeddingsRoutes } from './v1/embeddings.routes.ts';
import { registerTranscriptionsRoutes } from './v1/transcriptions.routes.ts';
import {
  callOptions,
  OVERHEAD_HEADER,
  openAiErrorResponse,
  readValidBody,
  respond,
  sseHeaders,
  wholeAnswer,
  relayStream,
} from './v1/v1-http.ts';

const encoder = new TextEncoder();

/** The one `/v1` route whose bodies are audio files: it has a body limit of its own. */
const TRANSCRIPTIONS_PATH = '/v1/audio/transcriptions';

/**
 * The OpenAI-compatible endpoint, the one layer that speaks HTTP for the gateway core: it reads and
 * validates the body, authenticates by Keyway API token only (no cookies), encodes SSE, answers every
 * error — unknown paths and methods included — in OpenAI's envelope, and sets
 * `x-keyway-overhead-ms` (time spent in Keyway, the provider's time excluded) on every response.
 */
export function registerGatewayRoutes(
  app: Hono<AppEnv>,
  deps: {
    gateway: GatewayService;
    tokens: TokensService;
    readiness: Readiness;
    bodyLimitBytes: number;
    /** The body limit of `/v1/audio/transcriptions` (audio files are larger than JSON requests). */
    transcriptionBodyLimitBytes: number;
    responses: ResponsesService;
  },
): void {
  const v1 = new Hono<AppEnv>();
  v1.use(async (c, next) => {
    if (!deps.readiness.ready)
      throw new KeywayError('not_ready', `Keyway is not ready: ${deps.readiness.reason}.`);
    return next();
  });
  const jsonLimit = bodyLimit(deps.bodyLimitBytes);
  const audioLimit = bodyLimit(deps.transcriptionBodyLimitBytes);
  v1.use((c, next) => (c.req.path === TRANSCRIPTIONS_PATH ? audioLimit(c, next) : jsonLimit(c, next)));

  v1.post('/chat/completions', (c) =>
    respond(c, deps.tokens, async (principal, startedAt) => {
      const request = await readValidBody(c, chatRequestSchema);
      const completion = await deps.gateway.complete(principal, request, callOptions(c, startedAt));
      if (completion.kind === 'stream') {
        const encodeError = (failure: KeywayError) => encoder.encode(errorEvent(failure, c));
        const headers = sseHeaders(c, completion.overheadMs);
        if (completion.passthrough) return relayStream(c, completion.passthrough, encodeError, headers);
        return new Response(encodeChunks(completion, encodeError), { status: 200, headers });
      }
      return wholeAnswer(
        c,
        completion.passthrough ?? JSON.stringify(completion.completion()),
        completion.overheadMs,
      );
    }),
  );

  v1.get('/models', (c) =>
    respond(c, deps.tokens, async (principal, startedAt) => {
      const models = await deps.gateway.servedModels(principal);
      const created = Math.floor(Date.now() / 1000);
      c.header(OVERHEAD_HEADER, (performance.now() - startedAt).toFixed(2));
      return c.json({ object: 'list', data: models.map((model) => modelObject(model, created)) });
    }),
  );

  // Ids hold a slash (`work/gpt-4o`); SDKs send it encoded (`work%2Fgpt-4o`) or not.
  v1.get('/models/:id{.+}', (c) =>
    respond(c, deps.tokens, async (principal, startedAt) => {
      const model = await deps.gateway.model(principal, c.req.param('id'));
      c.header(OVERHEAD_HEADER, (performance.now() - startedAt).toFixed(2));
      return c.json(modelObject(model, Math.floor(Date.now() / 1000)));
    }),
  );

  registerResponsesRoutes(v1, { responses: deps.responses, tokens: deps.tokens });
  registerMessagesRoutes(v1, deps);
  registerEmbeddingsRoutes(v1, deps);
  registerTranscriptionsRoutes(v1, deps);

  // Anything else under /v1 answers as OpenAI does (SDKs and LangChain misreport Keyway's own envelope).
  // Answered before authentication: nothing is there for anyone.
  v1.all('*', (c) =>
    (isMessagesPath(c.req.path) ? anthropicErrorResponse : openAiErrorResponse)(
      c,
      new KeywayError('not_found', `Invalid URL (${c.req.method} ${c.req.path}).`),
      c.get('startedAt') ?? performance.now(),
    ),
  );
  // Middleware failures (readiness, body limit) too: `/v1/messages*` answers in Anthropic's envelope.
  v1.onError((error, c) =>
    (isMessagesPath(c.req.path) ? anthropicErrorResponse : openAiErrorResponse)(
      c,
      error,
      c.get('startedAt') ?? performance.now(),
    ),
  );
  app.route('/v1', v1);
}

/** OpenAI's model object, and the endpoints the model serves (SDKs ignore what they do not know). */
function modelObject(model: ServedModel, created: number) {
  return { id: model.id, object: 'model', created, owned_by: model.owned_by, endpoints: model.endpoints };
}

/** A failure after the first byte, as the `error` event SDKs raise. */
function errorEvent(failure: KeywayError, c: Context<AppEnv>): string {
  return encodeSse(JSON.stringify(toOpenAiError(failure, c).body));
}

/** Typed chunks as OpenAI's SSE: one event per chunk, `[DONE]` at the end, an error event on failure. */
function encodeChunks(
  completion: StreamedCompletion,
  encodeError: (failure: KeywayError) => Uint8Array,
): ReadableStream<Uint8Array> {
  const iterator = completion.chunks()[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>(
    {
      pull: async (stream) => {
        let next: IteratorResult<ChatCompletionChunk>;
        try {
          next = await iterator.next();
        } catch (error) {
          stream.enqueue(
            encodeError(
              error instanceof KeywayError ? error : new KeywayError('internal_error', 'The answer failed.'),
            ),
          );
          stream.close();
          return;
        }
        if (next.done) {
          stream.enqueue(encoder.encode(encodeSse('[DONE]')));
          stream.close();
          return;
        }
        stream.enqueue(encoder.encode(encodeSse(JSON.stringify(next.value))));
      },
      cancel: async () => {
        // The client went away: ending the iteration stops the provider.
        await iterator.return?.();
      },
    },
    { highWaterMark: 0 },
  );
}
