import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  ApiError,
  failure,
  isMissingRoute,
  requestInit,
  setCsrfToken,
  setUnauthenticatedHandler,
} from './client.ts';

afterEach(() => {
  setCsrfToken(null);
  setUnauthenticatedHandler(null);
});

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

describe('requestInit', () => {
  it("sends the session's CSRF token on writes only, and JSON bodies", () => {
    setCsrfToken('csrf-1');
    const write = requestInit('POST', { body: { a: 1 } });
    expect(write.headers).toMatchObject({ 'x-csrf-token': 'csrf-1', 'content-type': 'application/json' });
    expect(write.body).toBe('{"a":1}');
    expect(write.credentials).toBe('same-origin');
    expect(requestInit('GET').headers).not.toHaveProperty('x-csrf-token');
    expect(requestInit('DELETE').headers).toHaveProperty('x-csrf-token', 'csrf-1');
  });
});

describe('failure', () => {
  it("turns the server's error envelope into an ApiError with its code and details", async () => {
    const error = await failure(
      json(409, {
        error: { code: 'credential_in_use', message: 'Used by 1 bot', details: { bots: [{ name: 'b' }] } },
      }),
    );
    expect(error).toBeInstanceOf(ApiError);
    expect([error.status, error.code, error.message]).toEqual([409, 'credential_in_use', 'Used by 1 bot']);
    expect(error.details).toEqual({ bots: [{ name: 'b' }] });
  });

  it('reports a 401 to the handler (once per failure) unless the caller expects it', async () => {
    const handler = vi.fn();
    setUnauthenticatedHandler(handler);
    await failure(json(401, { error: { code: 'unauthenticated', message: 'no' } }));
    expect(handler).toHaveBeenCalledTimes(1);
    await failure(json(401, { error: { code: 'invalid_login', message: 'no' } }), {
      allowUnauthenticated: true,
    });
    expect(handler).toHaveBeenCalledTimes(1);
  });

  it('keeps the status line when the body is not JSON', async () => {
    const error = await failure(new Response('<html>', { status: 502, statusText: 'Bad Gateway' }));
    expect([error.code, error.message]).toEqual(['http_502', 'The server answered 502 Bad Gateway.']);
  });
});

describe('isMissingRoute', () => {
  it('tells a route that does not exist from a record that does not', () => {
    expect(isMissingRoute(new ApiError(404, 'not_found', 'No route for GET /api/bots.'))).toBe(true);
    expect(isMissingRoute(new ApiError(200, 'not_json', 'Expected JSON'))).toBe(true);
    expect(isMissingRoute(new ApiError(404, 'not_found', 'No bot with id x.'))).toBe(false);
    expect(isMissingRoute(new Error('x'))).toBe(false);
  });
});
