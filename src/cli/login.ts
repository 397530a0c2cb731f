import os from 'node:os';
import { isErrorCode, KeywayError } from '../errors.ts';
import { saveLogin } from './api-client.ts';
import { parseFlags, type CliIO } from './common.ts';
import { promptVisible, readSecret } from './prompt.ts';

const USAGE = 'keyway login [--url http://127.0.0.1:3000] [--username U] [--password-stdin]';

/**
 * Signs in with a username and password, creates an API token for this machine and saves it (with
 * the URL) for the other commands. The password is read from a prompt or stdin, never from argv.
 */
export async function loginCommand(args: string[], io: CliIO): Promise<number> {
  const { values } = parseFlags(
    args,
    { url: { type: 'string' }, username: { type: 'string' }, 'password-stdin': { type: 'boolean' } },
    USAGE,
  );
  const url = (values.url ?? io.env.KEYWAY_URL ?? 'http://127.0.0.1:3000').replace(/\/+$/, '');
  const username = values.username ?? (await promptVisible('Username: '));
  const password = await readSecret(values['password-stdin'] === true, 'Password: ');

  const login = await request(url, '/api/auth/login', { method: 'POST', body: { username, password } });
  const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
  const csrf = (login.json as { csrfToken?: string }).csrfToken ?? '';
  const name = `cli ${os.hostname()} ${new Date().toISOString().slice(0, 19)}`;
  const created = await request(url, '/api/tokens', { method: 'POST', body: { name }, cookie, csrf });
  await request(url, '/api/auth/logout', { method: 'POST', cookie, csrf });
  const file = saveLogin(io.env, { url, token: (created.json as { token: string }).token });
  io.out(`Signed in to ${url} as ${username}. Saved an API token named "${name}" in ${file}.\n`);
  return 0;
}

async function request(
  url: string,
  pathname: string,
  options: { method: string; body?: unknown; cookie?: string; csrf?: string },
) {
  let response: Response;
  try {
    response = await fetch(url + pathname, {
      method: options.method,
      headers: {
        ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(options.cookie ? { cookie: options.cookie } : {}),
        ...(options.csrf ? { 'x-csrf-token': options.csrf } : {}),
      },
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
    });
  } catch (error) {
    throw new KeywayError(
      'server_unreachable',
      `Cannot reach Keyway at ${url}: ${(error as Error).message}`,
      { fix: 'Check --url and that the server runs.' },
    );
  }
  const json = response.status === 204 ? {} : await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = (json as { error?: { code?: string; message?: string } }).error;
    throw new KeywayError(
      isErrorCode(error?.code) ? error.code : 'http_error',
      error?.message ?? `HTTP ${response.status}`,
    );
  }
  return { headers: response.headers, json };
}
