import type { Context } from 'hono';
import type { AppEnv } from '../../http/app-env.ts';
import { encodeSse } from '../../http/sse.ts';
import { toOpenAiError } from '../v1-errors.ts';
import { answerHeaders } from './v1-http.ts';

/** The error types Anthropic's API answers with, which its SDKs and clients (Claude Code) understand. */
export type AnthropicErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'request_too_large'
  | 'rate_limit_error'
  | 'api_error'
  | 'overloaded_error';

/** Anthropic's error envelope. */
export interface AnthropicErrorBody {
  type: 'error';
  error: { type: AnthropicErrorType; message: string };
}

export interface AnthropicErrorAnswer {
  status: number;
  body: AnthropicErrorBody;
  retryAfterSeconds?: number;
}

const ANTHROPIC_TYPES = new Set<string>([
  'invalid_request_error',
  'authentication_error',
  'permission_error',
  'not_found_error',
  'request_too_large',
  'rate_limit_error',
  'api_error',
  'overloaded_error',
]);

/** Whether a path is served in Anthropic's envelope: `/v1/messages` and what is under it. */
export function isMessagesPath(path: string): boolean {
  return path === '/v1/messages' || path.startsWith('/v1/messages/');
}

/**
 * An error as `/v1/messages` answers it. The status and message are `toOpenAiError`'s (the one
 * mapping of errors to `/v1` answers, which never holds a secret); the type is Anthropic's: the
 * provider's own on the pass-through, Keyway's limit refusals as `rate_limit_error`, else by status.
 */
export function toAnthropicError(error: unknown, c: Context<AppEnv>): AnthropicErrorAnswer {
  const answer = toOpenAiError(error, c);
  const { message, type, code } = answer.body.error;
  // 499 (client closed) is only for the logs: nobody reads the answer.
  let status = answer.status === 499 ? 400 : answer.status;
  let anthropicType: AnthropicErrorType;
  if (code === 'overloaded_error') {
    // Anthropic stayed overloaded through the retries: say so as Anthropic does, so clients back off.
    anthropicType = 'overloaded_error';
    status = 529;
  } else if (code === 'budget_exceeded' || code === 'rate_limited' || status === 429) {
    anthropicType = 'rate_limit_error';
  } else if (status < 500 && code === type && ANTHROPIC_TYPES.has(type)) {
    // Anthropic's own refusal on the pass-through (its exchange marks its type as the code): relayed as it was.
    anthropicType = type as AnthropicErrorType;
  } else anthropicType = typeForStatus(status);
  return {
    status,
    body: { type: 'error', error: { type: anthropicType, message } },
    ...(answer.retryAfterSeconds !== undefined ? { retryAfterSeconds: answer.retryAfterSeconds } : {}),
  };
}

function typeForStatus(status: number): AnthropicErrorType {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404 || status === 405) return 'not_found_error';
  if (status === 413) return 'request_too_large';
  if (status === 429) return 'rate_limit_error';
  if (status === 529) return 'overloaded_error';
  return status >= 500 ? 'api_error' : 'invalid_request_error';
}

/** The answer to a failure on `/v1/messages*`, with the overhead header and `retry-after` when known. */
export function anthropicErrorResponse(c: Context<AppEnv>, error: unknown, startedAt: number): Response {
  const answer = toAnthropicError(error, c);
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    ...answerHeaders(c, performance.now() - startedAt),
  };
  if (answer.retryAfterSeconds !== undefined) headers['retry-after'] = String(answer.retryAfterSeconds);
  return new Response(JSON.stringify(answer.body), { status: answer.status, headers });
}

/** A failure after the first byte of a stream: Anthropic's `error` event, which its SDKs raise. */
export function anthropicErrorEvent(error: unknown, c: Context<AppEnv>): string {
  return encodeSse(JSON.stringify(toAnthropicError(error, c).body), 'error');
}
