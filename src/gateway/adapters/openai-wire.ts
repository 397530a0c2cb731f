import type { ProviderDefinition } from '../../providers/provider.ts';
import { providerErrorText } from '../../providers/provider-error-text.ts';
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

/**
 * An OpenAI-wire error answer in OpenAI's terms: the message of an OpenAI-style envelope, or a
 * description of a body that is not one (see `providerErrorText`).
 */
export function translateOpenAiWireError(status: number, text: string): UpstreamErrorInfo {
  const fallbackType = status >= 500 ? 'api_error' : 'invalid_request_error';
  const error = providerErrorText('openai', { status, body: text }, { who: 'The provider' });
  if (!error.relayed) return { message: error.message, type: fallbackType, code: null };
  return { message: error.message, type: error.details.type ?? fallbackType, code: error.details.code };
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
