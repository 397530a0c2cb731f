import type { HttpBindings } from '@hono/node-server';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { Hono, type Context } from 'hono';
import type { Principal } from '../auth/principal.ts';
import { KeywayError } from '../errors.ts';
import type { AppEnv } from '../http/app-env.ts';
import { bearerPrincipal } from '../http/authenticate.ts';
import { bodyLimit } from '../http/body-limit.ts';
import { findJsonProblem, MAX_JSON_DEPTH } from '../http/json-shape.ts';
import type { Readiness } from '../http/readiness.ts';
import { encodeSse } from '../http/sse.ts';
import type { TokensService } from '../tokens/tokens.service.ts';
import type { GatewayService, StreamedCompletion } from './gateway.service.ts';
import { chatRequestSchema, type ChatCompletionChunk } from './openai-types.ts';
import { toOpenAiError } from './v1-errors.ts';

const OVERHEAD_HEADER = 'x-keyway-overhead-ms';
const FALLBACK_HEADER = 'x-keyway-fallback-models';
const encoder = new TextEncoder();

/**
 * The OpenAI-compatible endpoint, the one layer that speaks HTTP for the gateway core: it reads and
 * validates the body, authenticates by Keyway API token only (no cookies), encodes SSE, answers every
 * error — unknown paths and methods included — in OpenAI's envelope, and sets
 * `x-keyway-overhead-ms` (time spent in Keyway, the provider's time excluded) on every response.
 */
