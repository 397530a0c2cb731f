import { APIUserAbortError } from 'openai';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startFakeMeteredOpenAi, type FakeMeteredOpenAi } from './fakes/fake-metered-openai.ts';
import { fakeKey, startGatewayHarness, type GatewayHarness } from './support/gateway-harness.ts';
import { BACKENDS } from './support/test-database.ts';

/** $1 per thousand tokens, input and output alike, so costs read as token counts. */
const PRICE_PER_TOKEN = 0.001;
const MAX_TOKENS = 50;
/** A full answer: 40 pieces of one token, 30 ms apart (well over a second in all). */
const PIECES = 40;

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe.each(BACKENDS)('a client that disconnects mid-stream under a USD budget [%s]', (backend) => {
  const key = fakeKey();
  let upstream: FakeMeteredOpenAi;
  let gateway: GatewayHarness;

  beforeEach(async () => {
    upstream = await startFakeMeteredOpenAi({ validKey: key, pieces: PIECES, delayMs: 30 });
    gateway = await startGatewayHarness(backend);
  });
  afterEach(async () => {
    await gateway?.stop();
    await upstream?.close();
  });

  it('pays for what was streamed, and its reservation is released for the next request', async () => {
    const admin = await gateway.user('admin', 'admin');
    const bob = await gateway.user('bob');
    const credential = await gateway.credential(admin.token, {
      name: 'lab',
      provider: 'openai-compatible',
      secret: key,
      settings: { baseUrl: upstream.url },
      prices: { 'model-x': { input: 1_000, output: 1_000 } },
    });

    const messages = [
      {
        role: 'user' as const,
        content:
          'Tell me, at some length and in plain words, how a lighthouse keeper of the nineteenth century ' +
          'spent an ordinary winter night: the lamp, the clockwork, the log book, the weather, the ships ' +
          'passing far out, and what went through his mind in the small hours before the dawn came up.',
      },
    ];
    // What Keyway reserves: the request's size bounds its input, plus its max_tokens (a few bytes more
    // per message on top, which only makes the reservation larger).
    const reserveUsd = (Buffer.byteLength(JSON.stringify(messages)) + MAX_TOKENS) * PRICE_PER_TOKEN;
    const full = upstream.usageFor(messages, MAX_TOKENS);
    const fullUsd = (full.prompt_tokens + full.completion_tokens) * PRICE_PER_TOKEN;
    // Room for one reservation and what a cut stream costs, but not for two reservations at once.
    const budget = Math.round(1.6 * reserveUsd * 1e6) / 1e6;
    expect(2 * reserveUsd).toBeGreaterThan(budget);

    const grant = await gateway.call('POST', `/api/credentials/${credential.id}/grants`, {
      token: admin.token,
      body: { subject: { type: 'everyone' }, limits: { usd: { amount: budget, period: 'month' } } },
    });
    expect(grant.status).toBe(201);
    const spentUsd = async () => {
      const listed = await gateway.call('GET', `/api/credentials/${credential.id}/grants`, {
        token: admin.token,
      });
      expect(listed.status).toBe(200);
      return listed.body.grants[0].spent.usd as number;
    };

    const client = gateway.client(bob.token);
    const abort = new AbortController();
    const stream = await client.chat.completions.create(
      {
        model: 'lab/model-x',
        messages,
        max_tokens: MAX_TOKENS,
        stream: true,
        stream_options: { include_usage: true },
      },
      { signal: abort.signal },
    );
    let received = 0;
    try {
      for await (const chunk of stream) {
        expect(chunk.usage ?? null).toBeNull();
        if (chunk.choices[0]?.delta.content) received++;
        if (received === 3) abort.abort();
      }
    } catch (error) {
      // Depending on where the abort lands, the SDK ends the iteration or throws its abort error.
      expect(error).toBeInstanceOf(APIUserAbortError);
    }
    expect(received).toBe(3);
    const [cut] = await upstream.arrived(1);
    expect(await cut!.ended).toBe('aborted');
    expect(cut!.piecesSent).toBeLessThan(PIECES);

    // Charged once Keyway sees the client gone: more than nothing, less than the whole answer.
    const spentAfterCut = await until('the cut stream to be charged', async () => {
      const spent = await spentUsd();
      return spent > 0 ? spent : undefined;
    });
    expect(spentAfterCut).toBeLessThanOrEqual(fullUsd);
    const row = await until('the usage row', async () => {
      const rows = await gateway.database.db
        .selectFrom('usage_events')
        .select(['status', 'input_tokens', 'output_tokens', 'cost_usd'])
        .where('credential_id', '=', credential.id)
        .execute();
      return rows[0];
    });
    expect(row.status).toBe(499);
    // One token per chunk relayed: at least the three the client read, at most what the upstream sent
    // (and its first, role-only chunk).
    expect(row.output_tokens!).toBeGreaterThanOrEqual(3);
    expect(row.output_tokens!).toBeLessThanOrEqual(cut!.piecesSent + 1);
    expect(row.output_tokens!).toBeLessThan(full.completion_tokens);
    expect(row.input_tokens!).toBeGreaterThan(0);
    expect(Number(row.cost_usd)).toBeCloseTo(spentAfterCut, 6);
    expect(Number(row.cost_usd)).toBeLessThanOrEqual(fullUsd);
    // …and the budget still holds a second reservation only if the first one was given back.
    expect(spentAfterCut + reserveUsd).toBeLessThan(budget);

    const next = await client.chat.completions.create({
      model: 'lab/model-x',
      messages,
      max_tokens: MAX_TOKENS,
    });
    expect(next.usage).toMatchObject(full);
    const spentAfterNext = await spentUsd();
    expect(spentAfterNext).toBeCloseTo(spentAfterCut + fullUsd, 6);
    expect(spentAfterNext).toBeLessThanOrEqual(budget);

    // A request whose reservation no longer fits what is left is refused, as the contract says.
    const bigger = 4 * MAX_TOKENS;
    expect(spentAfterNext + reserveUsd + (bigger - MAX_TOKENS) * PRICE_PER_TOKEN).toBeGreaterThan(budget);
    const refused = await gateway.call('POST', '/v1/chat/completions', {
      token: bob.token,
      body: { model: 'lab/model-x', messages, max_tokens: bigger },
    });
    expect(refused.status).toBe(429);
    expect(refused.body.error).toMatchObject({ code: 'budget_exceeded', type: 'insufficient_quota' });
  });
});
