import type { WireFormat } from '../../providers/provider.ts';
import type { ProviderAdapter } from './adapter.ts';
import { anthropicAdapter } from './anthropic.ts';
import { googleAdapter } from './google.ts';

/** Wire formats Keyway translates; every other wire is OpenAI's, passed through. */
export const TRANSLATING_ADAPTERS: Partial<Record<WireFormat, ProviderAdapter>> = {
  anthropic: anthropicAdapter,
  google: googleAdapter,
};
