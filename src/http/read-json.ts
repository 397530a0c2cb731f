import type { Context } from 'hono';
import { KeywayError } from '../errors.ts';
import type { AppEnv } from './app-env.ts';
import { findJsonProblem, type JsonProblem } from './json-shape.ts';

/**
 * A request's JSON body: 415 `unsupported_media_type` unless it is sent as JSON, 400 `invalid_json`,
 * 400 `json_too_deep`, and 400 `invalid_text` for a NUL character anywhere (nothing Keyway stores
 * can hold one) unless `allowNul` (inbound channel messages, which are cleaned instead of refused).
 */
export async function readJson(c: Context<AppEnv>, options: { allowNul?: boolean } = {}): Promise<unknown> {
  const type = c.req.header('content-type') ?? '';
  if (!/^application\/json\b/i.test(type)) {
    throw new KeywayError(
      'unsupported_media_type',
      'Send the body as JSON with `content-type: application/json`.',
    );
  }
  let body: unknown;
  try {
    body = await c.req.json();
  } catch {
    throw new KeywayError('invalid_json', 'The request body is not valid JSON.');
  }
  const problem = findJsonProblem(body, { rejectNul: options.allowNul !== true });
  if (problem) throw jsonProblemError(problem);
  return body;
}

/** The `/api` error for a body or query string of the wrong shape. */
export function jsonProblemError(problem: JsonProblem): KeywayError {
  return problem.kind === 'too_deep'
    ? new KeywayError('json_too_deep', `The JSON nests deeper than ${problem.depth} levels.`)
    : new KeywayError(
        'invalid_text',
        `${problem.path} contains a NUL character (\\u0000), which Keyway does not accept in text.`,
        { details: { field: problem.path } },
      );
}
