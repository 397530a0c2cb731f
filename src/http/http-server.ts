import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';

export interface RunningHttpServer {
  /** `http://host:port`, with the port actually bound (for `--port 0`). */
  readonly url: string;
  /**
   * Stops accepting connections, lets in-flight requests finish (idle keep-alive connections are
   * closed at once), and after `timeoutMs` cuts whatever is still open. Resolves when all are gone.
   */
  close(timeoutMs: number): Promise<{ forced: boolean }>;
}

/** Listens with the app's fetch handler; resolves once the port is bound. */
export function startHttpServer(
  fetch: (request: Request) => Response | Promise<Response>,
  options: { port: number; host: string },
): Promise<RunningHttpServer> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch, port: options.port, hostname: options.host }) as Server;
    server.once('error', reject);
    server.once('listening', () => {
      server.off('error', reject);
      const address = server.address() as AddressInfo;
      const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      resolve({
        url: `http://${host}:${address.port}`,
        close: (timeoutMs) => closeGracefully(server, timeoutMs),
      });
    });
  });
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