export function registerGatewayRoutes(
  app: Hono<AppEnv>,
  deps: { gateway: GatewayService; tokens: TokensService; readiness: Readiness; bodyLimitBytes: number },
): void {
  const v1 = new Hono<AppEnv>();
  v1.use(async (c, next) => {
    if (!deps.readiness.ready)
      throw new KeywayError('not_ready', `Keyway is not ready: ${deps.readiness.reason}.`);
    return next();
  });
  v1.use(bodyLimit(deps.bodyLimitBytes));

  v1.post('/chat/completions', (c) =>
    respond(c, deps.tokens, async (principal, startedAt) => {
      const parsed = chatRequestSchema.safeParse(await readBody(c));
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        throw new KeywayError(
          'invalid_request',
          `Invalid request: ${issue.path.join('.') || 'body'}: ${issue.message}`,
          {
            details: { param: issue.path.join('.') || null },
          },
        );
      }
      const fallbackModels = (c.req.header(FALLBACK_HEADER) ?? '')
        .split(',')
        .map((name) => name.trim())
        .filter(Boolean)
        .slice(0, 5);
      const completion = await deps.gateway.complete(principal, parsed.data, {
        startedAt,
        signal: clientGone(c),
        fallbackModels,
        log: c.get('log'),
      });
      const headers = {
        'x-request-id': c.get('requestId'),
        [OVERHEAD_HEADER]: completion.overheadMs.toFixed(2),
      };
      if (completion.kind === 'stream') {
        const encodeError = (failure: KeywayError) => encoder.encode(errorEvent(failure, c));
        const node = nodeBindings(c);
        if (completion.passthrough && node) {
          // The fast path: the provider's bytes straight into Node's response, no web stream between.
          node.outgoing.writeHead(200, {
            'content-type': 'text/event-stream; charset=utf-8',
            'cache-control': 'no-cache',
            ...headers,
          });
          completion.passthrough.pipeTo(node.outgoing, encodeError);
          return RESPONSE_ALREADY_SENT;
        }
        return new Response(
          completion.passthrough
            ? completion.passthrough.toStream(encodeError)
            : encodeChunks(completion, encodeError),
          {
            status: 200,
            headers: {
              'content-type': 'text/event-stream; charset=utf-8',
              'cache-control': 'no-cache',
              ...headers,
            },
          },
        );
      }
      return new Response(completion.passthrough ?? JSON.stringify(completion.completion()), {
        status: 200,
        headers: { 'content-type': 'application/json', ...headers },
      });
    }),
  );

  v1.get('/models', (c) =>
    respond(c, deps.tokens, async (principal, startedAt) => {
      const models = await deps.gateway.models(principal);
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

  // Anything else under /v1 answers as OpenAI does (SDKs and LangChain misreport Keyway's own envelope).
  // Answered before authentication: nothing is there for anyone.
  v1.all('*', (c) =>
    openAiErrorResponse(
      c,
      new KeywayError('not_found', `Invalid URL (${c.req.method} ${c.req.path}).`),
      c.get('startedAt') ?? performance.now(),
    ),
  );
  v1.onError((error, c) => openAiErrorResponse(c, error, c.get('startedAt') ?? performance.now()));
  app.route('/v1', v1);
}

function modelObject(model: { id: string; owned_by: string }, created: number) {
  return { id: model.id, object: 'model', created, owned_by: model.owned_by };
}

/** Authenticates, runs a handler; any error becomes OpenAI's envelope, with the overhead header still set. */
async function respond(
  c: Context<AppEnv>,
  tokens: TokensService,
  handler: (principal: Principal, startedAt: number) => Promise<Response>,
): Promise<Response> {
  // From the first middleware on, so the overhead header counts routing, auth and parsing too.
  const startedAt = c.get('startedAt') ?? performance.now();
  try {
    const principal = await bearerPrincipal(c.req.header('authorization'), tokens);
    if (!principal) {
      throw new KeywayError(
        'invalid_api_key',
        'Send a Keyway API token as `Authorization: Bearer kw_…` (unknown, revoked or expired tokens are refused).',
      );
    }
    return await handler(principal, startedAt);
  } catch (error) {
    return openAiErrorResponse(c, error, startedAt);
  }
}

function openAiErrorResponse(c: Context<AppEnv>, error: unknown, startedAt: number): Response {
  const answer = toOpenAiError(error, c);
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'x-request-id': c.get('requestId'),
    [OVERHEAD_HEADER]: (performance.now() - startedAt).toFixed(2),
  };
  if (answer.retryAfterSeconds !== undefined) headers['retry-after'] = String(answer.retryAfterSeconds);
  // 499 (client closed) is only for the logs: nobody reads the answer.
  const status = answer.status === 499 ? 400 : answer.status;
  return new Response(JSON.stringify(answer.body), { status, headers });
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

/**
 * The body as JSON. On the Node server it is read straight from the socket: building a web `Request`
 * for that (what `c.req.json()` does) costs more than the rest of Keyway's work on a request. Text
 * with NUL goes to the provider as it is (nothing of it is stored); nesting is bounded.
 */
async function readBody(c: Context<AppEnv>): Promise<unknown> {
  let body: unknown;
  try {
    const node = nodeBindings(c);
    if (!node) body = await c.req.json();
    else {
      const chunks: Buffer[] = [];
      for await (const chunk of node.incoming) chunks.push(chunk as Buffer);
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    }
  } catch {
    throw new KeywayError('invalid_json', 'The request body is not valid JSON.');
  }
  if (findJsonProblem(body, { rejectNul: false }))
    throw new KeywayError('json_too_deep', `The request body nests deeper than ${MAX_JSON_DEPTH} levels.`);
  return body;
}

/** A signal that aborts when the client goes away before the answer is complete. */
function clientGone(c: Context<AppEnv>): AbortSignal {
  const node = nodeBindings(c);
  if (!node) return c.req.raw.signal;
  const controller = new AbortController();
  node.outgoing.once('close', () => {
    if (!node.outgoing.writableFinished) controller.abort();
  });
  return controller.signal;
}

/** The Node request and response, when served by the Node server with a declared body length. */
function nodeBindings(c: Context<AppEnv>): HttpBindings | undefined {
  const env = c.env as Partial<HttpBindings> | undefined;
  // Without a content-length the body-limit middleware reads through the web Request: stay on that path.
  return env?.incoming && env.outgoing && c.req.header('content-length') ? (env as HttpBindings) : undefined;
}
