import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A fake OpenAI Chat Completions upstream that meters what it answers as a provider would: one
 * completion token per streamed content piece, prompt tokens counted by a crude tokenizer (a token per
 * `charsPerToken` characters of message content), an answer never longer than the request's
 * `max_tokens`, and usage reported only where OpenAI reports it — in a whole answer, or in the final
 * `include_usage` chunk of a stream (never before the end). Streams can be slow (`delayMs` between
 * pieces) so a client can go away in the middle.
 */
export interface MeteredOptions {
  validKey: string;
  /** Content pieces (completion tokens) of a full answer. */
  pieces: number;
  /** Between two streamed pieces. */
  delayMs: number;
  charsPerToken?: number;
}

export interface MeteredRequest {
  body: Record<string, unknown>;
  stream: boolean;
  /** Pieces written before the end or the client going away. */
  piecesSent: number;
  /** Resolves when the answer ended: `complete`, or `aborted` when the client went away first. */
  ended: Promise<'complete' | 'aborted'>;
}

export interface FakeMeteredOpenAi {
  /** Base URL, ending in /v1. */
  url: string;
  requests: MeteredRequest[];
  /** What a full answer to `messages` with `maxTokens` reports as its usage. */
  usageFor(
    messages: { content: string }[],
    maxTokens?: number,
  ): { prompt_tokens: number; completion_tokens: number };
  /** Resolves when `count` requests have arrived. */
  arrived(count: number): Promise<MeteredRequest[]>;
  close(): Promise<void>;
}

export async function startFakeMeteredOpenAi(options: MeteredOptions): Promise<FakeMeteredOpenAi> {
  const charsPerToken = options.charsPerToken ?? 4;
  const requests: MeteredRequest[] = [];
  const waiters: (() => void)[] = [];
  let counter = 0;

  const usageFor = (messages: { content: unknown }[], maxTokens?: number) => {
    const chars = messages.reduce(
      (sum, message) => sum + (typeof message.content === 'string' ? message.content.length : 0),
      0,
    );
    return {
      prompt_tokens: Math.ceil(chars / charsPerToken),
      completion_tokens: Math.min(options.pieces, maxTokens ?? options.pieces),
    };
  };

  const server = createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (raw += chunk));
    req.on('end', () => {
      if (req.headers.authorization !== `Bearer ${options.validKey}`) {
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            error: { message: 'bad key', type: 'invalid_request_error', code: 'invalid_api_key' },
          }),
        );
        return;
      }
      const body = JSON.parse(raw) as Record<string, unknown>;
      const stream = body.stream === true;
      let settle!: (how: 'complete' | 'aborted') => void;
      const record: MeteredRequest = {
        body,
        stream,
        piecesSent: 0,
        ended: new Promise((resolve) => (settle = resolve)),
      };
      requests.push(record);
      for (const wake of waiters.splice(0)) wake();
      res.on('close', () => settle(res.writableFinished ? 'complete' : 'aborted'));

      const maxTokens =
        typeof body.max_completion_tokens === 'number'
          ? body.max_completion_tokens
          : typeof body.max_tokens === 'number'
            ? body.max_tokens
            : undefined;
      const counted = usageFor((body.messages ?? []) as { content: unknown }[], maxTokens);
      const usage = { ...counted, total_tokens: counted.prompt_tokens + counted.completion_tokens };
      const id = `chatcmpl-metered${++counter}`;
      const model = String(body.model);
      const created = 1_760_000_000;
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
                message: { role: 'assistant', content: 'tok '.repeat(counted.completion_tokens) },
                finish_reason: 'stop',
              },
            ],
            usage,
          }),
        );
        return;
      }
      const includeUsage =
        (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
      const chunk = (delta: object, finish: string | null = null) =>
        `data: ${JSON.stringify({
          id,
          object: 'chat.completion.chunk',
          created,
          model,
          choices: [{ index: 0, delta, finish_reason: finish }],
        })}\n\n`;
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(chunk({ role: 'assistant', content: '' }));
      void (async () => {
        for (let piece = 0; piece < counted.completion_tokens; piece++) {
          if (piece > 0 && options.delayMs > 0)
            await new Promise((resolve) => setTimeout(resolve, options.delayMs));
          if (res.destroyed) return;
          res.write(chunk({ content: 'tok ' }));
          record.piecesSent++;
        }
        if (res.destroyed) return;
        res.write(chunk({}, 'stop'));
        if (includeUsage)
          res.write(
            `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices: [], usage })}\n\n`,
          );
        res.end('data: [DONE]\n\n');
      })();
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    usageFor,
    async arrived(count) {
      while (requests.length < count) await new Promise<void>((resolve) => waiters.push(resolve));
      return requests;
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
