import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isErrorCode, KeywayError } from '../errors.ts';
import type { CliIO } from './common.ts';

/** Where `keyway login` keeps the server URL and the API token it created (mode 0600). */
export function cliConfigPath(env: NodeJS.ProcessEnv): string {
  const base = env.XDG_CONFIG_HOME || path.join(env.HOME || os.homedir(), '.config');
  return path.join(base, 'keyway', 'cli.json');
}

export interface SavedLogin {
  url: string;
  token: string;
}

export function saveLogin(env: NodeJS.ProcessEnv, login: SavedLogin): string {
  const file = cliConfigPath(env);
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  fs.writeFileSync(file, JSON.stringify(login, null, 2) + '\n', { mode: 0o600 });
  fs.chmodSync(file, 0o600);
  return file;
}

function savedLogin(env: NodeJS.ProcessEnv): Partial<SavedLogin> {
  try {
    return JSON.parse(fs.readFileSync(cliConfigPath(env), 'utf8')) as Partial<SavedLogin>;
  } catch {
    return {};
  }
}

/** A client of Keyway's HTTP API for the data commands: `--url` / KEYWAY_URL, token from KEYWAY_TOKEN or `keyway login`. */
export class ApiClient {
  readonly url: string;
  readonly #token: string;

  constructor(url: string, token: string) {
    this.url = url.replace(/\/+$/, '');
    this.#token = token;
  }

  static fromEnvironment(io: CliIO, flags: { url?: string | undefined }): ApiClient {
    const saved = savedLogin(io.env);
    const url = flags.url ?? io.env.KEYWAY_URL ?? saved.url ?? 'http://127.0.0.1:3000';
    const token = io.env.KEYWAY_TOKEN ?? saved.token;
    if (!token) {
      throw new KeywayError('unauthenticated', 'No API token: run `keyway login`, or set KEYWAY_TOKEN.', {
        fix: 'keyway login --url ' + url,
      });
    }
    return new ApiClient(url, token);
  }

  /** Calls the API (a `FormData` body is sent as multipart); a non-2xx answer becomes a KeywayError with the server's code and message. */
  async call<T = unknown>(method: string, pathname: string, body?: unknown): Promise<T> {
    let response: Response;
    try {
      response = await fetch(this.url + pathname, {
        method,
        headers: {
          authorization: `Bearer ${this.#token}`,
          // A form (an upload) sets its own multipart content type and boundary.
          ...(body === undefined || body instanceof FormData ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: body instanceof FormData ? body : JSON.stringify(body) }),
      });
    } catch (error) {
      throw new KeywayError(
        'server_unreachable',
        `Cannot reach Keyway at ${this.url}: ${(error as Error).cause ?? (error as Error).message}`,
        {
          fix: 'Check the URL (--url or KEYWAY_URL) and that the server is running.',
        },
      );
    }
    if (response.status === 204) return undefined as T;
    const payload = (await response.json().catch(() => ({}))) as {
      error?: { code?: string; message?: string; details?: Record<string, unknown> };
    };
    if (!response.ok) {
      throw new KeywayError(
        isErrorCode(payload.error?.code) ? payload.error.code : 'http_error',
        payload.error?.message ?? `HTTP ${response.status}`,
        {
          ...(payload.error?.details ? { details: payload.error.details } : {}),
        },
      );
    }
    return payload as T;
  }
}

/** Prints rows as an aligned table. */
export function table(rows: Record<string, string>[], columns: string[]): string {
  if (rows.length === 0) return '(none)\n';
  const widths = columns.map((column) =>
    Math.max(column.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (values: string[]) =>
    values
      .map((value, i) => value.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return (
    [
      line(columns.map((column) => column.toUpperCase())),
      ...rows.map((row) => line(columns.map((column) => row[column] ?? ''))),
    ].join('\n') + '\n'
  );
}
