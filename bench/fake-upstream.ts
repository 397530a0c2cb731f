// A minimal OpenAI-compatible upstream on raw node:http, the far end of every gateway benchmark.
//
//   POST /v1/chat/completions               → one small, fixed `chat.completion`
//   POST /v1/chat/completions  stream:true  → `chunks` SSE chunks `delayMs` apart (the first at once),
//                                              then the usage chunk if asked for, then `data: [DONE]`
//
// Run on its own (`node --import tsx bench/fake-upstream.ts --port 0 --chunks 10 --delay-ms 20`) it
// prints one JSON line `{"port":N}` once listening, so a benchmark can keep it in a process of its own.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';

export interface FakeUpstreamOptions {
  /** Content chunks per streamed answer. */
  chunks?: number;
  /** Gap between two streamed chunks, in milliseconds. */
  delayMs?: number;
}

const CREATED = 1_700_000_000;
const USAGE = { prompt_tokens: 5, completion_tokens: 10, total_tokens: 15 };

/** Built once: every non-streamed answer is the same bytes. */
const COMPLETION = Buffer.from(
  JSON.stringify({
    id: 'chatcmpl-bench',
    object: 'chat.completion',
    created: CREATED,
    model: 'fake-model',
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: 'Hello from the fake upstream.' },
        finish_reason: 'stop',
      },
    ],
    usage: USAGE,
  }),
);
const COMPLETION_HEADERS = {
  'content-type': 'application/json',
  'content-length': String(COMPLETION.length),
};
const STREAM_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
};

const sse = (payload: unknown) => `data: ${JSON.stringify(payload)}\n\n`;
const chunk = (delta: Record<string, unknown>, finishReason: string | null) =>
  sse({
    id: 'chatcmpl-bench',
    object: 'chat.completion.chunk',
    created: CREATED,
    model: 'fake-model',
    choices: [{ index: 0, delta, finish_reason: finishReason }],
  });

/** The streamed answer's events, prepared once: chunk i carries the content `tok<i> `. */
function streamEvents(count: number): { content: string[]; usage: string; done: string } {
  const content: string[] = [];
  for (let i = 0; i < count; i++) {
    const delta: Record<string, unknown> =
      i === 0 ? { role: 'assistant', content: `tok${i} ` } : { content: `tok${i} ` };
    content.push(chunk(delta, null));
  }
  content.push(chunk({}, 'stop'));
  const usage = sse({
    id: 'chatcmpl-bench',
    object: 'chat.completion.chunk',
    created: CREATED,
    model: 'fake-model',
    choices: [],
    usage: USAGE,
  });
  return { content, usage, done: 'data: [DONE]\n\n' };
}

export function createFakeUpstream(options: FakeUpstreamOptions = {}): http.Server {
  const delayMs = options.delayMs ?? 20;
  const events = streamEvents(options.chunks ?? 10);
  // The last content chunk carries finish_reason; it goes out with the last content chunk's timing.
  const finish = events.content.pop()!;

  function stream(res: http.ServerResponse, includeUsage: boolean): void {
    res.writeHead(200, STREAM_HEADERS);
    res.flushHeaders();
    const started = performance.now();
    let next = 0;
    let timer: NodeJS.Timeout | undefined;
    res.on('close', () => clearTimeout(timer));
    const send = () => {
      if (res.destroyed) return;
      res.write(events.content[next]!);
      next++;
      if (next < events.content.length) {
        // Scheduled against the start, so timer lateness does not accumulate over the stream.
        timer = setTimeout(send, Math.max(0, started + next * delayMs - performance.now()));
        return;
      }
      res.end(finish + (includeUsage ? events.usage : '') + events.done);
    };
    send();
  }

  const server = http.createServer({ keepAlive: true, keepAliveTimeout: 60_000 }, (req, res) => {
    if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"error":{"message":"not found","type":"invalid_request_error"}}');
      return;
    }
    const parts: Buffer[] = [];
    req.on('data', (part: Buffer) => parts.push(part));
    req.on('end', () => {
      let body: { stream?: unknown; stream_options?: { include_usage?: unknown } } | null;
      try {
        body = JSON.parse(
          parts.length === 1 ? parts[0]!.toString() : Buffer.concat(parts).toString(),
        ) as typeof body;
      } catch {
        body = null;
      }
      if (body === null || typeof body !== 'object') {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end('{"error":{"message":"invalid JSON body","type":"invalid_request_error"}}');
        return;
      }
      if (body.stream === true) return stream(res, body.stream_options?.include_usage === true);
      res.writeHead(200, COMPLETION_HEADERS);
      res.end(COMPLETION);
    });
  });
  server.keepAliveTimeout = 60_000;
  server.headersTimeout = 65_000;
  return server;
}

/** Starts a fake upstream in this process, on 127.0.0.1. */
export async function listenFakeUpstream(
  options: FakeUpstreamOptions & { port?: number } = {},
): Promise<{ server: http.Server; port: number }> {
  const server = createFakeUpstream(options);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  return { server, port: (server.address() as AddressInfo).port };
}

function flag(name: string, fallback: number): number {
  const index = process.argv.indexOf(name);
  const value = index >= 0 ? Number(process.argv[index + 1]) : fallback;
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a non-negative number`);
  return value;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { server, port } = await listenFakeUpstream({
    port: flag('--port', 0),
    chunks: flag('--chunks', 10),
    delayMs: flag('--delay-ms', 20),
  });
  process.stdout.write(JSON.stringify({ port }) + '\n');
  const stop = () => {
    server.closeAllConnections();
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
