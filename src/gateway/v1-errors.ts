import type { Context } from 'hono';
import { isDatabaseUnavailable } from '../db/database-unavailable.ts';
import { KeywayError } from '../errors.ts';
import type { AppEnv } from '../http/app-env.ts';
import { DATABASE_UNAVAILABLE_MESSAGE } from '../http/errors.ts';
import { ProviderFailure } from './provider-failure.ts';

/** OpenAI's error envelope, which `/v1` clients and SDKs understand. */
export interface OpenAiErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export interface OpenAiErrorAnswer {
  status: number;
  body: OpenAiErrorBody;
  retryAfterSeconds?: number;
}

/**
 * The one place where an error becomes a `/v1` answer: a provider's failure as its `reply` says;
 * Keyway's own errors with the catalogue's status; a lost database as 503; anything else a logged
 * 500 that names only the request id. Never a secret or an internal detail.
 */
export function toOpenAiError(error: unknown, c: Context<AppEnv>): OpenAiErrorAnswer {
  if (error instanceof ProviderFailure) {
    const { status, type, code, param, retryAfterSeconds } = error.reply;
    return {
      status,
      body: { error: { message: error.message, type, param, code } },
      ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}),
    };
  }
  if (error instanceof KeywayError) {
    if (error.code === 'secret_unreadable') {
      return envelope(502, 'The stored credential cannot be decrypted; its owner must rotate it.', {
        code: 'credential_unreadable',
      });
    }
    const param = typeof error.details?.param === 'string' ? error.details.param : null;
    const retryAfter = error.details?.retryAfterSeconds;
    const answer = envelope(error.status, error.message, { code: error.code, param });
    // What OpenAI calls these refusals, so clients that look at `type` understand them too.
    if (error.code === 'budget_exceeded') answer.body.error.type = 'insufficient_quota';
    if (error.code === 'rate_limited') answer.body.error.type = 'requests';
    return {
      ...answer,
      ...(typeof retryAfter === 'number' ? { retryAfterSeconds: retryAfter } : {}),
    };
  }
  if (isDatabaseUnavailable(error)) {
    c.get('log').warn({ err: error }, 'database unavailable');
    return {
      ...envelope(503, DATABASE_UNAVAILABLE_MESSAGE, { code: 'database_unavailable' }),
      retryAfterSeconds: 1,
    };
  }
  c.get('log').error({ err: error }, 'gateway error');
  return envelope(500, `Something went wrong in Keyway. Request id ${c.get('requestId')}.`, {
    code: 'internal_error',
  });
}

function envelope(
  status: number,
  message: string,
  options: { code: string; param?: string | null },
): OpenAiErrorAnswer {
  const type =
    status >= 500
      ? 'api_error'
      : status === 401
        ? 'invalid_request_error'
        : status === 403
          ? 'permission_error'
          : status === 429
            ? 'rate_limit_error'
            : 'invalid_request_error';
  return { status, body: { error: { message, type, param: options.param ?? null, code: options.code } } };
}
