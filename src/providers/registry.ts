import { z } from 'zod';
import type { ProviderDefinition } from './provider.ts';

/** The providers Keyway knows, by id. Adding one is a `register` call: no migration, no other code. */
export class ProviderRegistry {
  readonly #providers = new Map<string, ProviderDefinition>();

  /** Throws when the id is taken: two definitions for one id would make stored credentials ambiguous. */
  register(def: ProviderDefinition): void {
    if (this.#providers.has(def.id)) throw new Error(`A provider with id "${def.id}" is already registered.`);
    this.#providers.set(def.id, def);
  }

  get(id: string): ProviderDefinition | undefined {
    return this.#providers.get(id);
  }

  /** In registration order, which is the order people see them in. */
  list(): ProviderDefinition[] {
    return [...this.#providers.values()];
  }
}

/** An http(s) URL without credentials in it; `what` names the setting in messages. */
function httpUrl(what: string) {
  return z
    .string({
      error: (issue) => (issue.input === undefined ? `${what} is required.` : `${what} must be a URL.`),
    })
    .trim()
    .superRefine((value, context) => {
      let url: URL;
      try {
        url = new URL(value);
      } catch {
        context.addIssue({ code: 'custom', message: `${what} must be a URL such as https://host/path.` });
        return;
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        context.addIssue({ code: 'custom', message: `${what} must start with http:// or https://.` });
      }
      if (url.username !== '' || url.password !== '') {
        context.addIssue({
          code: 'custom',
          message: `${what} must not contain a user name or password; put the key in the credential instead.`,
        });
      }
      // Paths are appended to the base URL, so a query or fragment would end up in the wrong place.
      // The raw text is checked: `new URL('http://host/x#')` parses to an empty hash, yet a path
      // appended to that string lands in the fragment and the request goes to `/x`.
      if (url.search !== '' || url.hash !== '' || /[?#]/.test(value)) {
        context.addIssue({ code: 'custom', message: `${what} must not contain a query string or fragment.` });
      }
    });
}

const optionalText = (what: string) =>
  z
    .string({ error: `${what} must be text.` })
    .trim()
    .min(1, `${what} must not be empty.`)
    .optional();

const baseUrlOnly = z.strictObject({ baseUrl: httpUrl('The base URL').optional() });

const startsWith = (prefix: string) => ({
  pattern: new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`),
  description: `they start with ${prefix}`,
});

/** The shape most providers share: OpenAI's wire format at some base URL, differing only in data. */
function openAiWireProvider(options: {
  id: string;
  label: string;
  defaultBaseUrl: string;
  keyPrefix?: string;
}): ProviderDefinition {
  return {
    id: options.id,
    label: options.label,
    wire: 'openai',
    defaultBaseUrl: options.defaultBaseUrl,
    settings: baseUrlOnly,
    secret: 'required',
    ...(options.keyPrefix === undefined ? {} : { keyFormat: startsWith(options.keyPrefix) }),
  };
}

/** Azure's REST API version used when a credential does not name one (the current GA version). */
export const AZURE_DEFAULT_API_VERSION = '2024-10-21';

/** A registry holding the providers Keyway ships with. */
export function createDefaultRegistry(): ProviderRegistry {
  const registry = new ProviderRegistry();
  const definitions: ProviderDefinition[] = [
    {
      id: 'openai',
      label: 'OpenAI',
      wire: 'openai',
      defaultBaseUrl: 'https://api.openai.com/v1',
      settings: z.strictObject({
        baseUrl: httpUrl('The base URL').optional(),
        organization: optionalText('The organization'),
      }),
      secret: 'required',
      keyFormat: startsWith('sk-'),
    },
    {
      id: 'azure-openai',
      label: 'Azure OpenAI',
      wire: 'azure-openai',
      settings: z.strictObject({
        // Accepted so every provider takes one, but Azure URLs are built from `endpoint`.
        baseUrl: httpUrl('The base URL').optional(),
        endpoint: httpUrl('The endpoint (https://RESOURCE.openai.azure.com)'),
        deployment: optionalText('The deployment'),
        apiVersion: z
          .string({ error: 'The API version must be text such as 2024-10-21.' })
          .trim()
          .regex(/^[\w.-]+$/, 'The API version must look like 2024-10-21.')
          .default(AZURE_DEFAULT_API_VERSION),
      }),
      secret: 'required',
    },
    {
      id: 'anthropic',
      label: 'Anthropic',
      wire: 'anthropic',
      defaultBaseUrl: 'https://api.anthropic.com',
      settings: baseUrlOnly,
      secret: 'required',
      keyFormat: startsWith('sk-ant-'),
    },
    {
      id: 'google',
      label: 'Google Gemini',
      wire: 'google',
      defaultBaseUrl: 'https://generativelanguage.googleapis.com',
      settings: baseUrlOnly,
      secret: 'required',
      keyFormat: startsWith('AIza'),
    },
    openAiWireProvider({ id: 'mistral', label: 'Mistral', defaultBaseUrl: 'https://api.mistral.ai/v1' }),
    openAiWireProvider({
      id: 'groq',
      label: 'Groq',
      defaultBaseUrl: 'https://api.groq.com/openai/v1',
      keyPrefix: 'gsk_',
    }),
    openAiWireProvider({
      id: 'deepseek',
      label: 'DeepSeek',
      defaultBaseUrl: 'https://api.deepseek.com',
      keyPrefix: 'sk-',
    }),
    openAiWireProvider({ id: 'xai', label: 'xAI', defaultBaseUrl: 'https://api.x.ai/v1', keyPrefix: 'xai-' }),
    openAiWireProvider({
      id: 'openrouter',
      label: 'OpenRouter',
      defaultBaseUrl: 'https://openrouter.ai/api/v1',
      keyPrefix: 'sk-or-',
    }),
    openAiWireProvider({
      id: 'perplexity',
      label: 'Perplexity',
      defaultBaseUrl: 'https://api.perplexity.ai',
      keyPrefix: 'pplx-',
    }),
    openAiWireProvider({
      id: 'together',
      label: 'Together AI',
      defaultBaseUrl: 'https://api.together.xyz/v1',
    }),
    openAiWireProvider({
      id: 'fireworks',
      label: 'Fireworks AI',
      defaultBaseUrl: 'https://api.fireworks.ai/inference/v1',
      keyPrefix: 'fw_',
    }),
    {
      id: 'ollama',
      label: 'Ollama',
      wire: 'ollama',
      defaultBaseUrl: 'http://127.0.0.1:11434',
      settings: baseUrlOnly,
      // A local Ollama has no keys; one behind an authenticating proxy (or ollama.com) takes a bearer key.
      secret: 'optional',
    },
    {
      id: 'openai-compatible',
      label: 'OpenAI-compatible',
      wire: 'openai',
      settings: z.strictObject({ baseUrl: httpUrl('The base URL') }),
      secret: 'optional',
    },
  ];
  for (const definition of definitions) registry.register(definition);
  return registry;
}

export interface SettingsIssue {
  /** Dotted path of the offending field, `''` for the settings as a whole. */
  path: string;
  message: string;
}

/**
 * Validates a credential's settings for its provider: the provider's own schema, then the rules that
 * hold for every provider (a base URL when there is no default; an endpoint for Azure).
 */
export function parseSettings(
  def: ProviderDefinition,
  input: unknown,
): { ok: true; settings: Record<string, unknown> } | { ok: false; issues: SettingsIssue[] } {
  const parsed = def.settings.safeParse(input ?? {});
  if (!parsed.success) {
    const issues = parsed.error.issues.flatMap((issue): SettingsIssue[] => {
      if (issue.code === 'unrecognized_keys') {
        return issue.keys.map((key) => ({
          path: [...issue.path, key].join('.'),
          message: `${def.label} has no setting "${key}".`,
        }));
      }
      if (issue.code === 'invalid_type' && issue.path.length === 0) {
        return [{ path: '', message: 'Settings must be an object.' }];
      }
      return [{ path: issue.path.join('.'), message: issue.message }];
    });
    return { ok: false, issues };
  }
  const settings = parsed.data;
  if (def.wire === 'azure-openai' && typeof settings.endpoint !== 'string') {
    return { ok: false, issues: [{ path: 'endpoint', message: 'Azure OpenAI needs an endpoint.' }] };
  }
  if (
    def.wire !== 'azure-openai' &&
    def.defaultBaseUrl === undefined &&
    typeof settings.baseUrl !== 'string'
  ) {
    return {
      ok: false,
      issues: [{ path: 'baseUrl', message: `${def.label} has no default address: a base URL is required.` }],
    };
  }
  return { ok: true, settings };
}

/**
 * Where requests for this credential go, without a trailing slash: Azure's `endpoint`, otherwise the
 * credential's `baseUrl` or the provider's default. Expects settings that passed `parseSettings`.
 */
export function effectiveBaseUrl(def: ProviderDefinition, settings: Record<string, unknown>): string {
  const candidate =
    def.wire === 'azure-openai' ? settings.endpoint : (settings.baseUrl ?? def.defaultBaseUrl);
  if (typeof candidate !== 'string' || candidate === '') {
    throw new Error(`No base URL for provider "${def.id}": settings were not parsed with parseSettings.`);
  }
  return candidate.replace(/\/+$/, '');
}

/**
 * A warning when a key does not look like one of this provider's keys (it is saved anyway: formats
 * change and proxies issue their own), or `null` when it does or the provider has no known format.
 */
export function checkKeyFormat(def: ProviderDefinition, secret: string): string | null {
  if (def.keyFormat === undefined || def.keyFormat.pattern.test(secret)) return null;
  if (secret === '' && def.secret === 'optional') return null;
  return `This does not look like ${article(def.label)} ${def.label} key (${def.keyFormat.description}); saved anyway.`;
}

function article(label: string): 'a' | 'an' {
  // By sound: "an OpenAI key", "an xAI key" (said ex-A-I), "a Groq key".
  return /^[aeiou]/i.test(label) || /^x[A-Z]/.test(label) ? 'an' : 'a';
}
