import { beforeAll, describe, expect, it } from 'vitest';
import { costOf, PriceCatalogue, pricesSchema } from './prices.ts';

// These read the real bundled catalogue: a package update that changes a price fails here on purpose,
// so whoever updates it sees what changed.
describe('PriceCatalogue', () => {
  const catalogue = new PriceCatalogue();
  beforeAll(() => catalogue.load());

  it('is not read before it is loaded (a server starts without it)', () => {
    expect(() => new PriceCatalogue().priceOf('openai', 'gpt-4o')).toThrow(/before load/);
    // What needs no catalogue answers at once: a credential's own price, a self-hosted model.
    expect(new PriceCatalogue().priceOf('openai', 'x', { x: { input: 1, output: 2 } })).toEqual({
      input: 1,
      output: 2,
    });
    expect(new PriceCatalogue().priceOf('ollama', 'llama3')).toEqual({ input: 0, output: 0 });
  });

  it('prices OpenAI models, dated ids included', () => {
    expect(catalogue.priceOf('openai', 'gpt-4o')).toEqual({ input: 2.5, output: 10, cachedInput: 1.25 });
    expect(catalogue.priceOf('openai', 'gpt-4o-2024-08-06')).toEqual({
      input: 2.5,
      output: 10,
      cachedInput: 1.25,
    });
    expect(catalogue.priceOf('openai', 'gpt-4o-mini-2024-07-18')).toEqual({
      input: 0.15,
      output: 0.6,
      cachedInput: 0.075,
    });
  });

  it('prices Claude Sonnet at its base tier, dated ids included', () => {
    const sonnet = { input: 3, output: 15, cachedInput: 0.3 };
    expect(catalogue.priceOf('anthropic', 'claude-sonnet-4-5')).toEqual(sonnet);
    expect(catalogue.priceOf('anthropic', 'claude-sonnet-4-5-20250929')).toEqual(sonnet);
    expect(catalogue.priceOf('anthropic', 'claude-3-5-sonnet-20241022')).toEqual(sonnet);
  });

  it('prices Gemini Flash under Keyway\'s "google" provider, with or without the models/ prefix', () => {
    const flash = { input: 0.3, output: 2.5, cachedInput: 0.03 };
    expect(catalogue.priceOf('google', 'gemini-2.5-flash')).toEqual(flash);
    expect(catalogue.priceOf('google', 'models/gemini-2.5-flash')).toEqual(flash);
  });

  it('maps Keyway provider ids to the catalogue: Azure and xAI', () => {
    expect(catalogue.priceOf('azure-openai', 'gpt-4o')).toMatchObject({ input: 2.5, output: 10 });
    expect(catalogue.priceOf('xai', 'grok-3')).toMatchObject({ input: 3, output: 15 });
  });

  it("prices OpenRouter's vendor-prefixed ids; a free route costs nothing", () => {
    expect(catalogue.priceOf('openrouter', 'anthropic/claude-3.5-sonnet')).toEqual({ input: 3, output: 15 });
    expect(catalogue.priceOf('openrouter', 'google/gemini-2.0-flash-exp:free')).toEqual({
      input: 0,
      output: 0,
    });
  });

  it('falls back to the vendor when the router does not list the model', () => {
    // OpenRouter's list has no gpt-3.5-turbo-0125; OpenAI's price is what the router charges.
    expect(catalogue.priceOf('openrouter', 'openai/gpt-3.5-turbo-0125')).toEqual({ input: 0.5, output: 1.5 });
  });

  it('prices self-hosted models at 0 unless the credential prices them', () => {
    expect(catalogue.priceOf('ollama', 'llama3.2')).toEqual({ input: 0, output: 0 });
    expect(catalogue.priceOf('openai-compatible', 'gpt-4o')).toEqual({ input: 0, output: 0 });
    expect(catalogue.priceOf('ollama', 'llama3.2', { 'llama3.2': { input: 0.1, output: 0.2 } })).toEqual({
      input: 0.1,
      output: 0.2,
    });
  });

  it('answers null for a model or provider nothing prices', () => {
    expect(catalogue.priceOf('openai', 'gpt-4o-but-not-really-a-model')).toBeNull();
    expect(catalogue.priceOf('azure-openai', 'my-deployment')).toBeNull();
    expect(catalogue.priceOf('some-future-provider', 'gpt-4o')).toBeNull();
  });

  it("lets a credential's prices win over the catalogue, and only for the model they name", () => {
    const overrides = { 'gpt-4o': { input: 1, output: 2 } };
    expect(catalogue.priceOf('openai', 'gpt-4o', overrides)).toEqual({ input: 1, output: 2 });
    expect(catalogue.priceOf('openai', 'gpt-4o-mini', overrides)).toMatchObject({ input: 0.15 });
    // The override did not poison the cache for credentials without one.
    expect(catalogue.priceOf('openai', 'gpt-4o')).toMatchObject({ input: 2.5 });
    expect(
      catalogue.priceOf('openai', 'unlisted-model', { 'unlisted-model': { input: 5, output: 6 } }),
    ).toEqual({
      input: 5,
      output: 6,
    });
  });

  it('answers a warm lookup from its cache (the same object) and drops the cache when the day changes', async () => {
    let now = Date.parse('2026-12-01T23:59:00Z');
    const dated = new PriceCatalogue({ now: () => now });
    await dated.load();
    const first = dated.priceOf('openai', 'gpt-4o');
    expect(dated.priceOf('openai', 'gpt-4o')).toBe(first);
    now = Date.parse('2026-12-02T00:01:00Z');
    const next = dated.priceOf('openai', 'gpt-4o');
    expect(next).not.toBe(first);
    expect(next).toEqual(first);
  });
});

