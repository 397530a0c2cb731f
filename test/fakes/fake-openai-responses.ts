import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/*
 * A fake of OpenAI's Responses API (`POST /v1/responses`) on a real socket, speaking the wire format
 * of https://platform.openai.com/docs/api-reference/responses and its streaming events: Bearer keys,
 * OpenAI's error envelope, Response objects, and the SSE sequence (`event:` + `data:` lines,
 * `response.created` … `response.completed`, numbered from 0, no `[DONE]`). Like OpenAI it stores
 * what it answers (unless `store: false`) and resolves `previous_response_id` itself — an unknown id is
 * 400 `previous_response_not_found`. Written apart from Keyway's codec, so tests of one check the other.
 */

/** What the fake answers to one request. */
export type ResponsesScript =
  /** Text, streamed in the given pieces (a string streams word by word). */
  | { kind: 'text'; text: string | string[]; usage?: FakeResponsesUsage }
  /** Function calls (after optional text), each call's arguments streamed in three pieces. */
  | { kind: 'calls'; calls: { name: string; arguments: string }[]; text?: string; usage?: FakeResponsesUsage }
  /** An HTTP error in OpenAI's envelope. */
  | { kind: 'error'; status: number; message: string; type?: string; code?: string }
  /** A stream that breaks off (the socket destroyed) after `afterEvents` events. */
  | { kind: 'break'; text: string; afterEvents: number };

export interface FakeResponsesUsage {
  input_tokens: number;
  output_tokens: number;
  cached_tokens?: number;
}

export interface RecordedResponsesRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
  /** The conversation the fake answered: the stored chain's items, then this request's input. */
  conversation: unknown[];
}

export interface FakeOpenAiResponses {
  /** Base URL ending in `/v1`, as an OpenAI credential's `baseUrl`. */
  url: string;
  requests: RecordedResponsesRequest[];
  setScript(script: (request: RecordedResponsesRequest, index: number) => ResponsesScript): void;
  close(): Promise<void>;
}

const DEFAULT_USAGE: FakeResponsesUsage = { input_tokens: 14, output_tokens: 6, cached_tokens: 2 };

