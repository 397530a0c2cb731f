import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { Principal } from '../auth/principal.ts';
import type { UsableCredential } from '../credentials/credentials.repository.ts';
import type { GatewayCredentials, ModelTarget } from '../credentials/gateway-credentials.ts';
import { KeywayError } from '../errors.ts';
import { createDefaultRegistry } from '../providers/registry.ts';
import {
  UpstreamBlockedError,
  type UpstreamClient,
  type UpstreamStreamingRequest,
  type UpstreamStreamingResponse,
} from '../providers/upstream-client.ts';
import type { UsageEvent } from '../usage/usage.repository.ts';
import { TRANSLATING_ADAPTERS } from './adapters/index.ts';
import type { Exchange } from './exchange.ts';
import { GatewayService, type CompleteOptions } from './gateway.service.ts';
import type { ChatCompletionChunk } from './openai-types.ts';
import { ProviderFailure } from './provider-failure.ts';

/**
 * The gateway core with fake ports: no HTTP server, no database. Each test scripts what the upstream
 * port answers and reads what the usage port was told.
 */

const openai = createDefaultRegistry().get('openai')!;
const anthropic = createDefaultRegistry().get('anthropic')!;
const principal: Principal = { userId: 'u1', username: 'ann', role: 'member', via: 'token', tokenId: 't1' };
const KEY = 'sk-unit-0123456789abcdefghij';

function credential(name: string): UsableCredential {
  return {
    id: `cred-${name}`,
    ownerId: 'u1',
    ownerIsAdmin: false,
    provider: 'openai',
    name,
    settings: { baseUrl: `https://${name}.example/v1` },
    prices: {},
    secretKeyId: null,
    secretNonce: null,
    secretCiphertext: null,
    fingerprint: null,
    hint: '…',
    status: 'valid',
    statusMessage: null,
    lastCheckedAt: null,
    lastUsedAt: null,
    version: 1,
    createdAt: new Date(0),
    updatedAt: new Date(0),
    access: { direct: true, grants: [] },
  };
}

/** What the fake upstream does with one call. */
type Scripted =
  | { status: number; body?: string; headers?: Record<string, string> }
  | { stream: (string | Error)[] }
  | { fail: Error };

function body(pieces: (string | Error)[]): UpstreamStreamingResponse['body'] & { destroyed: boolean } {
  const state = { destroyed: false };
  const iterable = {
    async *[Symbol.asyncIterator]() {
      for (const piece of pieces) {
        if (state.destroyed) return;
        await Promise.resolve();
        if (piece instanceof Error) throw piece;
        yield Buffer.from(piece);
      }
    },
    destroy() {
      state.destroyed = true;
    },
    get destroyed() {
      return state.destroyed;
    },
  };
  return iterable;
}

function setup(script: Scripted[], options: { retries?: number } = {}) {
  const calls: UpstreamStreamingRequest[] = [];
  const bodies: ReturnType<typeof body>[] = [];
  const usage: UsageEvent[] = [];
  const upstream: UpstreamClient = {
    request: () => Promise.reject(new Error('not used')),
    open: async (request) => {
      calls.push(request);
      const next = script.shift();
      if (!next) throw new Error('no more scripted answers');
      if ('fail' in next) throw next.fail;
      if ('stream' in next) {
        const streamed = body(next.stream);
        bodies.push(streamed);
        return { status: 200, headers: { 'content-type': 'text/event-stream' }, body: streamed };
      }
      const whole = body([next.body ?? '']);
      bodies.push(whole);
      return { status: next.status, headers: next.headers ?? {}, body: whole };
    },
  };
  const targets = new Map<string, ModelTarget>([
    ['main/gpt-4o', { credential: credential('main'), provider: openai, model: 'gpt-4o', grants: [] }],
    ['backup/gpt-4o', { credential: credential('backup'), provider: openai, model: 'gpt-4o', grants: [] }],
    [
      'claude/claude-sonnet',
      {
        credential: { ...credential('claude'), provider: 'anthropic' },
        provider: anthropic,
        model: 'claude-sonnet',
        grants: [],
      },
    ],
  ]);
  const credentials: GatewayCredentials = {
    resolveModel: async (_principal: Principal, name: string) => {
      const target = targets.get(name);
      if (!target) throw new KeywayError('model_not_found', `The model "${name}" does not exist.`);
      return target;
    },
    resolveById: async () => {
      throw new Error('not used');
    },
    revealSecret: () => KEY,
    upstreamPolicy: () => ({ allowLoopback: false, allowPrivate: false }),
    usable: async () => [],
    cachedModels: async () => [],
    wireOf: () => 'openai',
  };
  const gateway = new GatewayService({
    credentials,
    upstream,
    adapters: TRANSLATING_ADAPTERS,
    usage: { record: (event) => void usage.push(event) },
    timeouts: { firstByteMs: 1_000, idleMs: 1_000, retries: options.retries ?? 2, maxRetryAfterMs: 50 },
    logger: pino({ level: 'silent' }),
  });
  const options_ = (extra: Partial<CompleteOptions> = {}): CompleteOptions => ({
    startedAt: performance.now(),
    signal: new AbortController().signal,
    fallbackModels: [],
    log: pino({ level: 'silent' }),
    ...extra,
  });
  return { gateway, calls, bodies, usage, options: options_ };
}