describe('costOf', () => {
  it('bills input and output per million tokens', () => {
    expect(
      costOf({ input: 2.5, output: 10 }, { inputTokens: 1000, outputTokens: 500, cachedTokens: 0 }),
    ).toBeCloseTo(0.0075, 12);
  });

  it('bills cached input tokens, which are part of the input, at the cached price', () => {
    // 1,000 input of which 800 cached: 200 × 2.5 + 800 × 1.25 + 100 × 10, per million.
    expect(
      costOf(
        { input: 2.5, output: 10, cachedInput: 1.25 },
        { inputTokens: 1000, outputTokens: 100, cachedTokens: 800 },
      ),
    ).toBeCloseTo((200 * 2.5 + 800 * 1.25 + 100 * 10) / 1e6, 12);
  });

  it('bills cached tokens at the input price when the model has no cached price', () => {
    expect(
      costOf({ input: 3, output: 15 }, { inputTokens: 1000, outputTokens: 0, cachedTokens: 600 }),
    ).toBeCloseTo(0.003, 12);
  });

  it('never counts more cached tokens than input tokens', () => {
    expect(
      costOf(
        { input: 2, output: 0, cachedInput: 0 },
        { inputTokens: 100, outputTokens: 0, cachedTokens: 500 },
      ),
    ).toBe(0);
  });
});

describe('pricesSchema', () => {
  it('accepts prices per model', () => {
    const prices = {
      'gpt-4o': { input: 2.5, output: 10, cachedInput: 1.25 },
      'llama3.2': { input: 0, output: 0 },
    };
    expect(pricesSchema.parse(prices)).toEqual(prices);
  });

  it.each([
    ['a negative price', { m: { input: -1, output: 1 } }],
    ['an infinite price', { m: { input: Infinity, output: 1 } }],
    ['a price as text', { m: { input: '1', output: 1 } }],
    ['a missing output', { m: { input: 1 } }],
    ['an unknown field', { m: { input: 1, output: 1, currency: 'EUR' } }],
    ['an empty model id', { '': { input: 1, output: 1 } }],
    ['a list', [{ input: 1, output: 1 }]],
  ])('refuses %s', (_what, body) => {
    expect(pricesSchema.safeParse(body).success).toBe(false);
  });

  it('refuses more than 500 models', () => {
    const many = Object.fromEntries(
      Array.from({ length: 501 }, (_, i) => [`m${i}`, { input: 1, output: 1 }]),
    );
    expect(pricesSchema.safeParse(many).success).toBe(false);
    delete many.m500;
    expect(pricesSchema.safeParse(many).success).toBe(true);
  });
});
