import { z } from 'zod';
import { appVersion } from '../version.ts';
import type { ModelInfo, ModelListResult, ProviderCall, WireFormat } from './provider.ts';
import { AZURE_DEFAULT_API_VERSION, effectiveBaseUrl } from './registry.ts';
import { UpstreamBlockedError } from './upstream-client.ts';
import type { UpstreamClient, UpstreamResponse } from './upstream-client.ts';

const LIST_TIMEOUT_MS = 20_000;
/** Bounds a provider whose pagination never ends; real lists fit in one or two pages of 1000. */
const MAX_PAGES = 20;
/** Upstream text is quoted in messages up to this length: enough for an error message, not a page. */
const MAX_DETAIL_CHARS = 300;
const REDACTED = '[REDACTED]';

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
    if (status < 200 || status > 299) {
      const detail = quote(errorDetail(status, response.headers, text), call.secret);
      if (isKeyRejection(call.provider.wire, status, text)) {
        const verb = call.secret ? 'rejected the key' : 'wants a key';
        return { ok: false, reason: 'unauthorized', status, message: safe(`${label} ${verb}: ${detail}`) };
      }
      return {
        ok: false,
        reason: 'upstream_error',
        status,
        message: safe(`${label} answered HTTP ${status}: ${detail}`),
      };
    }
    const page = lister.page(parseJson(text));
    if (page === undefined) {
      // Not quoted: a base URL pointing at some other service would otherwise read its pages back.
      const message = `${label} answered with something that is not a model list (${describeBody(response.headers, text)}); check the base URL.`;
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

/** 401/403 everywhere; Google answers a wrong key with 400 INVALID_ARGUMENT, reason API_KEY_INVALID. */
function isKeyRejection(wire: WireFormat, status: number, text: string): boolean {
  if (status === 401 || status === 403) return true;
  if (wire !== 'google' || status !== 400) return false;
  const parsed = googleErrorReasons.safeParse(parseJson(text));
  return parsed.success && parsed.data.error.details.some((detail) => detail.reason === 'API_KEY_INVALID');
}

const googleErrorReasons = z.object({
  error: z.object({ details: z.array(z.looseObject({ reason: z.string().optional() })) }),
});

// OpenAI, Azure, Anthropic and Google nest `{message}` under `error`; Ollama's `error` is the text;
// other OpenAI-compatible servers use a top-level `message` or FastAPI's `detail`.
const errorEnvelope = z.union([
  z.object({ error: z.object({ message: z.string() }) }),
  z.object({ error: z.string() }),
  z.object({ message: z.string() }),
  z.object({ detail: z.string() }),
]);

/**
 * The message of a provider's error envelope. Anything else is described, never quoted: the body of
 * whatever answered (a redirect page, another service's JSON) is not the provider's to relay.
 */
function errorDetail(status: number, headers: UpstreamResponse['headers'], text: string): string {
  const parsed = errorEnvelope.safeParse(parseJson(text));
  if (!parsed.success) {
    if (status >= 300 && status < 400) return 'a redirect, which Keyway does not follow; check the base URL.';
    return `a response that is not a provider error (${describeBody(headers, text)}); check the base URL.`;
  }
  const envelope = parsed.data;
  if ('detail' in envelope) return envelope.detail;
  if ('message' in envelope) return envelope.message;
  return typeof envelope.error === 'string' ? envelope.error : envelope.error.message;
}

/** `empty`, or `1234 bytes of text/html`: what came back, without its content. */
function describeBody(headers: UpstreamResponse['headers'], text: string): string {
  if (text.trim() === '') return 'empty';
  const type = /^[\w.+-]+\/[\w.+-]+/.exec(String(headers['content-type'] ?? ''))?.[0] ?? 'an unknown type';
  return `${Buffer.byteLength(text)} bytes of ${type}`;
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

/** Upstream text made fit for a message: secret removed, whitespace collapsed, length capped. */
function quote(text: string, secret: string | null): string {
  const flat = scrub(text, secret).replace(/\s+/g, ' ').trim();
  return flat.length > MAX_DETAIL_CHARS ? `${flat.slice(0, MAX_DETAIL_CHARS - 1)}…` : flat;
}

function scrub(text: string, secret: string | null): string {
  if (!secret) return text;
  // Inside a JSON body the secret may appear with JSON escapes applied.
  const escaped = JSON.stringify(secret).slice(1, -1);
  return text.split(secret).join(REDACTED).split(escaped).join(REDACTED);
}
