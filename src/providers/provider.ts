import type { UpstreamPolicy } from './upstream-url-guard.ts';
import type { z } from 'zod';

/**
 * How a provider is spoken to. Most providers speak OpenAI's wire format and differ only in data
 * (base URL, key format); the others need code of their own.
 */
export type WireFormat = 'openai' | 'azure-openai' | 'anthropic' | 'google' | 'ollama';

/** One provider in the registry. Adding a provider is adding one of these: no migration. */
export interface ProviderDefinition {
  /** Stable id stored with every credential, e.g. `openai`, `azure-openai`. */
  id: string;
  /** Shown to people, e.g. `Azure OpenAI`. */
  label: string;
  wire: WireFormat;
  /** Where its API lives; absent when every credential must give `settings.baseUrl` (openai-compatible). */
  defaultBaseUrl?: string;
  /**
   * The credential's `settings` for this provider. Always accepts an optional `baseUrl` (http or https
   * URL overriding `defaultBaseUrl`); providers add their own fields (Azure `endpoint`, `deployment`,
   * `apiVersion`; OpenAI `organization`). Unknown fields are rejected.
   */
  settings: z.ZodType<Record<string, unknown>>;
  /** Whether a key is needed at all (a local Ollama needs none). */
  secret: 'required' | 'optional';
  /** What a key of this provider looks like; a key that does not match is accepted with a warning. */
  keyFormat?: { pattern: RegExp; description: string };
}

/** What a call to a provider needs: the provider, the decrypted secret and the credential's settings. */
export interface ProviderCall {
  provider: ProviderDefinition;
  secret: string | null;
  settings: Record<string, unknown>;
  /** Which addresses the call may reach (by the credential's owner); the client's default otherwise. */
  policy?: UpstreamPolicy;
}

export interface ModelInfo {
  id: string;
  ownedBy?: string;
}

/**
 * The outcome of listing a provider's models, which is also how a key is validated (the cheapest
 * authenticated call every provider has). `message` is safe to show: it never holds the secret.
 */
export type ModelListResult =
  | { ok: true; models: ModelInfo[] }
  | {
      ok: false;
      /** `unauthorized`: the provider rejected the key (401/403); the others say nothing about the key. */
      reason: 'unauthorized' | 'upstream_error' | 'unreachable' | 'blocked_url';
      status?: number;
      message: string;
    };
