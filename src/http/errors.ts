import type { Context, ErrorHandler, NotFoundHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { isDatabaseUnavailable } from '../db/database-unavailable.ts';
import { KeywayError, type ErrorCode } from '../errors.ts';
import type { AppEnv } from './app-env.ts';

/** What a request that lost the database is told: it may retry shortly; nothing about why. */
export const DATABASE_UNAVAILABLE_MESSAGE =
  'The database is unavailable right now. Nothing was changed by this request; try again in a moment.';

/** `{"error":{"code","message","details?","requestId"}}`, the shape of every `/api` error. */
export function errorBody(
  c: Context<AppEnv>,
  code: ErrorCode,
  message: string,
  details?: Record<string, unknown>,
) {
  return { error: { code, message, ...(details ? { details } : {}), requestId: c.get('requestId') } };
}

export const handleError: ErrorHandler<AppEnv> = (error, c) => {
  if (error instanceof KeywayError) {
    const status = error.status as ContentfulStatusCode;
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
