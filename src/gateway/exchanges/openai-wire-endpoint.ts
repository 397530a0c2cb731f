import type { ExchangeTarget } from '../exchange.ts';

/**
 * Where an OpenAI-wire endpoint other than chat completions lives for one target, and the headers
 * that authenticate there: `{baseUrl}{path}` with a bearer key; Ollama's OpenAI API under `/v1`;
 * Azure's `{endpoint}/openai/deployments/{deployment}{path}?api-version=…` with `api-key`.
 *
 * Azure's deployment is the one the model names (`azure/text-embedding-3-small`), not the credential's
 * `deployment` setting: that one is the chat deployment, which serves no embeddings or audio.
 */
export function openAiWireEndpoint(
  target: ExchangeTarget,
  path: `/${string}`,
  contentType: string,
): { url: string; headers: Record<string, string> } {
  const { provider, settings, secret, baseUrl } = target;
  const headers: Record<string, string> = { 'content-type': contentType };
  if (provider.wire === 'azure-openai') {
    if (secret) headers['api-key'] = secret;
    const deployment = encodeURIComponent(target.model);
    const apiVersion = encodeURIComponent(String(settings.apiVersion));
    return { url: `${baseUrl}/openai/deployments/${deployment}${path}?api-version=${apiVersion}`, headers };
  }
  if (secret) headers.authorization = `Bearer ${secret}`;
  if (typeof settings.organization === 'string') headers['openai-organization'] = settings.organization;
  const base = provider.wire === 'ollama' && !baseUrl.endsWith('/v1') ? `${baseUrl}/v1` : baseUrl;
  return { url: `${base}${path}`, headers };
}
