/**
 * The one way the UI talks to Keyway: JSON in and out, the session's CSRF token on every write,
 * errors as `ApiError` with the server's code, and a 401 anywhere reported once to whoever listens
 * (the app sends the user to the sign-in page, remembering where they were).
 */

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: Record<string, unknown> | undefined;

  constructor(status: number, code: string, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

let csrfToken: string | null = null;
let onUnauthenticated: ((message: string) => void) | null = null;

/** Kept in memory only: the token dies with the tab, like the session it belongs to. */
export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

export function setUnauthenticatedHandler(handler: ((message: string) => void) | null): void {
  onUnauthenticated = handler;
}

export interface RequestOptions {
  body?: unknown;
  signal?: AbortSignal;
  /** A 401 is an answer the caller handles itself (sign-in, the first `GET /api/me`). */
  allowUnauthenticated?: boolean;
}

/** Builds the fetch init for a call: JSON body, CSRF header on writes, same-origin cookies. */
export function requestInit(method: string, options: RequestOptions = {}): RequestInit {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD' && csrfToken) headers['x-csrf-token'] = csrfToken;
  return {
    method,
    headers,
    credentials: 'same-origin',
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
    ...(options.signal ? { signal: options.signal } : {}),
  };
}

/** Turns a failed response into an ApiError (and reports a 401 unless the caller expects one). */
export async function failure(response: Response, options: RequestOptions = {}): Promise<ApiError> {
  let code = `http_${response.status}`;
  let message = `The server answered ${response.status} ${response.statusText}.`;
  let details: Record<string, unknown> | undefined;
  try {
    const body = (await response.json()) as {
      error?: { code?: string; message?: string; details?: Record<string, unknown> };
    };
    if (body.error?.code) code = body.error.code;
    if (body.error?.message) message = body.error.message;
    details = body.error?.details;
  } catch {
    // Not JSON (a proxy's page, an SPA fallback): keep the status line.
  }
  if (response.status === 401 && !options.allowUnauthenticated) {
    onUnauthenticated?.('Your session has ended. Sign in again to continue.');
  }
  return new ApiError(response.status, code, message, details);
}

/** Calls the API and returns the parsed JSON (undefined for 204). */
export async function api<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
  const response = await fetch(path, requestInit(method, options));
  if (!response.ok) throw await failure(response, options);
  if (response.status === 204) return undefined as T;
  const type = response.headers.get('content-type') ?? '';
  if (!type.includes('json'))
    throw new ApiError(response.status, 'not_json', `Expected JSON from ${path}, got ${type || 'nothing'}.`);
  return (await response.json()) as T;
}

/** A 404 for a whole route (not a missing record): the feature is not on this server. */
export function isMissingRoute(error: unknown): boolean {
  return (
    error instanceof ApiError &&
    ((error.status === 404 && (error.code === 'http_404' || /^No route for/.test(error.message))) ||
      error.code === 'not_json' ||
      error.status === 405)
  );
}

export const get = <T>(path: string, options?: RequestOptions) => api<T>('GET', path, options);
export const post = <T>(path: string, body?: unknown, options?: RequestOptions) =>
  api<T>('POST', path, { ...options, body });
export const patch = <T>(path: string, body?: unknown, options?: RequestOptions) =>
  api<T>('PATCH', path, { ...options, body });
export const put = <T>(path: string, body?: unknown, options?: RequestOptions) =>
  api<T>('PUT', path, { ...options, body });
export const del = <T = void>(path: string, options?: RequestOptions) => api<T>('DELETE', path, options);

/** Uploads one file to `POST /api/files` as multipart (the browser writes the boundary). */
export async function uploadFile<T>(file: File, options: { signal?: AbortSignal } = {}): Promise<T> {
  const form = new FormData();
  form.append('file', file, file.name);
  const response = await fetch('/api/files', { ...requestInit('POST', options), body: form });
  if (!response.ok) throw await failure(response);
  return (await response.json()) as T;
}
