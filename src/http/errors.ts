import type { Context, ErrorHandler, NotFoundHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { isDatabaseUnavailable } from '../db/database-unavailable.ts';
import { KeywayError } from '../errors.ts';
import type { AppEnv } from './app-env.ts';

/**
 * The HTTP status of each domain error code; the one place where domain errors become HTTP. A code
 * not listed is a 400: it was raised on purpose, about the request.
 */
const STATUS_BY_CODE: Record<string, ContentfulStatusCode> = {
  validation_failed: 400,
  invalid_json: 400,
  json_too_deep: 400,
  invalid_text: 400,
  invalid_path: 400,
  unknown_provider: 400,
  invalid_settings: 400,
  blocked_url: 400,
  unauthenticated: 401,
  invalid_secret: 401,
  invalid_login: 401,
  forbidden: 403,
  csrf_failed: 403,
  invalid_setup_token: 403,
  not_found: 404,
  conflict: 409,
  name_taken: 409,
  setup_closed: 409,
  credential_in_use: 409,
  bot_without_credential: 409,
  bot_owner_disabled: 409,
  instance_mismatch: 409,
  channel_not_configured: 409,
  no_credentials: 409,
  nothing_to_regenerate: 409,
  secret_unreadable: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  credential_rejected: 422,
  too_many_attempts: 429,
  upstream_error: 502,
  not_ready: 503,
  database_unavailable: 503,
};

/** What a request that lost the database is told: it may retry shortly; nothing about why. */
export const DATABASE_UNAVAILABLE_MESSAGE =
  'The database is unavailable right now. Nothing was changed by this request; try again in a moment.';

/** `{"error":{"code","message","details?","requestId"}}`, the shape of every `/api` error. */
export function errorBody(
  c: Context<AppEnv>,
  code: string,
  message: string,
  details?: Record<string, unknown>,
) {
  return { error: { code, message, ...(details ? { details } : {}), requestId: c.get('requestId') } };
}

export const handleError: ErrorHandler<AppEnv> = (error, c) => {
  if (error instanceof KeywayError) {
    const status = STATUS_BY_CODE[error.code] ?? 400;
    const retryAfter = error.details?.retryAfterSeconds;
    if (typeof retryAfter === 'number') c.header('retry-after', String(retryAfter));
    return c.json(errorBody(c, error.code, error.message, error.details), status);
  }
  if (error instanceof HTTPException && error.status < 500) {
    return c.json(
      errorBody(c, 'bad_request', error.message || 'The request could not be processed.'),
      error.status,
    );
  }
  if (isDatabaseUnavailable(error)) {
    (c.get('log') ?? console).warn({ err: error }, 'database unavailable');
    c.header('retry-after', '1');
    return c.json(errorBody(c, 'database_unavailable', DATABASE_UNAVAILABLE_MESSAGE), 503);
  }
  // Anything else is a bug: log it whole, tell the client only how to find it in the log.
  (c.get('log') ?? console).error({ err: error }, 'unhandled error');
  return c.json(
    errorBody(
      c,
      'internal_error',
      `Something went wrong on our side. Quote request id ${c.get('requestId')} when reporting it.`,
    ),
    500,
  );
};

export const handleNotFound: NotFoundHandler<AppEnv> = (c) =>
  c.json(errorBody(c, 'not_found', `No route for ${c.req.method} ${c.req.path}.`), 404);

export function payloadTooLarge(limitBytes: number) {
  return (c: Context<AppEnv>) =>
    c.json(
      errorBody(c, 'payload_too_large', `The request body is larger than the limit of ${limitBytes} bytes.`),
      413,
    );
}
