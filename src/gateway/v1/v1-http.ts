import type { HttpBindings } from '@hono/node-server';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import type { Context } from 'hono';
import type { z } from 'zod';
import type { Principal } from '../../auth/principal.ts';
import { KeywayError } from '../../errors.ts';
import type { AppEnv } from '../../http/app-env.ts';
import { bearerPrincipal } from '../../http/authenticate.ts';
import { findJsonProblem, MAX_JSON_DEPTH } from '../../http/json-shape.ts';
import type { TokensService } from '../../tokens/tokens.service.ts';
import type { PassthroughView } from '../completion.ts';
import { toOpenAiError } from '../v1-errors.ts';

/**
 * What every `/v1` route shares: who is asking (a Keyway API token, as `Authorization: Bearer` or, as
 * Anthropic clients send it, `x-api-key`), the body read straight from the socket, the client going
 * away, the overhead header, and the answer to a failure in the route's own envelope.
 */

export const OVERHEAD_HEADER = 'x-keyway-overhead-ms';
export const FALLBACK_HEADER = 'x-keyway-fallback-models';

/** Turns a failure into the route's answer (OpenAI's envelope by default, Anthropic's on `/v1/messages`). */
export type ErrorAnswerer = (c: Context<AppEnv>, error: unknown, startedAt: number) => Response;

/** The headers of every answer: the request id and the time spent in Keyway, the provider's excluded. */
export function answerHeaders(c: Context<AppEnv>, overheadMs: number): Record<string, string> {
  return { 'x-request-id': c.get('requestId'), [OVERHEAD_HEADER]: overheadMs.toFixed(2) };
}

/** Authenticates, runs a handler; any error becomes the route's envelope, with the overhead header still set. */
export async function respond(
  c: Context<AppEnv>,
  tokens: TokensService,
  handler: (principal: Principal, startedAt: number) => Promise<Response>,
  answerError: ErrorAnswerer = openAiErrorResponse,
): Promise<Response> {
  // From the first middleware on, so the overhead header counts routing, auth and parsing too.
  const startedAt = c.get('startedAt') ?? performance.now();
  try {
    const principal = await apiTokenPrincipal(c, tokens);
    if (!principal) {
      throw new KeywayError(
        'invalid_api_key',
        'Send a Keyway API token as `Authorization: Bearer kw_…` or `x-api-key: kw_…` (unknown, revoked or expired tokens are refused).',
      );
    }
    return await handler(principal, startedAt);
  } catch (error) {
    return answerError(c, error, startedAt);
  }
}

/** The token of `Authorization: Bearer kw_…`, else of `x-api-key: kw_…` (Anthropic's clients). */
async function apiTokenPrincipal(c: Context<AppEnv>, tokens: TokensService): Promise<Principal | null> {
  const authorization = c.req.header('authorization');
  if (authorization !== undefined) return bearerPrincipal(authorization, tokens);
  const apiKey = c.req.header('x-api-key');
  return apiKey ? tokens.authenticate(apiKey.trim()) : null;
}

export function openAiErrorResponse(c: Context<AppEnv>, error: unknown, startedAt: number): Response {
  const answer = toOpenAiError(error, c);
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    ...answerHeaders(c, performance.now() - startedAt),
  };
  if (answer.retryAfterSeconds !== undefined) headers['retry-after'] = String(answer.retryAfterSeconds);
  // 499 (client closed) is only for the logs: nobody reads the answer.
  const status = answer.status === 499 ? 400 : answer.status;
  return new Response(JSON.stringify(answer.body), { status, headers });
}

/**
 * The body as JSON. On the Node server it is read straight from the socket: building a web `Request`
 * for that (what `c.req.json()` does) costs more than the rest of Keyway's work on a request. Text
 * with NUL goes to the provider as it is (nothing of it is stored); nesting is bounded.
 */
export async function readJsonBody(c: Context<AppEnv>): Promise<unknown> {
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

/** The body read and checked against a route's schema; the first problem becomes a 400 naming its field. */
export async function readValidBody<Schema extends z.ZodType>(
  c: Context<AppEnv>,
  schema: Schema,
): Promise<z.infer<Schema>> {
  return validated(schema, await readJsonBody(c));
}

/** A body checked against a schema; the first problem becomes a 400 naming its field. */
export function validated<Schema extends z.ZodType>(schema: Schema, body: unknown): z.infer<Schema> {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const param = issue.path.join('.') || null;
  throw new KeywayError('invalid_request', `Invalid request: ${param ?? 'body'}: ${issue.message}`, {
    details: { param },
  });
}

/** What the gateway core needs of a `/v1` request: when it started, the client going away, its fallbacks, its log. */
export function callOptions(c: Context<AppEnv>, startedAt: number) {
  return { startedAt, signal: clientGone(c), fallbackModels: fallbackModels(c), log: c.get('log') };
}

/** The fallback models a request names in `x-keyway-fallback-models` (at most five). */
export function fallbackModels(c: Context<AppEnv>): string[] {
  return (c.req.header(FALLBACK_HEADER) ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean)
    .slice(0, 5);
}

/** A signal that aborts when the client goes away before the answer is complete. */
export function clientGone(c: Context<AppEnv>): AbortSignal {
  const node = nodeBindings(c);
  if (!node) return c.req.raw.signal;
  const controller = new AbortController();
  node.outgoing.once('close', () => {
    if (!node.outgoing.writableFinished) controller.abort();
  });
  return controller.signal;
}

/** The Node request and response, when served by the Node server with a declared body length. */
export function nodeBindings(c: Context<AppEnv>): HttpBindings | undefined {
  const env = c.env as Partial<HttpBindings> | undefined;
  // Without a content-length the body-limit middleware reads through the web Request: stay on that path.
  return env?.incoming && env.outgoing && c.req.header('content-length') ? (env as HttpBindings) : undefined;
}

/** An SSE response's headers. */
export function sseHeaders(c: Context<AppEnv>, overheadMs: number): Record<string, string> {
  return {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    ...answerHeaders(c, overheadMs),
  };
}

/** A whole answer: the body as it is (a provider's own bytes, or JSON Keyway encoded). */
export function wholeAnswer(
  c: Context<AppEnv>,
  body: string,
  overheadMs: number,
  contentType = 'application/json',
): Response {
  return new Response(body, {
    status: 200,
    headers: { 'content-type': contentType, ...answerHeaders(c, overheadMs) },
  });
}

/**
 * A provider's stream relayed as its bytes arrive — straight into Node's response when served by
 * Node (no web stream between: the fast path) — ending with `encodeError`'s bytes on a failure.
 */
export function relayStream(
  c: Context<AppEnv>,
  passthrough: PassthroughView,
  encodeError: (failure: KeywayError) => Uint8Array,
  headers: Record<string, string>,
): Response {
  const node = nodeBindings(c);
  if (node) {
    node.outgoing.writeHead(200, headers);
    passthrough.pipeTo(node.outgoing, encodeError);
    return RESPONSE_ALREADY_SENT;
  }
  return new Response(passthrough.toStream(encodeError), { status: 200, headers });
}
