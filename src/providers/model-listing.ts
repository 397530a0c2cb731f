import { z } from 'zod';
import { appVersion } from '../version.ts';
import type { ModelInfo, ModelListResult, ProviderCall, WireFormat } from './provider.ts';
import {
  describeBody,
  providerErrorText,
  REDACTED,
  type ErrorEnvelopeFormat,
} from './provider-error-text.ts';
import { AZURE_DEFAULT_API_VERSION, effectiveBaseUrl } from './registry.ts';
import { UpstreamBlockedError } from './upstream-client.ts';
import type { UpstreamClient, UpstreamResponse } from './upstream-client.ts';

const LIST_TIMEOUT_MS = 20_000;
/** Bounds a provider whose pagination never ends; real lists fit in one or two pages of 1000. */
const MAX_PAGES = 20;

interface Page {
  models: ModelInfo[];
  /** Where the next page starts, when there is one. */
  cursor?: string;
}

/** How one wire format lists models: the request for a page, and the page read from a 2xx body. */
interface ModelLister {
  url(cursor: string | undefined): string;
  headers: Record<string, string>;
  /** `undefined` when the body is not this provider's model list. */
  page(body: unknown): Page | undefined;
}

type Failure = Extract<ModelListResult, { ok: false }>;

/**
 * Lists the models a credential can use with the provider's cheapest authenticated call, which is
 * also how a key is validated. Never throws for upstream trouble (the result says what went wrong,
 * without the secret); rejects only when `options.signal` aborts, since then nobody wants the answer.
 */
export async function listModels(
  call: ProviderCall,
  client: Pick<UpstreamClient, 'request'>,
  options: { signal?: AbortSignal } = {},
): Promise<ModelListResult> {
  const lister = LISTERS[call.provider.wire](call, effectiveBaseUrl(call.provider, call.settings));
  const models: ModelInfo[] = [];
  let cursor: string | undefined;
  for (let pages = 0; pages < MAX_PAGES; pages++) {
    const fetched = await fetchPage(call, client, lister.url(cursor), lister, options.signal);
    if (!fetched.ok) return fetched;
    models.push(...fetched.page.models);
    cursor = fetched.page.cursor;
    if (cursor === undefined) break;
  }
  return { ok: true, models };
}

const LISTERS: Record<WireFormat, (call: ProviderCall, base: string) => ModelLister> = {
  openai: openAiLister,
  'azure-openai': azureOpenAiLister,
  anthropic: anthropicLister,
  google: googleLister,
  ollama: ollamaLister,
};

const openAiModel = z.object({
  id: z.string(),
  owned_by: z.string().nullish(),
  organization: z.string().nullish(),
});
// Together AI answers with a bare array where OpenAI has `{object: 'list', data: [...]}`.
const openAiModelList = z.union([z.object({ data: z.array(openAiModel) }), z.array(openAiModel)]);

function openAiLister(call: ProviderCall, base: string): ModelLister {
  const organization = call.settings.organization;
  return {
    url: () => `${base}/models`,
    headers: {
      ...commonHeaders(),
      ...(call.secret ? { authorization: `Bearer ${call.secret}` } : {}),
      ...(typeof organization === 'string' ? { 'openai-organization': organization } : {}),
    },
    page(body) {
      const parsed = openAiModelList.safeParse(body);
      if (!parsed.success) return undefined;
      const list = Array.isArray(parsed.data) ? parsed.data : parsed.data.data;
      return {
        models: list.map((model) => withOwner(model.id, model.owned_by ?? model.organization)),
      };
    },
  };
}

const azureModelList = z.object({ data: z.array(z.object({ id: z.string() })) });

function azureOpenAiLister(call: ProviderCall, endpoint: string): ModelLister {
  const apiVersion = call.settings.apiVersion;
  const url = new URL(`${endpoint}/openai/models`);
  url.searchParams.set(
    'api-version',
    typeof apiVersion === 'string' ? apiVersion : AZURE_DEFAULT_API_VERSION,
  );
  return {
    url: () => url.href,
    headers: { ...commonHeaders(), ...(call.secret ? { 'api-key': call.secret } : {}) },
    page(body) {
      const parsed = azureModelList.safeParse(body);
      return parsed.success ? { models: parsed.data.data.map((model) => ({ id: model.id })) } : undefined;
    },
  };
}

