import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fakeEmbedding } from '../fakes/fake-openai-extras.ts';

export interface SlowOpenAi {
  /** Base URL, ending in /v1. */
  url: string;
  /** Chat requests received, with whether the client went away before the end. */
  chats: { body: Record<string, unknown>; aborted: boolean }[];
  close(): Promise<void>;
}

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A fake OpenAI upstream for the browser test: `GET /v1/models`, streamed `POST
 * /v1/chat/completions` (real chunk format, usage at the end) and `POST /v1/embeddings` (hashed bag
 * of words), checking the bearer key. A message
 * containing "long" gets a slow reply of many pieces, so the test can press Stop mid-stream; any
 * other message gets a short Markdown reply with a code block.
 */
export async function startSlowOpenAi(options: { validKey: string; models: string[] }): Promise<SlowOpenAi> {
  const chats: SlowOpenAi['chats'] = [];
  const server = createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (raw += chunk));
    req.on('end', () => {
      if (req.headers.authorization !== `Bearer ${options.validKey}`) {
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            error: {
              message: 'Incorrect API key provided.',
              type: 'invalid_request_error',
              param: null,
              code: 'invalid_api_key',
            },
          }),
        );
        return;
      }
      if (req.method === 'GET' && req.url === '/v1/models') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            object: 'list',
            data: options.models.map((id) => ({
              id,
              object: 'model',
              created: 1_760_000_000,
              owned_by: 'fake',
            })),
          }),
        );
        return;
      }
      if (req.method === 'POST' && req.url === '/v1/embeddings') {
        // The bag-of-words fake of the embeddings tests, so a knowledge base can be filled for real.
        const body = JSON.parse(raw) as { model: string; input: string | string[] };
        const inputs = Array.isArray(body.input) ? body.input : [body.input];
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            object: 'list',
            data: inputs.map((input, index) => ({
              object: 'embedding',
              index,
              embedding: fakeEmbedding(input, 16),
            })),
            model: body.model,
            usage: { prompt_tokens: inputs.length, total_tokens: inputs.length },
          }),
        );
        return;
      }
      if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            error: { message: 'Not found', type: 'invalid_request_error', param: null, code: null },
          }),
        );
        return;
      }
      const body = JSON.parse(raw) as Record<string, unknown>;
      const record = { body, aborted: false };
      chats.push(record);
      res.on('close', () => {
        if (!res.writableFinished) record.aborted = true;
      });
      const messages = body.messages as { role: string; content: string }[];
      const last = String(messages[messages.length - 1]?.content ?? '');
      const slow = last.includes('long');
      const pieces = slow
        ? Array.from({ length: 80 }, (_, i) => `word${i} `)
        : ['Here is **the answer**:\n\n', '```js\n', 'const answer = 42;\n', '```\n', '\nDone.'];
      void (async () => {
        const id = `chatcmpl-ui${chats.length}`;
        const chunk = (delta: object, finish: string | null = null) =>
          `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created: 1_760_000_000, model: body.model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
        if (body.stream !== true) {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(
            JSON.stringify({
              id,
              object: 'chat.completion',
              created: 1_760_000_000,
              model: body.model,
              choices: [
                { index: 0, message: { role: 'assistant', content: pieces.join('') }, finish_reason: 'stop' },
              ],
              usage: { prompt_tokens: 9, completion_tokens: 5, total_tokens: 14 },
            }),
          );
          return;
        }
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(chunk({ role: 'assistant', content: '' }));
        for (const piece of pieces) {
          await wait(slow ? 150 : 20);
          if (res.destroyed) return;
          res.write(chunk({ content: piece }));
        }
        res.write(chunk({}, 'stop'));
        res.write(
          `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created: 1_760_000_000, model: body.model, choices: [], usage: { prompt_tokens: 9, completion_tokens: pieces.length, total_tokens: 9 + pieces.length } })}\n\n`,
        );
        res.end('data: [DONE]\n\n');
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    chats,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
