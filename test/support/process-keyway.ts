import { KeywayProcess, ProcessPool, runKeyway } from './keyway-process.ts';

/**
 * Bootstraps an admin offline (`keyway admin create-user` and `create-token`, as an operator would)
 * and returns the admin's API token.
 */
export async function bootstrapAdmin(
  flags: string[],
  env: Record<string, string>,
  username = 'admin',
): Promise<string> {
  const user = await runKeyway(
    ['admin', 'create-user', '--username', username, '--admin', '--password-stdin', ...flags],
    env,
    'a long admin password\n',
  );
  if (user.code !== 0) throw new Error(`create-user failed: ${user.stderr}`);
  const token = await runKeyway(
    ['admin', 'create-token', '--username', username, '--name', 'bootstrap', ...flags],
    env,
  );
  if (token.code !== 0) throw new Error(`create-token failed: ${token.stderr}`);
  return token.stdout.trim();
}

/** A JSON call to a running server. */
export async function callServer(
  url: string,
  method: string,
  path: string,
  options: { token?: string; body?: unknown } = {},
) {
  const response = await fetch(url + path, {
    method,
    headers: {
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
  });
  const text = await response.text();
  let body: any;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  return { status: response.status, text, body };
}

export async function serveReady(
  pool: ProcessPool,
  flags: string[],
  env: Record<string, string>,
): Promise<{ server: KeywayProcess; url: string }> {
  const server = pool.serve(flags, env);
  return { server, url: await server.ready() };
}
