import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the fake does with one request. */
export type OpenAiScript =
  /**
   * Answers `text` (streamed in pieces of `pieceSize` characters, `delayMs` apart, when the request
   * streams). `splitWrites`: each event goes out in two socket writes, 20 ms apart, cut in the middle
   * of its content.
   */
  | { kind: 'text'; text: string; pieceSize?: number; delayMs?: number; splitWrites?: boolean }
  /** Answers with parallel tool calls (streamed as OpenAI does: id and name first, arguments in fragments). */
  | { kind: 'tools'; calls: { name: string; arguments: string }[]; delayMs?: number }
  /** Answers an error status with OpenAI's error envelope (and any headers, e.g. `retry-after`). */
  | {
      kind: 'error';
      status: number;
      message: string;
      type?: string;
      code?: string;
      headers?: Record<string, string>;
    }
  /** Sends nothing at all. */
  | { kind: 'stall' }
  /** Streams `chunks` content pieces, then breaks the connection. */
  | { kind: 'break'; chunks: number; delayMs?: number };

export interface RecordedChat {
  path: string;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
  /** The client went away before the response ended. */
  aborted: boolean;
  /** Stream pieces written before the end (or the abort). */
  piecesSent: number;
}

export interface FakeOpenAiChat {
  /** Base URL, ending in /v1. */
  url: string;
  requests: RecordedChat[];
  /** Decides the answer per request (default: a short text). */
  setScript(script: (request: RecordedChat, index: number) => OpenAiScript): void;
  close(): Promise<void>;
}

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A fake OpenAI Chat Completions server on loopback that speaks the real wire format: `POST
 * /v1/chat/completions`, JSON or SSE (`data: {chunk}` events, `data: [DONE]`), tool-call deltas,
 * the `include_usage` final chunk, OpenAI's error envelope, and key checking (`Authorization: Bearer`).
 */
export async function startFakeOpenAiChat(options: { validKeys: string[] }): Promise<FakeOpenAiChat> {
  let script: (request: RecordedChat, index: number) => OpenAiScript = () => ({
    kind: 'text',
    text: 'Hello from the fake.',
  });
  const requests: RecordedChat[] = [];
  const validKeys = new Set(options.validKeys);
  let counter = 0;

  const server = createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (raw += chunk));
    req.on('end', () => {
      const record: RecordedChat = {
        path: req.url ?? '',
        headers: req.headers,
        body: raw ? (JSON.parse(raw) as Record<string, unknown>) : {},
        aborted: false,
        piecesSent: 0,
      };
      requests.push(record);
      res.on('close', () => {
        if (!res.writableFinished) record.aborted = true;
      });
      if (req.method !== 'POST' || !req.url?.startsWith('/v1/chat/completions'))
        return sendError(res, 404, 'Not found', 'invalid_request_error');
      const key = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      if (!key || !validKeys.has(key)) {
        return sendError(
          res,
          401,
          `Incorrect API key provided: ${key ? key.slice(0, 3) + '***' + key.slice(-4) : 'none'}.`,
          'invalid_request_error',
          'invalid_api_key',
        );
      }
      void answer(res, record, script(record, requests.length - 1)).catch(() => res.destroy());
    });
  });

  async function answer(res: ServerResponse, record: RecordedChat, plan: OpenAiScript): Promise<void> {
    const id = `chatcmpl-fake${++counter}`;
    const model = String(record.body.model);
    const created = 1_760_000_000;
    const stream = record.body.stream === true;
    const includeUsage =
      (record.body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
    const usage = {
      prompt_tokens: 11,
      completion_tokens: 7,
      total_tokens: 18,
      prompt_tokens_details: { cached_tokens: 3 },
    };
    const chunk = (delta: object, finish: string | null = null) => ({
      id,
      object: 'chat.completion.chunk',
      created,
      model,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    });
    const send = (data: object | string) => {
      res.write(`data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`);
      record.piecesSent++;
    };

    switch (plan.kind) {
      case 'stall':
        return;
      case 'error':
        return sendError(
          res,
          plan.status,
          plan.message,
          plan.type ?? 'invalid_request_error',
          plan.code,
          plan.headers,
        );
      case 'text': {
        if (!stream) {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(
            JSON.stringify({
              id,
              object: 'chat.completion',
              created,
              model,
              choices: [
                {
                  index: 0,
                  message: { role: 'assistant', content: plan.text, refusal: null },
                  logprobs: null,
                  finish_reason: 'stop',
                },
              ],
              usage,
              system_fingerprint: 'fp_fake',
            }),
          );
          return;
        }
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        send(chunk({ role: 'assistant', content: '' }));
        const size = plan.pieceSize ?? 5;
        for (let at = 0; at < plan.text.length; at += size) {
          if (plan.delayMs) await wait(plan.delayMs);
          if (res.destroyed) return;
          const content = plan.text.slice(at, at + size);
          const event = chunk({ content });
          if (!plan.splitWrites) send(event);
          else {
            const bytes = `data: ${JSON.stringify(event)}\n\n`;
            const middle = bytes.indexOf(JSON.stringify(content)) + Math.floor(content.length / 2);
            res.write(bytes.slice(0, middle));
            await wait(20);
            res.write(bytes.slice(middle));
            record.piecesSent++;
          }
        }
        send(chunk({}, 'stop'));
        if (includeUsage) send({ id, object: 'chat.completion.chunk', created, model, choices: [], usage });
        send('[DONE]');
        res.end();
        return;
      }
      case 'tools': {
        const calls = plan.calls.map((call, index) => ({
          id: `call_fake${counter}_${index}`,
          type: 'function',
          function: call,
        }));
        if (!stream) {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(
            JSON.stringify({
              id,
              object: 'chat.completion',
              created,
              model,
              choices: [
                {
                  index: 0,
                  message: { role: 'assistant', content: null, tool_calls: calls },
                  finish_reason: 'tool_calls',
                },
              ],
              usage,
            }),
          );
          return;
        }
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        send(chunk({ role: 'assistant', content: null }));
        for (const [index, call] of calls.entries()) {
          send(
            chunk({
              tool_calls: [
                {
                  index,
                  id: call.id,
                  type: 'function',
                  function: { name: call.function.name, arguments: '' },
                },
              ],
            }),
          );
          const args = call.function.arguments;
          for (let at = 0; at < args.length; at += 4) {
            if (plan.delayMs) await wait(plan.delayMs);
            send(chunk({ tool_calls: [{ index, function: { arguments: args.slice(at, at + 4) } }] }));
          }
        }
        send(chunk({}, 'tool_calls'));
        if (includeUsage) send({ id, object: 'chat.completion.chunk', created, model, choices: [], usage });
        send('[DONE]');
        res.end();
        return;
      }
      case 'break': {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        send(chunk({ role: 'assistant', content: '' }));
        for (let i = 0; i < plan.chunks; i++) {
          if (plan.delayMs) await wait(plan.delayMs);
          send(chunk({ content: `piece${i} ` }));
        }
        // Let what was written reach the client, then break the connection without ending the stream.
        await wait(30);
        res.destroy();
        return;
      }
    }
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    setScript(next) {
      script = next;
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function sendError(
  res: ServerResponse,
  status: number,
  message: string,
  type: string,
  code?: string,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify({ error: { message, type, param: null, code: code ?? null } }));
}