const completionJson = (content: string) =>
  JSON.stringify({
    id: 'chatcmpl-1',
    object: 'chat.completion',
    created: 1,
    model: 'gpt-4o',
    choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 9, completion_tokens: 4, total_tokens: 13 },
  });
const sse = (chunk: object | string) =>
  `data: ${typeof chunk === 'string' ? chunk : JSON.stringify(chunk)}\n\n`;
const delta = (content: string) => ({
  id: 'c',
  object: 'chat.completion.chunk',
  created: 1,
  model: 'gpt-4o',
  choices: [{ index: 0, delta: { content }, finish_reason: null }],
});
const ask = (model = 'main/gpt-4o', stream = false) => ({
  model,
  messages: [{ role: 'user', content: 'hi' }],
  ...(stream ? { stream: true } : {}),
});

async function collect(chunks: AsyncIterable<ChatCompletionChunk>): Promise<string> {
  let text = '';
  for await (const chunk of chunks) text += chunk.choices[0]?.delta.content ?? '';
  return text;
}

describe('the gateway core, with fake ports', () => {
  it('retries a 503 and a refused connection, then answers; usage is recorded for every call', async () => {
    const econnrefused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    const { gateway, calls, usage, options } = setup([
      { status: 503, body: '{"error":{"message":"busy"}}' },
      { fail: econnrefused },
      { status: 200, body: completionJson('hello') },
    ]);
    const result = await gateway.complete(principal, ask(), options());
    expect(result.kind).toBe('whole');
    if (result.kind !== 'whole') return;
    expect(result.completion().choices[0]!.message.content).toBe('hello');
    expect(result.passthrough).toContain('"hello"');
    expect(calls).toHaveLength(3);
    expect(calls[0]!.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(usage.map((event) => event.status)).toEqual([503, 502, 200]);
    expect(usage[2]).toMatchObject({
      credentialId: 'cred-main',
      inputTokens: 9,
      outputTokens: 4,
      userId: 'u1',
    });
  });

  it('falls back to the next model when the first fails, and names neither key nor body', async () => {
    const { gateway, calls, usage, options } = setup(
      [
        { status: 500, body: '<html>oops</html>' },
        { status: 200, body: completionJson('from backup') },
      ],
      { retries: 0 },
    );
    const result = await gateway.complete(principal, ask(), options({ fallbackModels: ['backup/gpt-4o'] }));
    expect(result.kind === 'whole' && result.completion().choices[0]!.message.content).toBe('from backup');
    expect(calls.map((call) => new URL(call.url).host)).toEqual(['main.example', 'backup.example']);
    expect(usage.map((event) => [event.credentialId, event.status])).toEqual([
      ['cred-main', 500],
      ['cred-backup', 200],
    ]);
  });

  it('throws typed failures: a rejected key, a refused request, a timeout, a blocked address', async () => {
    const cases: [Scripted, string, number][] = [
      [{ status: 401, body: `{"error":{"message":"bad key ${KEY}"}}` }, 'upstream_auth_failed', 502],
      [
        {
          status: 400,
          body: '{"error":{"message":"too long","type":"invalid_request_error","code":"context_length_exceeded"}}',
        },
        'upstream_rejected',
        400,
      ],
      [
        { fail: Object.assign(new Error('headers'), { code: 'UND_ERR_HEADERS_TIMEOUT' }) },
        'upstream_timeout',
        504,
      ],
      [{ fail: new UpstreamBlockedError('127.0.0.1 is loopback') }, 'upstream_blocked', 502],
      [{ status: 302, headers: { location: 'http://elsewhere' } }, 'upstream_redirect', 502],
    ];
    for (const [scripted, code, status] of cases) {
      const { gateway, calls, options } = setup([scripted], { retries: 0 });
      const error = (await gateway
        .complete(principal, ask(), options())
        .catch((caught: unknown) => caught)) as ProviderFailure;
      expect(error, code).toBeInstanceOf(ProviderFailure);
      expect([error.code, error.reply.status], code).toEqual([code, status]);
      expect(error.message).not.toContain(KEY);
      expect(calls).toHaveLength(1);
    }
    const { gateway, options } = setup([]);
    await expect(gateway.complete(principal, ask('nowhere/x'), options())).rejects.toMatchObject({
      code: 'model_not_found',
      status: 404,
    });
  });

  it('waits out a short retry-after and stops waiting when the caller goes away', async () => {
    const { gateway, calls, options } = setup([
      { status: 429, body: '{"error":{"message":"slow down"}}', headers: { 'retry-after': '0.02' } },
      { status: 200, body: completionJson('after the wait') },
    ]);
    const result = await gateway.complete(principal, ask(), options());
    expect(result.kind === 'whole' && result.completion().choices[0]!.message.content).toBe('after the wait');
    expect(calls).toHaveLength(2);

    const caller = new AbortController();
    const gone = setup([
      { status: 503, body: '' },
      { status: 200, body: completionJson('never') },
    ]);
    const pending = gone.gateway.complete(principal, ask(), gone.options({ signal: caller.signal }));
    caller.abort();
    await expect(pending).rejects.toMatchObject({ code: 'client_closed' });
    expect(gone.calls).toHaveLength(1);
  });

  it('streams typed chunks with the key scrubbed across chunks, and records the usage chunk', async () => {
    const { gateway, usage, options } = setup([
      {
        stream: [
          sse(delta('key: ' + KEY.slice(0, 10))),
          sse(delta(KEY.slice(10) + '.')),
          sse({
            id: 'c',
            object: 'chat.completion.chunk',
            created: 1,
            model: 'gpt-4o',
            choices: [],
            usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 },
          }),
          sse('[DONE]'),
        ],
      },
    ]);
    const result = await gateway.complete(principal, ask('main/gpt-4o', true), options());
    if (result.kind !== 'stream') throw new Error('expected a stream');
    expect(result.passthrough).not.toBeNull();
    expect(await collect(result.chunks())).toBe('key: [REDACTED].');
    expect(usage).toEqual([expect.objectContaining({ status: 200, inputTokens: 5, outputTokens: 2 })]);
  });

  it('keeps a last event that arrives without its closing blank line', async () => {
    const { gateway, options } = setup([
      { stream: [sse(delta('first ')), `data: ${JSON.stringify(delta('and last'))}`] },
    ]);
    const result = await gateway.complete(principal, ask('main/gpt-4o', true), options());
    if (result.kind !== 'stream') throw new Error('expected a stream');
    expect(await collect(result.chunks())).toBe('first and last');
  });

  it('ends a stream that breaks off with a typed failure, and one the caller leaves early stops the provider', async () => {
    const reset = Object.assign(new Error('socket'), { code: 'ECONNRESET' });
    const broken = setup([{ stream: [sse(delta('partial')), reset] }]);
    const result = await broken.gateway.complete(principal, ask('main/gpt-4o', true), broken.options());
    if (result.kind !== 'stream') throw new Error('expected a stream');
    await expect(collect(result.chunks())).rejects.toMatchObject({ code: 'upstream_interrupted' });
    expect(broken.usage.map((event) => event.status)).toEqual([502]);

    const left = setup([{ stream: [sse(delta('one')), sse(delta('two')), sse(delta('three'))] }]);
    const streamed = await left.gateway.complete(principal, ask('main/gpt-4o', true), left.options());
    if (streamed.kind !== 'stream') throw new Error('expected a stream');
    for await (const chunk of streamed.chunks()) {
      expect(chunk.choices[0]!.delta.content).toBe('one');
      break;
    }
    expect(left.bodies[0]!.destroyed).toBe(true);
    expect(left.usage.map((event) => event.status)).toEqual([499]);
  });

  it('translates for Anthropic in the same core: typed chunks out of its events', async () => {
    const { gateway, calls, options } = setup([
      {
        stream: [
          'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude","content":[],"stop_reason":null,"usage":{"input_tokens":3,"output_tokens":0}}}\n\n',
          'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n',
          'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Bonjour"}}\n\n',
          'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n',
          'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":1}}\n\n',
          'event: message_stop\ndata: {"type":"message_stop"}\n\n',
        ],
      },
    ]);
    const result = await gateway.complete(principal, ask('claude/claude-sonnet', true), options());
    if (result.kind !== 'stream') throw new Error('expected a stream');
    expect(result.passthrough).toBeNull();
    expect(await collect(result.chunks())).toBe('Bonjour');
    // The credential's base URL (here …/v1) gets Anthropic's own path appended.
    expect(calls[0]!.url).toBe('https://claude.example/v1/v1/messages');
    expect(calls[0]!.headers['x-api-key']).toBe(KEY);
  });

  it('scrubs the key from tool-call arguments streamed piece by piece, holding back only what could be it', async () => {
    const call = (args: string, extra: object = {}) => ({
      ...delta(''),
      choices: [
        {
          index: 0,
          delta: { tool_calls: [{ index: 0, ...extra, function: { arguments: args } }] },
          finish_reason: null,
        },
      ],
    });
    const { gateway, options } = setup([
      {
        stream: [
          sse(call('{"token":"', { id: 'call_1', type: 'function', function: { name: 'save' } })),
          sse(call(KEY.slice(0, 10))),
          sse(call(KEY.slice(10))),
          sse(call('"}')),
          sse({ ...delta(''), choices: [{ index: 0, delta: {}, finish_reason: 'tool_calls' }] }),
          sse('[DONE]'),
        ],
      },
    ]);
    const result = await gateway.complete(principal, ask('main/gpt-4o', true), options());
    if (result.kind !== 'stream') throw new Error('expected a stream');
    let args = '';
    for await (const chunk of result.chunks())
      for (const piece of chunk.choices[0]?.delta.tool_calls ?? []) args += piece.function?.arguments ?? '';
    expect(args).toBe('{"token":"[REDACTED]"}');
  });

  describe('exchanges: a provider call relayed in its own format, through the same loop', () => {
    /** A minimal exchange: a JSON body to `/things`, usage in `tokens`, Anthropic refused. */
    const thingsExchange = (model = 'main/gpt-4o', stream = false): Exchange => ({
      endpoint: '/v1/things',
      model,
      stream,
      bound: () => ({ inputTokens: 10, outputTokens: 0, likelyInputTokens: 3 }),
      build(target) {
        if (target.provider.wire === 'anthropic')
          throw new KeywayError('upstream_unsupported', `${target.provider.label} has no things endpoint.`);
        return {
          url: `${target.baseUrl}/things`,
          headers: { authorization: `Bearer ${target.secret}` },
          body: JSON.stringify({ model: target.model }),
          translateError: (status, text) => ({
            message: `things failed: ${status} ${text}`,
            type: 'api_error',
            code: null,
          }),
          usageOfWhole: (text) => {
            const tokens = (JSON.parse(text) as { tokens?: number }).tokens;
            return tokens === undefined ? null : { inputTokens: tokens, outputTokens: 0, cachedTokens: 0 };
          },
          usageOfEvent: (event, before) => {
            const tokens = (JSON.parse(event.data) as { tokens?: number }).tokens;
            return tokens === undefined ? before : { inputTokens: tokens, outputTokens: 1, cachedTokens: 0 };
          },
          reshape: (text) => JSON.stringify({ reshaped: JSON.parse(text) }),
        };
      },
    });

    it('retries a 500, falls back, reshapes the answer, scrubs the key and records usage from its own format', async () => {
      const { gateway, calls, usage, options } = setup(
        [
          { status: 500, body: 'oops' },
          { status: 429, body: 'slow down' },
          { status: 200, body: `{"tokens":7,"echo":"${KEY}"}` },
        ],
        { retries: 1 },
      );
      const answer = await gateway.exchange(
        principal,
        thingsExchange(),
        options({ fallbackModels: ['backup/gpt-4o'] }),
      );
      if (answer.kind !== 'whole') throw new Error('expected a whole answer');
      expect(JSON.parse(answer.body)).toEqual({ reshaped: { tokens: 7, echo: '[REDACTED]' } });
      expect(answer.body).not.toContain(KEY);
      expect(calls.map((call) => call.url)).toEqual([
        'https://main.example/v1/things',
        'https://main.example/v1/things',
        'https://backup.example/v1/things',
      ]);
      expect(usage.map((event) => [event.credentialId, event.status, event.inputTokens])).toEqual([
        ['cred-main', 500, null],
        ['cred-main', 429, null],
        ['cred-backup', 200, 7],
      ]);
    });

    it("answers a provider's error in the exchange's terms, and refuses bots and providers without the endpoint", async () => {
      const failing = setup([{ status: 400, body: 'bad thing' }]);
      const error = (await failing.gateway
        .exchange(principal, thingsExchange(), failing.options())
        .catch((caught: unknown) => caught)) as ProviderFailure;
      expect(error).toBeInstanceOf(ProviderFailure);
      expect(error.reply.status).toBe(400);
      expect(error.message).toContain('things failed: 400 bad thing');

      const { gateway, calls, options } = setup([]);
      await expect(
        gateway.exchange(principal, thingsExchange('claude/claude-sonnet'), options()),
      ).rejects.toMatchObject({
        code: 'upstream_unsupported',
        message: 'Anthropic has no things endpoint.',
      });
      await expect(
        gateway.exchange(principal, thingsExchange('bot:helper'), options()),
      ).rejects.toMatchObject({
        code: 'invalid_request',
      });
      expect(calls).toHaveLength(0);
    });

    it('streams the bytes through, counting usage from its events, and stops the provider when the client leaves', async () => {
      const { gateway, usage, options } = setup([
        {
          stream: [
            'data: {"text":"a"}\n\n',
            `data: {"text":"${KEY.slice(0, 9)}`,
            `${KEY.slice(9)}"}\n\n`,
            'data: {"tokens":5}\n\n',
          ],
        },
      ]);
      const answer = await gateway.exchange(principal, thingsExchange('main/gpt-4o', true), options());
      if (answer.kind !== 'stream') throw new Error('expected a stream');
      const text = await new Response(answer.passthrough.toStream(() => new Uint8Array())).text();
      expect(text).not.toContain(KEY);
      expect(text).toContain('data: {"tokens":5}');
      expect(usage.at(-1)).toMatchObject({ status: 200, inputTokens: 5, outputTokens: 1 });

      const controller = new AbortController();
      const left = setup([{ stream: ['data: {"text":"a"}\n\n', 'data: {"text":"b"}\n\n'] }]);
      const leaving = await left.gateway.exchange(
        principal,
        thingsExchange('main/gpt-4o', true),
        left.options({ signal: controller.signal }),
      );
      if (leaving.kind !== 'stream') throw new Error('expected a stream');
      const reader = leaving.passthrough.toStream(() => new Uint8Array()).getReader();
      await reader.read();
      await reader.cancel();
      expect(left.bodies[0]!.destroyed).toBe(true);
      expect(left.usage.map((event) => event.status)).toEqual([499]);
    });
  });
});
