import net from 'node:net';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { KeywayError } from '../errors.ts';

export interface RunningHttpServer {
  /** `http://host:port`, with the port actually bound (for `--port 0`). */
  readonly url: string;
  /**
   * Stops accepting connections, lets in-flight requests finish (idle keep-alive connections are
   * closed at once), and after `timeoutMs` cuts whatever is still open. Resolves when all are gone.
   */
  close(timeoutMs: number): Promise<{ forced: boolean }>;
}

/**
 * Listens with the app's fetch handler; resolves once the port is bound. A port that cannot be bound
 * is a `port_in_use` (or `invalid_config`) error naming the flag to change.
 */
export function startHttpServer(
  fetch: (request: Request) => Response | Promise<Response>,
  options: { port: number; host: string },
): Promise<RunningHttpServer> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch, port: options.port, hostname: options.host }) as Server;
    const failed = (error: NodeJS.ErrnoException) => reject(listenError(error, options));
    server.once('error', failed);
    server.once('listening', () => {
      server.off('error', failed);
      const address = server.address() as AddressInfo;
      const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      resolve({
        url: `http://${host}:${address.port}`,
        close: (timeoutMs) => closeGracefully(server, timeoutMs),
      });
    });
  });
}

/**
 * Answers while the node starts, before the app exists: the process is up (`/healthz`), nothing else
 * is ready yet. Listening this early is what lets a port in use be reported before anything is created.
 */
export function startingUpFetch(version: string): (request: Request) => Response {
  return (request) => {
    const path = new URL(request.url).pathname;
    if (path === '/healthz') return Response.json({ status: 'ok', version });
    if (path === '/readyz')
      return Response.json({ status: 'not_ready', reason: 'starting' }, { status: 503 });
    return Response.json(
      { error: { code: 'not_ready', message: 'Keyway is not ready: starting.' } },
      { status: 503, headers: { 'retry-after': '1' } },
    );
  };
}

/**
 * Fails with `port_in_use` (or `invalid_config`) when the port cannot be bound, by binding it for a
 * moment: `keyway serve` asks before it creates a data directory or a master key, since the database
 * opens while the server loads. Port 0 is always free.
 */
export async function checkPortFree(options: { port: number; host: string }): Promise<void> {
  if (options.port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', (error: NodeJS.ErrnoException) => reject(listenError(error, options)));
    probe.listen(options.port, options.host, () => probe.close(() => resolve()));
  });
}

function listenError(error: NodeJS.ErrnoException, options: { port: number; host: string }): unknown {
  const where = `${options.host}:${options.port}`;
  if (error.code === 'EADDRINUSE') {
    return new KeywayError('port_in_use', `Port ${options.port} on ${options.host} is already in use.`, {
      fix: 'Stop the process that holds it, or choose another port with --port (or PORT); --port 0 picks a free one.',
      cause: error,
    });
  }
  if (error.code === 'EACCES' || error.code === 'EADDRNOTAVAIL') {
    return new KeywayError(
      'invalid_config',
      error.code === 'EACCES'
        ? `Not allowed to listen on ${where}: ports below 1024 need privileges.`
        : `Cannot listen on ${where}: ${options.host} is not an address of this machine.`,
      { fix: 'Choose another --port (or PORT) or --host (or HOST).', cause: error },
    );
  }
  return error;
}

function closeGracefully(server: Server, timeoutMs: number): Promise<{ forced: boolean }> {
  return new Promise((resolve) => {
    let forced = false;
    const timer = setTimeout(() => {
      forced = true;
      server.closeAllConnections();
    }, timeoutMs);
    timer.unref();
    // A keep-alive connection whose last request just finished stays open until its keep-alive
    // timeout; sweeping idle connections closes each one as soon as its response is done.
    const sweep = setInterval(() => server.closeIdleConnections(), 50);
    server.close(() => {
      clearTimeout(timer);
      clearInterval(sweep);
      resolve({ forced });
    });
    server.closeIdleConnections();
  });
}
