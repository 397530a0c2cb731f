import { createServer } from 'node:http';
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { WireFormat } from '../../src/providers/provider.ts';

/**
 * Fake upstreams that speak each provider's real wire format (paths, auth headers, bodies and error
 * envelopes as the providers' documentation and observed responses show them), on a real socket.
 */
export interface FakeProviderOptions {
  wire: WireFormat;
  /** Keys the fake accepts. Empty: keys are not checked at all (a local Ollama or vLLM). */
  validKeys: string[];
  /** Model ids, without Google's `models/` prefix. */
  models?: string[];
  /** Answer every request with this status and the wire's own server-error envelope. */
  failWithStatus?: number;
  /** Largest page the fake returns, whatever the client asks for (Anthropic and Google paginate). */
  maxPageSize?: number;
  /** Put the rejected key in error messages, as some OpenAI-compatible servers do. */
  echoKeyInErrors?: boolean;
  /** Answer `GET /models` with a bare array, as Together AI does (openai wire only). */
  modelsAsBareArray?: boolean;
}

export interface RecordedRequest {
  method: string;
  /** Path and query string, as received. */
  path: string;
  headers: IncomingHttpHeaders;
}

export interface FakeProvider {
  /** What a credential's `baseUrl` (or Azure `endpoint`) would be; ends in `/v1` for the openai wire. */
  url: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

interface FakeRequest {
  method: string;
  url: URL;
  headers: IncomingHttpHeaders;
  body: string;
}

type WireHandler = (request: FakeRequest, response: ServerResponse, options: FakeProviderOptions) => void;

const HANDLERS: Record<WireFormat, WireHandler> = {
  openai: handleOpenAi,
  'azure-openai': handleAzureOpenAi,
  anthropic: handleAnthropic,
  google: handleGoogle,
  ollama: handleOllama,
};

const DEFAULT_MODELS: Record<WireFormat, string[]> = {
  openai: ['gpt-4o-mini', 'gpt-4o'],
  'azure-openai': ['gpt-4o', 'text-embedding-3-small'],
  anthropic: ['claude-sonnet-4-5-20250929', 'claude-haiku-4-5-20251001'],
  google: ['gemini-2.0-flash', 'gemini-2.5-pro'],
  ollama: ['llama3.2:latest', 'qwen2.5:7b'],
};

/** Starts a fake provider on 127.0.0.1 (a free port) that records every request it gets. */
export async function startFakeProvider(options: FakeProviderOptions): Promise<FakeProvider> {
  const requests: RecordedRequest[] = [];
  const handler = HANDLERS[options.wire];
  const server = createServer((incoming, response) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => {
      const path = incoming.url ?? '/';
      requests.push({ method: incoming.method ?? 'GET', path, headers: incoming.headers });
      handler(
        {
          method: incoming.method ?? 'GET',
          url: new URL(path, 'http://fake'),
          headers: incoming.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        },
        response,
        options,
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;
  return {
    url: options.wire === 'openai' ? `${origin}/v1` : origin,
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

function handleOpenAi(request: FakeRequest, response: ServerResponse, options: FakeProviderOptions): void {
  const openAiError = (status: number, message: string, type: string, code: string | null) =>
    sendJson(response, status, { error: { message, type, param: null, code } });
  const key = bearerToken(request.headers);
  const checkKeys = options.validKeys.length > 0;
  if (checkKeys && key === undefined) {
    return openAiError(
      401,
      "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're accessing the API from your browser and are prompted for a username and password. You can obtain an API key from https://platform.openai.com/account/api-keys.",
      'invalid_request_error',
      null,
    );
  }
  if (checkKeys && key !== undefined && !options.validKeys.includes(key)) {
    const shown = options.echoKeyInErrors ? key : `${key.slice(0, 3)}...${key.slice(-4)}`;
    return openAiError(
      401,
      `Incorrect API key provided: ${shown}. You can find your API key at https://platform.openai.com/account/api-keys.`,
      'invalid_request_error',
      'invalid_api_key',
    );
  }
  if (options.failWithStatus !== undefined) {
    return openAiError(
      options.failWithStatus,
      'The server had an error while processing your request. Sorry about that!',
      'server_error',
      null,
    );
  }
  if (request.method === 'GET' && request.url.pathname === '/v1/models') {
    const data = modelsOf(options).map((id) => ({
      id,
      object: 'model',
      created: 1715367049,
      owned_by: 'system',
    }));
    return sendJson(response, 200, options.modelsAsBareArray ? data : { object: 'list', data });
  }
  openAiError(404, `Invalid URL (${request.method} ${request.url.pathname})`, 'invalid_request_error', null);
}

function handleAzureOpenAi(
  request: FakeRequest,
  response: ServerResponse,
  options: FakeProviderOptions,
): void {
  const azureError = (status: number, code: string, message: string) =>
    sendJson(response, status, { error: { code, message } });
  const key = header(request.headers, 'api-key');
  if (options.validKeys.length > 0 && (key === undefined || !options.validKeys.includes(key))) {
    const message = options.echoKeyInErrors
      ? `Access denied for key ${key ?? ''}.`
      : 'Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.';
    return azureError(401, '401', message);
  }
  if (options.failWithStatus !== undefined) {
    return azureError(
      options.failWithStatus,
      'InternalServerError',
      'The service is temporarily unable to process your request. Please try again later.',
    );
  }
  // Azure answers a missing api-version with a plain 404, whatever the path.
  if (!request.url.searchParams.has('api-version')) return azureError(404, '404', 'Resource not found');
  if (request.method === 'GET' && request.url.pathname === '/openai/models') {
    const data = modelsOf(options).map((id) => ({
      status: 'succeeded',
      capabilities: {
        fine_tune: false,
        inference: true,
        completion: false,
        chat_completion: true,
        embeddings: false,
      },
      lifecycle_status: 'generally-available',
      deprecation: { inference: 1767225600 },
      id,
      created_at: 1715558400,
      object: 'model',
    }));
    return sendJson(response, 200, { data, object: 'list' });
  }
  azureError(404, '404', 'Resource not found');
}

function handleAnthropic(request: FakeRequest, response: ServerResponse, options: FakeProviderOptions): void {
  const anthropicError = (status: number, type: string, message: string) =>
    sendJson(response, status, {
      type: 'error',
      error: { type, message },
      request_id: 'req_011CFakeFakeFake',
    });
  const key = header(request.headers, 'x-api-key');
  const checkKeys = options.validKeys.length > 0;
  if (checkKeys && key === undefined) {
    return anthropicError(401, 'authentication_error', 'x-api-key header is required');
  }
  if (checkKeys && key !== undefined && !options.validKeys.includes(key)) {
    return anthropicError(
      401,
      'authentication_error',
      options.echoKeyInErrors ? `invalid x-api-key ${key}` : 'invalid x-api-key',
    );
  }
  if (header(request.headers, 'anthropic-version') === undefined) {
    return anthropicError(400, 'invalid_request_error', 'anthropic-version: header is required');
  }
  if (options.failWithStatus !== undefined)
    return anthropicError(options.failWithStatus, 'api_error', 'Internal server error');
  if (request.method === 'GET' && request.url.pathname === '/v1/models') {
    const limit = pageSize(request.url.searchParams.get('limit'), 20, options.maxPageSize);
    const ids = modelsOf(options);
    const afterId = request.url.searchParams.get('after_id');
    const start = afterId === null ? 0 : ids.indexOf(afterId) + 1;
    const data = ids.slice(start, start + limit).map((id) => ({
      type: 'model',
      id,
      display_name: id,
      created_at: '2025-09-29T00:00:00Z',
    }));
    return sendJson(response, 200, {
      data,
      has_more: start + limit < ids.length,
      first_id: data[0]?.id ?? null,
      last_id: data.at(-1)?.id ?? null,
    });
  }
  anthropicError(404, 'not_found_error', 'Not found');
}

function handleGoogle(request: FakeRequest, response: ServerResponse, options: FakeProviderOptions): void {
  const googleError = (status: number, googleStatus: string, message: string, details?: unknown[]) =>
    sendJson(response, status, {
      error: { code: status, message, status: googleStatus, ...(details ? { details } : {}) },
    });
  const key = header(request.headers, 'x-goog-api-key') ?? request.url.searchParams.get('key') ?? undefined;
  const checkKeys = options.validKeys.length > 0;
  if (checkKeys && key === undefined) {
    return googleError(
      403,
      'PERMISSION_DENIED',
      "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
    );
  }
  if (checkKeys && key !== undefined && !options.validKeys.includes(key)) {
    const message = 'API key not valid. Please pass a valid API key.';
    return googleError(400, 'INVALID_ARGUMENT', message, [
      {
        '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
        reason: 'API_KEY_INVALID',
        domain: 'googleapis.com',
        metadata: { service: 'generativelanguage.googleapis.com' },
      },
      { '@type': 'type.googleapis.com/google.rpc.LocalizedMessage', locale: 'en-US', message },
      // Google has been seen to echo the key here; the message above never holds it.
      ...(options.echoKeyInErrors
        ? [{ '@type': 'type.googleapis.com/google.rpc.DebugInfo', detail: `Invalid API key: ${key}` }]
        : []),
    ]);
  }
  if (options.failWithStatus !== undefined) {
    return googleError(
      options.failWithStatus,
      'INTERNAL',
      'An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting',
    );
  }
  if (request.method === 'GET' && request.url.pathname === '/v1beta/models') {
    const size = pageSize(request.url.searchParams.get('pageSize'), 50, options.maxPageSize);
    const ids = modelsOf(options);
    const start = Number(request.url.searchParams.get('pageToken') ?? '0');
    const models = ids.slice(start, start + size).map((id) => ({
      name: `models/${id}`,
      version: '001',
      displayName: id,
      description: `Fake ${id}`,
      inputTokenLimit: 1048576,
      outputTokenLimit: 8192,
      supportedGenerationMethods: ['generateContent', 'countTokens'],
      temperature: 1,
      topP: 0.95,
      topK: 40,
      maxTemperature: 2,
    }));
    const next = start + size < ids.length ? { nextPageToken: String(start + size) } : {};
    return sendJson(response, 200, { models, ...next });
  }
  googleError(404, 'NOT_FOUND', `Requested entity was not found.`);
}

function handleOllama(request: FakeRequest, response: ServerResponse, options: FakeProviderOptions): void {
  // Ollama has no keys; this models one behind an authenticating proxy, or ollama.com.
  if (options.validKeys.length > 0) {
    const key = bearerToken(request.headers);
    if (key === undefined || !options.validKeys.includes(key)) {
      return sendJson(response, 401, {
        error: options.echoKeyInErrors ? `unauthorized: ${key ?? ''}` : 'unauthorized',
      });
    }
  }
  if (options.failWithStatus !== undefined) {
    return sendJson(response, options.failWithStatus, {
      error: 'llama runner process has terminated: exit status 2',
    });
  }
  if (request.method === 'GET' && request.url.pathname === '/api/tags') {
    const models = modelsOf(options).map((name) => ({
      name,
      model: name,
      modified_at: '2025-05-01T10:00:00.000000000Z',
      size: 2019393189,
      digest: 'a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72',
      details: {
        parent_model: '',
        format: 'gguf',
        family: 'llama',
        families: ['llama'],
        parameter_size: '3.2B',
        quantization_level: 'Q4_K_M',
      },
    }));
    return sendJson(response, 200, { models });
  }
  // Ollama's router answers unknown paths in plain text.
  response.writeHead(404, { 'content-type': 'text/plain' }).end('404 page not found');
}

function modelsOf(options: FakeProviderOptions): string[] {
  return options.models ?? DEFAULT_MODELS[options.wire];
}

function pageSize(asked: string | null, fallback: number, max: number | undefined): number {
  const wanted = asked === null ? fallback : Math.min(Number(asked), 1000);
  return max === undefined ? wanted : Math.min(wanted, max);
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function bearerToken(headers: IncomingHttpHeaders): string | undefined {
  return /^Bearer (.+)$/i.exec(header(headers, 'authorization') ?? '')?.[1];
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}
