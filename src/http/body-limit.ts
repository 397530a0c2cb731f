import type { MiddlewareHandler } from 'hono';
import { bodyLimit as honoBodyLimit } from 'hono/body-limit';
import type { AppEnv } from './app-env.ts';
import { KeywayError } from '../errors.ts';

/**
 * Refuses bodies over the limit with 413. A declared `content-length` is judged from the header alone
 * (Hono's own middleware builds a web `Request` to look at the body first, which costs the gateway
 * more than everything else it does); a chunked body is counted as it is read, by Hono's middleware.
 */
export function bodyLimit(maxSize: number): MiddlewareHandler<AppEnv> {
  // Thrown, so each surface answers in its own envelope (`/api`'s, or OpenAI's on `/v1`).
  const tooLarge = (): never => {
    throw new KeywayError(
      'payload_too_large',
      `The request body is larger than the limit of ${maxSize} bytes.`,
    );
  };
  const streamed = honoBodyLimit({ maxSize, onError: tooLarge });
  return async (c, next) => {
    const length = c.req.header('content-length');
    if (length !== undefined && c.req.header('transfer-encoding') === undefined) {
      return Number(length) > maxSize ? tooLarge() : next();
    }
    if (c.req.method === 'GET' || c.req.method === 'HEAD') return next();
    return streamed(c, next);
  };
}
