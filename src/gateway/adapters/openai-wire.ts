import type { ProviderDefinition } from '../../providers/provider.ts';
import type { Usage } from '../openai-types.ts';
import type { AdapterInput, UpstreamCall, UpstreamErrorInfo } from './adapter.ts';

/**
 * OpenAI-wire upstreams (OpenAI, Azure OpenAI, Ollama and every OpenAI-compatible provider): the body
 * goes through as the client sent it, but for `model`, so fields Keyway does not know survive; the
 * response is forwarded byte for byte.
 */
export function buildOpenAiWireCall(input: AdapterInput, rawBody: Record<string, unknown>): UpstreamCall {
  const { provider, settings, secret, model } = input;
  const body = JSON.stringify({ ...rawBody, model });
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (provider.wire === 'azure-openai') {
    // Azure addresses a deployment, not a model; the deployment defaults to the model name.
    const deployment = encodeURIComponent(String(settings.deployment ?? model));
    const apiVersion = encodeURIComponent(String(settings.apiVersion));
    if (secret) headers['api-key'] = secret;
    return {
      url: `${input.baseUrl}/openai/deployments/${deployment}/chat/completions?api-version=${apiVersion}`,
      headers,
      body,
    };
  }
  if (secret) headers.authorization = `Bearer ${secret}`;
  if (typeof settings.organization === 'string') headers['openai-organization'] = settings.organization;
  return { url: `${chatBase(provider, input.baseUrl)}/chat/completions`, headers, body };
}

/** Ollama's OpenAI-compatible API lives under /v1 of its base URL. */
function chatBase(provider: ProviderDefinition, baseUrl: string): string {
  return provider.wire === 'ollama' && !baseUrl.endsWith('/v1') ? `${baseUrl}/v1` : baseUrl;
}

/** An OpenAI-style error body, as the provider sent it (message capped, never echoed whole). */
export function translateOpenAiWireError(status: number, text: string): UpstreamErrorInfo {
  try {
    const parsed = JSON.parse(text) as {
      error?: { message?: unknown; type?: unknown; code?: unknown } | string;
      message?: unknown;
    };
    const error = typeof parsed.error === 'string' ? { message: parsed.error } : parsed.error;
    const message =
      typeof error?.message === 'string'
        ? error.message
        : typeof parsed.message === 'string'
          ? parsed.message
          : undefined;
    if (message) {
      return {
        message: message.slice(0, 500),
        type:
          typeof error?.type === 'string'
            ? error.type
            : status >= 500
              ? 'api_error'
              : 'invalid_request_error',
        code: typeof error?.code === 'string' ? error.code : null,
      };
    }
  } catch {
    // not JSON: fall through
  }
  // Not an error envelope: described, never quoted (a wrong base URL could point at another service).
  return {
    message: `The provider answered HTTP ${status} with ${text.trim() ? `${Buffer.byteLength(text)} bytes that are not an error message` : 'an empty body'}.`,
    type: status >= 500 ? 'api_error' : 'invalid_request_error',
    code: null,
  };
}

/** The `usage` of a chat completion or of the final `include_usage` chunk, if the text holds one. */
export function usageIn(json: string): Usage | null {
  const at = json.lastIndexOf('"usage"');
  if (at === -1) return null;
  // Parse only the usage object (it nests one level: prompt/completion token details).
  const match = /^"usage"\s*:\s*(\{(?:[^{}]|\{[^{}]*\})*\})/.exec(json.slice(at));
  if (!match) return null;
  try {
    const usage = JSON.parse(match[1]!) as Usage;
    return typeof usage.prompt_tokens === 'number' ? usage : null;
  } catch {
    return null;
  }
}