const anthropicModelList = z.object({
  data: z.array(z.object({ id: z.string() })),
  has_more: z.boolean().optional(),
  last_id: z.string().nullish(),
});

function anthropicLister(call: ProviderCall, base: string): ModelLister {
  return {
    url(cursor) {
      const url = new URL(`${base}/v1/models`);
      url.searchParams.set('limit', '1000');
      if (cursor !== undefined) url.searchParams.set('after_id', cursor);
      return url.href;
    },
    headers: {
      ...commonHeaders(),
      'anthropic-version': '2023-06-01',
      ...(call.secret ? { 'x-api-key': call.secret } : {}),
    },
    page(body) {
      const parsed = anthropicModelList.safeParse(body);
      if (!parsed.success) return undefined;
      const { data, has_more: hasMore, last_id: lastId } = parsed.data;
      return {
        models: data.map((model) => withOwner(model.id, 'anthropic')),
        ...(hasMore && lastId ? { cursor: lastId } : {}),
      };
    },
  };
}

const googleModelList = z.object({
  // Omitted, not empty, when there are none.
  models: z.array(z.object({ name: z.string() })).optional(),
  nextPageToken: z.string().optional(),
});

function googleLister(call: ProviderCall, base: string): ModelLister {
  return {
    url(cursor) {
      const url = new URL(`${base}/v1beta/models`);
      url.searchParams.set('pageSize', '1000');
      if (cursor !== undefined) url.searchParams.set('pageToken', cursor);
      return url.href;
    },
    headers: { ...commonHeaders(), ...(call.secret ? { 'x-goog-api-key': call.secret } : {}) },
    page(body) {
      const parsed = googleModelList.safeParse(body);
      if (!parsed.success) return undefined;
      const { models = [], nextPageToken } = parsed.data;
      return {
        models: models.map((model) => withOwner(model.name.replace(/^models\//, ''), 'google')),
        ...(nextPageToken ? { cursor: nextPageToken } : {}),
      };
    },
  };
}

const ollamaModelList = z.object({ models: z.array(z.object({ name: z.string() })) });

function ollamaLister(call: ProviderCall, base: string): ModelLister {
  return {
    url: () => `${base}/api/tags`,
    // Ollama itself takes no key; one behind an authenticating proxy (or ollama.com) takes a bearer key.
    headers: { ...commonHeaders(), ...(call.secret ? { authorization: `Bearer ${call.secret}` } : {}) },
    page(body) {
      const parsed = ollamaModelList.safeParse(body);
      return parsed.success ? { models: parsed.data.models.map((model) => ({ id: model.name })) } : undefined;
    },
  };
}

function commonHeaders(): Record<string, string> {
  return { accept: 'application/json', 'user-agent': `Keyway/${appVersion()}` };
}

function withOwner(id: string, ownedBy: string | null | undefined): ModelInfo {
  return ownedBy ? { id, ownedBy } : { id };
}

async function fetchPage(
  call: ProviderCall,
  client: Pick<UpstreamClient, 'request'>,
  url: string,
  lister: ModelLister,
  signal: AbortSignal | undefined,
): Promise<{ ok: true; page: Page } | Failure> {
  const label = call.provider.label;
  const safe = (message: string) => scrub(message, call.secret);
  try {
    const response = await client.request({
      url,
      method: 'GET',
      headers: lister.headers,
      timeoutMs: LIST_TIMEOUT_MS,
      ...(call.policy ? { policy: call.policy } : {}),
      ...(signal ? { signal } : {}),
    });
    const text = await response.text();
    const { status } = response;
    if (status < 200 || status > 299) return errorAnswer(call, status, response.headers, text);
    const page = lister.page(parseJson(text));
    if (page === undefined) {
      // Not quoted: a base URL pointing at some other service would otherwise read its pages back.
      const message = `${label} answered with something that is not a model list (${describeBody(text, contentType(response.headers))}); check the base URL.`;
      return { ok: false, reason: 'upstream_error', status, message };
    }
    return { ok: true, page };
  } catch (error) {
    if (signal?.aborted) throw error;
    if (error instanceof UpstreamBlockedError) {
      return {
        ok: false,
        reason: 'blocked_url',
        message: safe(`Keyway will not call ${label} there: ${error.message}`),
      };
    }
    const where = new URL(url).origin;
    return {
      ok: false,
      reason: 'unreachable',
      message: safe(`Could not reach ${label} at ${where}: ${connectionProblem(error)}`),
    };
  }
}

/** Whose error envelope each wire's answers carry (Azure's is OpenAI's). */
const ERROR_FORMATS: Record<WireFormat, ErrorEnvelopeFormat> = {
  openai: 'openai',
  'azure-openai': 'openai',
  anthropic: 'anthropic',
  google: 'gemini',
  ollama: 'ollama',
};

/**
 * An error answer: the provider's own message when the body is its envelope, otherwise a description
 * of the body (whatever answered may be another service, whose pages are not the provider's to relay).
 */
function errorAnswer(
  call: ProviderCall,
  status: number,
  headers: UpstreamResponse['headers'],
  text: string,
): Failure {
  const label = call.provider.label;
  const safe = (message: string) => scrub(message, call.secret);
  if (status >= 300 && status < 400) {
    const message = `${label} answered HTTP ${status}: a redirect, which Keyway does not follow; check the base URL.`;
    return { ok: false, reason: 'upstream_error', status, message };
  }
  const error = providerErrorText(
    ERROR_FORMATS[call.provider.wire],
    { status, body: text, contentType: contentType(headers) },
    { who: label, secret: call.secret },
  );
  // 401/403 everywhere; Google answers a wrong key with 400 INVALID_ARGUMENT, reason API_KEY_INVALID.
  const keyRejected =
    status === 401 ||
    status === 403 ||
    (status === 400 &&
      error.relayed &&
      'reasons' in error.details &&
      error.details.reasons.includes('API_KEY_INVALID'));
  if (keyRejected) {
    const verb = call.secret ? 'rejected the key' : 'wants a key';
    return { ok: false, reason: 'unauthorized', status, message: safe(`${label} ${verb}: ${error.message}`) };
  }
  const message = error.relayed ? `${label} answered HTTP ${status}: ${error.message}` : error.message;
  return { ok: false, reason: 'upstream_error', status, message: safe(message) };
}

function contentType(headers: UpstreamResponse['headers']): string | undefined {
  const value = headers['content-type'];
  return Array.isArray(value) ? value[0] : value;
}

function connectionProblem(error: unknown): string {
  const code = errorCode(error) ?? errorCode(error instanceof Error ? error.cause : undefined);
  const name = error instanceof Error ? error.name : '';
  if (name === 'TimeoutError') return `no complete answer within ${LIST_TIMEOUT_MS / 1000} s.`;
  switch (code) {
    case 'ECONNREFUSED':
      return 'the connection was refused (is it running, on that port?).';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'the host name does not resolve.';
    case 'ETIMEDOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
      return 'connecting timed out.';
    case 'UND_ERR_HEADERS_TIMEOUT':
      return 'no answer arrived in time.';
    case 'UND_ERR_BODY_TIMEOUT':
      return 'the answer stalled.';
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET':
      return 'the connection closed unexpectedly.';
    default:
      return error instanceof Error ? error.message : String(error);
  }
}

function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined;
  return typeof error.code === 'string' ? error.code : undefined;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function scrub(text: string, secret: string | null): string {
  if (!secret) return text;
  // Inside a JSON body the secret may appear with JSON escapes applied.
  const escaped = JSON.stringify(secret).slice(1, -1);
  return text.split(secret).join(REDACTED).split(escaped).join(REDACTED);
}
