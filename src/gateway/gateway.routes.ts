import type { HttpBindings } from '@hono/node-server';
import type { Context, Hono } from 'hono';
import type { Principal } from '../auth/principal.ts';
import { isDatabaseUnavailable } from '../db/database-unavailable.ts';
import type { AppEnv } from '../http/app-env.ts';
import { DATABASE_UNAVAILABLE_MESSAGE } from '../http/errors.ts';
import { findJsonProblem, MAX_JSON_DEPTH } from '../http/json-shape.ts';
import type { TokensService } from '../tokens/tokens.service.ts';
import { GatewayError } from './gateway-error.ts';
import type { GatewayService } from './gateway.service.ts';
import { chatRequestSchema } from './openai-types.ts';

const OVERHEAD_HEADER = 'x-keyway-overhead-ms';
const FALLBACK_HEADER = 'x-keyway-fallback-models';

/**
 * The OpenAI-compatible endpoint. Authenticated by Keyway API tokens only (no cookies), errors in
 * OpenAI's envelope, and `x-keyway-overhead-ms` (time spent in Keyway, the provider's time excluded)
 * on every response.
 */
export function registerGatewayRoutes(
  app: Hono<AppEnv>,
  deps: { gateway: GatewayService; tokens: TokensService },
): void {
  app.post('/v1/chat/completions', (c) =>
    respond(c, async (startedAt) => {
      const principal = await authenticate(c, deps.tokens);
      let body: unknown;
      try {
        body = await readJson(c);
      } catch {
        throw new GatewayError(400, 'The request body is not valid JSON.', { code: 'invalid_json' });
      }
      // Text with NUL goes to the provider as it is (nothing of it is stored); nesting is bounded.
      if (findJsonProblem(body, { rejectNul: false }))
        throw new GatewayError(400, `The request body nests deeper than ${MAX_JSON_DEPTH} levels.`, {
          code: 'json_too_deep',
        });
      const parsed = chatRequestSchema.safeParse(body);
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        throw new GatewayError(400, `Invalid request: ${issue.path.join('.') || 'body'}: ${issue.message}`, {
          param: issue.path.join('.') || null,
          code: 'invalid_request',
        });
      }
      const fallbackModels = (c.req.header(FALLBACK_HEADER) ?? '')
        .split(',')
        .map((name) => name.trim())
        .filter(Boolean)
        .slice(0, 5);
      const result = await deps.gateway.chat(principal, parsed.data, {
        startedAt,
        signal: clientGone(c),
        fallbackModels,
        log: c.get('log'),
      });
      const overhead = result.overheadMs.toFixed(2);
      if (result.kind === 'stream') {
        return new Response(result.stream, {
          status: 200,
          headers: {
            'content-type': 'text/event-stream; charset=utf-8',
            'cache-control': 'no-cache',
            'x-request-id': c.get('requestId'),
            [OVERHEAD_HEADER]: overhead,
          },
        });
      }
      return new Response(result.body, {
        status: result.status,
        headers: {
          'content-type': 'application/json',
          'x-request-id': c.get('requestId'),
          [OVERHEAD_HEADER]: overhead,
        },
      });
    }),
  );

  app.get('/v1/models', (c) =>
    respond(c, async (startedAt) => {
      const principal = await authenticate(c, deps.tokens);
      const models = await deps.gateway.models(principal);
      const created = Math.floor(Date.now() / 1000);
      c.header(OVERHEAD_HEADER, (performance.now() - startedAt).toFixed(2));
      return c.json({
        object: 'list',
        data: models.map((model) => ({ id: model.id, object: 'model', created, owned_by: model.owned_by })),
      });
    }),
  );
}

/**
 * On the Node server, the body is read straight from the socket and a disconnect is watched on the
 * response: building a web `Request` for that (what `c.req.json()` and `c.req.raw.signal` do) costs
 * more than the rest of Keyway's work on a request. Elsewhere (`app.request()` in tests), the web way.
 */
function nodeBindings(c: Context<AppEnv>): HttpBindings | undefined {
  const env = c.env as Partial<HttpBindings> | undefined;
  // Without a content-length the body-limit middleware reads through the web Request: stay on that path.
  return env?.incoming && env.outgoing && c.req.header('content-length') ? (env as HttpBindings) : undefined;
}

async function readJson(c: Context<AppEnv>): Promise<unknown> {
  const node = nodeBindings(c);
  if (!node) return c.req.json();
  const chunks: Buffer[] = [];
  for await (const chunk of node.incoming) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

function clientGone(c: Context<AppEnv>): AbortSignal {
  const node = nodeBindings(c);
  if (!node) return c.req.raw.signal;
  const controller = new AbortController();
  node.outgoing.once('close', () => {
    if (!node.outgoing.writableFinished) controller.abort();
  });
  return controller.signal;
}

async function authenticate(c: Context<AppEnv>, tokens: TokensService): Promise<Principal> {
  const match = /^Bearer\s+(\S+)$/i.exec(c.req.header('authorization') ?? '');
  const principal = match ? await tokens.authenticate(match[1]!) : null;
  if (!principal) {
    throw new GatewayError(
      401,
      'Send a Keyway API token as `Authorization: Bearer kw_…` (unknown, revoked or expired tokens are refused).',
      {
        code: 'invalid_api_key',
      },
    );
  }
  return principal;
}

function asGatewayError(c: Context<AppEnv>, error: unknown): GatewayError {
  if (error instanceof GatewayError) return error;
  if (isDatabaseUnavailable(error)) {
    c.get('log').warn({ err: error }, 'database unavailable');
    return new GatewayError(503, DATABASE_UNAVAILABLE_MESSAGE, {
      code: 'database_unavailable',
      retryAfter: 1,
    });
  }
  c.get('log').error({ err: error }, 'gateway error');
  return new GatewayError(500, `Something went wrong in Keyway. Request id ${c.get('requestId')}.`, {
    code: 'internal_error',
  });
}

/** Runs a handler; any error becomes OpenAI's envelope, with the overhead header still set. */
async function respond(
  c: Context<AppEnv>,
  handler: (startedAt: number) => Promise<Response>,
): Promise<Response> {
  // From the first middleware on, so the overhead header counts routing, auth and parsing too.
  const startedAt = c.get('startedAt') ?? performance.now();
  try {
    return await handler(startedAt);
  } catch (error) {
    const gatewayError = asGatewayError(c, error);
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'x-request-id': c.get('requestId'),
      [OVERHEAD_HEADER]: (performance.now() - startedAt).toFixed(2),
    };
    if (gatewayError.retryAfter !== undefined) headers['retry-after'] = String(gatewayError.retryAfter);
    // 499 (client closed) is only for the logs: nobody reads the answer.
    const status = (gatewayError.status as number) === 499 ? 400 : gatewayError.status;
    return new Response(JSON.stringify(gatewayError.toJSON()), { status, headers });
  }
}
