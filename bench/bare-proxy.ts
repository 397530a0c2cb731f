// The peer that shows what any Node proxy costs: a bare undici relay with no features at all. It
// forwards POST /v1/chat/completions to the upstream named by `--upstream` (or, per request, by the
// `x-bare-upstream` header) over one keep-alive pool, and pipes the answer back as it arrives.
//
//   node --import tsx bench/bare-proxy.ts --port 0 --upstream http://127.0.0.1:PORT
//
// It prints one JSON line `{"port":N}` once listening.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { Agent, request } from 'undici';

const flag = (name: string) => {
  const index = process.argv.indexOf(name);
  return index >= 0 ? process.argv[index + 1] : undefined;
};
const defaultUpstream = flag('--upstream') ?? '';
const agent = new Agent({ keepAliveTimeout: 30_000, connections: 512 });

const server = http.createServer((incoming, outgoing) => {
  const chunks: Buffer[] = [];
  incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
  incoming.on('end', () => {
    const upstream = String(incoming.headers['x-bare-upstream'] ?? defaultUpstream);
    const controller = new AbortController();
    outgoing.on('close', () => {
      if (!outgoing.writableFinished) controller.abort();
    });
    request(upstream + (incoming.url ?? '/'), {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: String(incoming.headers.authorization ?? ''),
      },
      body: Buffer.concat(chunks),
      dispatcher: agent,
      signal: controller.signal,
    }).then(
      async (response) => {
        outgoing.writeHead(response.statusCode, {
          'content-type': String(response.headers['content-type'] ?? 'application/json'),
        });
        await pipeline(response.body, outgoing).catch(() => {});
      },
      () => {
        if (!outgoing.headersSent) outgoing.writeHead(502).end();
        else outgoing.destroy();
      },
    );
  });
});
server.keepAliveTimeout = 30_000;
server.listen(Number(flag('--port') ?? 0), '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => process.exit(0));