export async function startFakeOpenAiResponses(options: {
  validKeys: string[];
}): Promise<FakeOpenAiResponses> {
  const requests: RecordedResponsesRequest[] = [];
  const stored = new Map<string, { conversation: unknown[]; output: unknown[]; response: unknown }>();
  let script: (request: RecordedResponsesRequest, index: number) => ResponsesScript = () => ({
    kind: 'text',
    text: 'Hello from the fake.',
  });
  let answered = 0;

  const server = createServer((incoming, response) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => {
      const key = /^Bearer (.+)$/.exec(incoming.headers.authorization ?? '')?.[1];
      if (!key || !options.validKeys.includes(key))
        return sendError(
          response,
          401,
          'Incorrect API key provided.',
          'invalid_request_error',
          'invalid_api_key',
        );
      // Retrieve and delete a stored response, as OpenAI answers them.
      const one = /^\/v1\/responses\/([^/?]+)$/.exec(incoming.url ?? '');
      if (one && (incoming.method === 'GET' || incoming.method === 'DELETE')) {
        const id = decodeURIComponent(one[1]!);
        requests.push({
          method: incoming.method,
          path: incoming.url!,
          headers: incoming.headers,
          body: {},
          conversation: [],
        });
        const found = stored.get(id);
        if (!found)
          return sendError(response, 404, `Response with id '${id}' not found.`, 'invalid_request_error');
        if (incoming.method === 'GET') return sendJson(response, 200, found.response);
        stored.delete(id);
        return sendJson(response, 200, { id, object: 'response.deleted', deleted: true });
      }
      if (incoming.method !== 'POST' || incoming.url !== '/v1/responses')
        return sendError(
          response,
          404,
          `Invalid URL (${incoming.method} ${incoming.url})`,
          'invalid_request_error',
        );
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      } catch {
        return sendError(
          response,
          400,
          'We could not parse the JSON body of your request.',
          'invalid_request_error',
        );
      }
      if (typeof body.model !== 'string')
        return sendError(response, 400, "Missing required parameter: 'model'.", 'invalid_request_error');
      const previousId = body.previous_response_id;
      const previous = typeof previousId === 'string' ? stored.get(previousId) : undefined;
      if (typeof previousId === 'string' && !previous)
        return sendError(
          response,
          400,
          `Previous response with id '${previousId}' not found.`,
          'invalid_request_error',
          'previous_response_not_found',
          'previous_response_id',
        );
      const input =
        typeof body.input === 'string'
          ? [{ role: 'user', content: body.input }]
          : ((body.input as unknown[]) ?? []);
      const record: RecordedResponsesRequest = {
        method: incoming.method,
        path: incoming.url,
        headers: incoming.headers,
        body,
        conversation: [...(previous ? [...previous.conversation, ...previous.output] : []), ...input],
      };
      requests.push(record);
      const plan = script(record, answered++);
      if (plan.kind === 'error')
        return sendError(
          response,
          plan.status,
          plan.message,
          plan.type ?? 'invalid_request_error',
          plan.code,
        );
      const answer = buildAnswer(body, plan);
      if (body.store !== false)
        stored.set(answer.response.id as string, {
          conversation: record.conversation,
          output: answer.output,
          response: answer.response,
        });
      if (body.stream === true)
        void stream(response, answer, plan.kind === 'break' ? plan.afterEvents : undefined);
      else sendJson(response, 200, answer.response);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    setScript(next) {
      script = next;
      answered = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

const hex = (bytes: number) => randomBytes(bytes).toString('hex');

interface Answer {
  response: Record<string, unknown>;
  output: Record<string, unknown>[];
  /** The stream's pieces: per output item, its text deltas or argument deltas. */
  pieces: string[][];
}

function buildAnswer(
  body: Record<string, unknown>,
  plan: Exclude<ResponsesScript, { kind: 'error' }>,
): Answer {
  const output: Record<string, unknown>[] = [];
  const pieces: string[][] = [];
  const text = plan.text;
  if (text !== undefined) {
    const parts = Array.isArray(text) ? text : text.split(/(?<= )/);
    output.push({
      id: `msg_${hex(24)}`,
      type: 'message',
      status: 'completed',
      content: [{ type: 'output_text', annotations: [], logprobs: [], text: parts.join('') }],
      role: 'assistant',
    });
    pieces.push(parts);
  }
  for (const call of plan.kind === 'calls' ? plan.calls : []) {
    output.push({
      id: `fc_${hex(24)}`,
      type: 'function_call',
      status: 'completed',
      arguments: call.arguments,
      call_id: `call_${hex(12)}`,
      name: call.name,
    });
    const third = Math.ceil(call.arguments.length / 3);
    pieces.push([0, 1, 2].map((i) => call.arguments.slice(i * third, (i + 1) * third)).filter(Boolean));
  }
  const usage = (plan.kind === 'break' ? undefined : plan.usage) ?? DEFAULT_USAGE;
  const response = {
    id: `resp_${hex(24)}`,
    object: 'response',
    created_at: Math.floor(Date.now() / 1000),
    status: 'completed',
    background: false,
    completed_at: Math.floor(Date.now() / 1000),
    error: null,
    incomplete_details: null,
    instructions: body.instructions ?? null,
    max_output_tokens: body.max_output_tokens ?? null,
    max_tool_calls: null,
    model: `${String(body.model)}-2025-04-14`,
    output,
    parallel_tool_calls: true,
    previous_response_id: body.previous_response_id ?? null,
    reasoning: { effort: null, summary: null },
    service_tier: 'default',
    store: body.store !== false,
    temperature: body.temperature ?? 1,
    text: { format: { type: 'text' }, verbosity: 'medium' },
    tool_choice: body.tool_choice ?? 'auto',
    tools: body.tools ?? [],
    top_p: body.top_p ?? 1,
    truncation: 'disabled',
    usage: {
      input_tokens: usage.input_tokens,
      input_tokens_details: { cached_tokens: usage.cached_tokens ?? 0 },
      output_tokens: usage.output_tokens,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: usage.input_tokens + usage.output_tokens,
    },
    user: null,
    metadata: body.metadata ?? {},
  };
  return { response, output, pieces };
}

/** OpenAI's event sequence for the answer; `breakAfter` destroys the socket after that many events. */
async function stream(response: ServerResponse, answer: Answer, breakAfter?: number): Promise<void> {
  const events: Record<string, unknown>[] = [];
  const inProgress = {
    ...answer.response,
    status: 'in_progress',
    completed_at: null,
    output: [],
    usage: null,
  };
  events.push(
    { type: 'response.created', response: inProgress },
    { type: 'response.in_progress', response: inProgress },
  );
  answer.output.forEach((item, index) => {
    const pieces = answer.pieces[index]!;
    if (item.type === 'message') {
      const text = pieces.join('');
      const part = (value: string) => ({ type: 'output_text', annotations: [], logprobs: [], text: value });
      const where = { item_id: item.id, output_index: index, content_index: 0 };
      events.push({
        type: 'response.output_item.added',
        output_index: index,
        item: { ...item, status: 'in_progress', content: [] },
      });
      events.push({ type: 'response.content_part.added', ...where, part: part('') });
      for (const delta of pieces)
        events.push({ type: 'response.output_text.delta', ...where, delta, logprobs: [] });
      events.push({ type: 'response.output_text.done', ...where, text, logprobs: [] });
      events.push({ type: 'response.content_part.done', ...where, part: part(text) });
    } else {
      const where = { item_id: item.id, output_index: index };
      events.push({
        type: 'response.output_item.added',
        output_index: index,
        item: { ...item, status: 'in_progress', arguments: '' },
      });
      for (const delta of pieces)
        events.push({ type: 'response.function_call_arguments.delta', ...where, delta });
      events.push({ type: 'response.function_call_arguments.done', ...where, arguments: item.arguments });
    }
    events.push({ type: 'response.output_item.done', output_index: index, item });
  });
  events.push({ type: 'response.completed', response: answer.response });
  response.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8' });
  for (const [sequence, event] of events.entries()) {
    if (breakAfter !== undefined && sequence === breakAfter) {
      // Give the relay a moment to forward what was written before the connection dies.
      await new Promise((resolve) => setTimeout(resolve, 20));
      response.destroy();
      return;
    }
    const data = JSON.stringify({ ...event, sequence_number: sequence });
    response.write(`event: ${String(event.type)}\ndata: ${data}\n\n`);
  }
  response.end();
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body, null, 2));
}

function sendError(
  response: ServerResponse,
  status: number,
  message: string,
  type: string,
  code: string | null = null,
  param: string | null = null,
): void {
  sendJson(response, status, { error: { message, type, param, code } });
}
