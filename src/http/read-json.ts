import type { Context } from 'hono';
import { KeywayError } from '../errors.ts';
import type { AppEnv } from './app-env.ts';

/** A request's JSON body: 415 `unsupported_media_type` unless it is sent as JSON, 400 `invalid_json`. */
export async function readJson(c: Context<AppEnv>): Promise<unknown> {
  const type = c.req.header('content-type') ?? '';
  if (!/^application\/json\b/i.test(type)) {
    throw new KeywayError(
      'unsupported_media_type',
      'Send the body as JSON with `content-type: application/json`.',
    );
  }
  try {
    return await c.req.json();
  } catch {
    throw new KeywayError('invalid_json', 'The request body is not valid JSON.');
  }
}
