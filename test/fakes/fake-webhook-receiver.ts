import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * How the receiver answers: `ok` with 200, `error` with the error status (500 unless set), `closed`
 * not listening at all (connections refused); `ok` again listens on the same port.
 */
export type ReceiverMode = 'ok' | 'error' | 'closed';

/** One POST that reached the receiver. */
export interface ReceivedCallback {
  path: string;
  headers: IncomingHttpHeaders;
  /** The raw body, byte for byte as sent (what a signature is computed over). */
  body: string;
  /** The body parsed as JSON, or undefined when it is not JSON (`any`, as `callServer`'s body: tests read fields off it). */
  json: any;
  /** The status the receiver answered. */
  status: number;
  at: number;
}

export interface FakeWebhookReceiver {
  /** The callback URL to configure (`…/callback`); any path on this port is accepted. */
  url: string;
  port: number;
  /** The POSTs answered with 2xx: deliveries the sender may count as done. */
  received: ReceivedCallback[];
  /** Every POST, whatever the answer. */
  attempts: ReceivedCallback[];
  /** `error` answers `status` (default 500). */
  setMode(mode: ReceiverMode, options?: { status?: number }): Promise<void>;
  /** Answers each request only after this many milliseconds (a slow receiver). */
  setDelay(ms: number): void;
  /** Resolves with `received` once it holds at least `count` deliveries. */
  waitFor(count: number, timeoutMs?: number): Promise<ReceivedCallback[]>;
  close(): Promise<void>;
}

/** A webhook callback receiver on loopback (real HTTP) that records every delivery. */
export async function startFakeWebhookReceiver(): Promise<FakeWebhookReceiver> {
  const received: ReceivedCallback[] = [];
  const attempts: ReceivedCallback[] = [];
  let mode: ReceiverMode = 'ok';
  let errorStatus = 500;
  let delayMs = 0;
  let server: Server | null = null;

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      const answer = () => {
        if (req.method !== 'POST') {
          res.writeHead(405, { allow: 'POST' }).end();
          return;
        }
        const status = mode === 'error' ? errorStatus : 200;
        let json: any;
        try {
          json = JSON.parse(body);
        } catch {
          json = undefined;
        }
        const call: ReceivedCallback = {
          path: req.url ?? '/',
          headers: req.headers,
          body,
          json,
          status,
          at: Date.now(),
        };
        attempts.push(call);
        if (status < 300) received.push(call);
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(status < 300 ? { ok: true } : { error: 'receiver failing on purpose' }));
      };
      if (delayMs > 0) setTimeout(answer, delayMs);
      else answer();
    });
  };

  const listen = async (port: number): Promise<number> => {
    if (server) return (server.address() as AddressInfo).port;
    const next = createServer(handler);
    await new Promise<void>((resolve, reject) => {
      next.once('error', reject);
      next.listen(port, '127.0.0.1', () => {
        next.off('error', reject);
        resolve();
      });
    });
    server = next;
    return (next.address() as AddressInfo).port;
  };
  const stop = async () => {
    const current = server;
    if (!current) return;
    server = null;
    await new Promise<void>((resolve) => {
      current.close(() => resolve());
      current.closeAllConnections();
    });
  };

  const port = await listen(0);
  return {
    url: `http://127.0.0.1:${port}/callback`,
    port,
    received,
    attempts,
    async setMode(next, options = {}) {
      mode = next;
      errorStatus = options.status ?? 500;
      if (next === 'closed') await stop();
      else await listen(port);
    },
    setDelay(ms) {
      delayMs = ms;
    },
    async waitFor(count, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      while (received.length < count) {
        if (Date.now() > deadline)
          throw new Error(
            `waited ${timeoutMs} ms for ${count} deliveries, got ${received.length} (${attempts.length} attempts)`,
          );
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return received;
    },
    close: stop,
  };
}
