import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startFakeProvider } from '../../test/fakes/fake-providers.ts';
import type { FakeProvider, FakeProviderOptions } from '../../test/fakes/fake-providers.ts';
import { listModels } from './model-listing.ts';
import { MAX_PROVIDER_MESSAGE_CHARS } from './provider-error-text.ts';
import type { ProviderCall, WireFormat } from './provider.ts';
import { createDefaultRegistry, parseSettings } from './registry.ts';
import { createUpstreamClient } from './upstream-client.ts';
import type { UpstreamClient } from './upstream-client.ts';

const registry = createDefaultRegistry();
// The default policy: loopback allowed so local models work; the fakes live on 127.0.0.1.
const client = createUpstreamClient({ allowLoopback: true, allowPrivate: false });
const strictClient = createUpstreamClient({ allowLoopback: false, allowPrivate: false });
const fakes: FakeProvider[] = [];

afterEach(async () => {
  await Promise.all(fakes.splice(0).map((fake) => fake.close()));
});
afterAll(async () => {
  await Promise.all([client.close(), strictClient.close()]);
});

async function fake(options: FakeProviderOptions): Promise<FakeProvider> {
  const started = await startFakeProvider(options);
  fakes.push(started);
  return started;
}

/** A call as the credential service would build it: settings through `parseSettings`. */
function callFor(
  providerId: string,
  url: string,
  secret: string | null,
  extra: Record<string, unknown> = {},
): ProviderCall {
  const provider = registry.get(providerId);
  if (provider === undefined) throw new Error(`no provider ${providerId}`);
  const location = provider.wire === 'azure-openai' ? { endpoint: url } : { baseUrl: url };
  const parsed = parseSettings(provider, { ...location, ...extra });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
  return { provider, secret, settings: parsed.settings };
}

async function closedPortUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

interface WireCase {
  wire: WireFormat;
  providerId: string;
  key: string;
  wrongKey: string;
  /** The path (and query) the provider's model listing lives at, and the header carrying the key. */
  path: string;
  keyHeader: [name: string, value: string];
  /** What the user reads when the provider rejects the wrong key. */
  rejection: string;
  rejectionStatus: number;
}

const cases: WireCase[] = [
  {
    wire: 'openai',
    providerId: 'openai',
    key: 'sk-proj-valid0000000000000001',
    wrongKey: 'sk-proj-wrong000000000000001',
    path: '/v1/models',
    keyHeader: ['authorization', 'Bearer sk-proj-valid0000000000000001'],
    rejection:
      'OpenAI rejected the key: Incorrect API key provided: sk-...0001. You can find your API key at https://platform.openai.com/account/api-keys.',
    rejectionStatus: 401,
  },
  {
    wire: 'azure-openai',
    providerId: 'azure-openai',
    key: '0123456789abcdef0123456789abcdef',
    wrongKey: 'fedcba9876543210fedcba9876543210',
    path: '/openai/models?api-version=2024-10-21',
    keyHeader: ['api-key', '0123456789abcdef0123456789abcdef'],
    rejection:
      'Azure OpenAI rejected the key: Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.',
    rejectionStatus: 401,
  },
  {
    wire: 'anthropic',
    providerId: 'anthropic',
    key: 'sk-ant-api03-valid-key-0001',
    wrongKey: 'sk-ant-api03-wrong-key-0001',
    path: '/v1/models?limit=1000',
    keyHeader: ['x-api-key', 'sk-ant-api03-valid-key-0001'],
    rejection: 'Anthropic rejected the key: invalid x-api-key',
    rejectionStatus: 401,
  },
  {
    wire: 'google',
    providerId: 'google',
    key: 'AIzaSyValid-Key-000000000001',
    wrongKey: 'AIzaSyWrong-Key-000000000001',
    path: '/v1beta/models?pageSize=1000',
    keyHeader: ['x-goog-api-key', 'AIzaSyValid-Key-000000000001'],
    rejection: 'Google Gemini rejected the key: API key not valid. Please pass a valid API key.',
    rejectionStatus: 400,
  },
  {
    wire: 'ollama',
    providerId: 'ollama',
    key: 'ollama-proxy-key-0001',
    wrongKey: 'ollama-proxy-key-9999',
    path: '/api/tags',
    keyHeader: ['authorization', 'Bearer ollama-proxy-key-0001'],
    rejection: 'Ollama rejected the key: unauthorized',
    rejectionStatus: 401,
  },
];

describe.each(cases)('listModels over the $wire wire', (wireCase) => {
  const models = ['model-a', 'model-b', 'model-c'];

  it('lists the models a valid key can use, asking the way the provider expects', async () => {
    const upstream = await fake({ wire: wireCase.wire, validKeys: [wireCase.key], models });

    const result = await listModels(callFor(wireCase.providerId, upstream.url, wireCase.key), client);

    expect(result.ok && result.models.map((model) => model.id)).toEqual(models);
    expect(upstream.requests).toHaveLength(1);
    expect(upstream.requests[0]).toMatchObject({ method: 'GET', path: wireCase.path });
    const [name, value] = wireCase.keyHeader;
    expect(upstream.requests[0]?.headers[name]).toBe(value);
  });

  it("reports a wrong key as unauthorized, in the provider's own words", async () => {
    const upstream = await fake({ wire: wireCase.wire, validKeys: [wireCase.key], models });

    const result = await listModels(callFor(wireCase.providerId, upstream.url, wireCase.wrongKey), client);

    expect(result).toEqual({
      ok: false,
      reason: 'unauthorized',
      status: wireCase.rejectionStatus,
      message: wireCase.rejection,
    });
  });

  it('never repeats the key, even when the provider echoes it', async () => {
    const upstream = await fake({ wire: wireCase.wire, validKeys: [wireCase.key], echoKeyInErrors: true });

    const result = await listModels(callFor(wireCase.providerId, upstream.url, wireCase.wrongKey), client);

    expect(result).toMatchObject({ ok: false, reason: 'unauthorized' });
    expect(JSON.stringify(result)).not.toContain(wireCase.wrongKey);
  });

  it('reports a server error as upstream_error with its status', async () => {
    const upstream = await fake({ wire: wireCase.wire, validKeys: [wireCase.key], failWithStatus: 500 });

    const result = await listModels(callFor(wireCase.providerId, upstream.url, wireCase.key), client);

    expect(result).toMatchObject({ ok: false, reason: 'upstream_error', status: 500 });
    expect(!result.ok && result.message).toMatch(/ answered HTTP 500: .+/);
  });

  it('reports a port nobody listens on as unreachable', async () => {
    const url = await closedPortUrl();

    const result = await listModels(callFor(wireCase.providerId, url, wireCase.key), client);

    expect(result).toEqual({
      ok: false,
      reason: 'unreachable',
      message: expect.stringContaining(`at ${url}: the connection was refused`),
    });
  });

  it.each(['127.0.0.1', 'localhost'])(
    'refuses a loopback upstream reached as %s when loopback is not allowed',
    async (host) => {
      const upstream = await fake({ wire: wireCase.wire, validKeys: [wireCase.key] });
      const url = upstream.url.replace('127.0.0.1', host);

      const result = await listModels(callFor(wireCase.providerId, url, wireCase.key), strictClient);

      expect(result).toEqual({
        ok: false,
        reason: 'blocked_url',
        message: expect.stringContaining('is loopback, and this Keyway does not allow loopback upstreams'),
      });
      expect(upstream.requests).toEqual([]);
    },
  );
});

describe('listModels, provider details', () => {
  it('sends the OpenAI organization and reports who owns each model', async () => {
    const upstream = await fake({ wire: 'openai', validKeys: ['sk-valid-1'], models: ['gpt-4o'] });

    const result = await listModels(
      callFor('openai', upstream.url, 'sk-valid-1', { organization: 'org-42' }),
      client,
    );

    expect(result).toEqual({ ok: true, models: [{ id: 'gpt-4o', ownedBy: 'system' }] });
    expect(upstream.requests[0]?.headers['openai-organization']).toBe('org-42');
  });

  it('sends no Authorization header to an OpenAI-compatible server without a key', async () => {
    const upstream = await fake({ wire: 'openai', validKeys: [], models: ['llama-3.1-8b'] });

    const result = await listModels(callFor('openai-compatible', upstream.url, null), client);

    expect(result).toEqual({ ok: true, models: [{ id: 'llama-3.1-8b', ownedBy: 'system' }] });
    expect(upstream.requests[0]?.headers.authorization).toBeUndefined();
  });

  it('says a key is wanted when a provider needs one and none was given', async () => {
    const upstream = await fake({ wire: 'google', validKeys: ['AIzaValid'] });

    const result = await listModels(callFor('google', upstream.url, null), client);

    expect(result).toMatchObject({ ok: false, reason: 'unauthorized', status: 403 });
    expect(!result.ok && result.message).toMatch(
      /^Google Gemini wants a key: Method doesn't allow unregistered callers/,
    );
  });

  it('reads Together AI’s bare-array model list', async () => {
    const upstream = await fake({
      wire: 'openai',
      validKeys: ['tg-key'],
      models: ['meta-llama/Llama-3-70b'],
      modelsAsBareArray: true,
    });

    const result = await listModels(callFor('together', upstream.url, 'tg-key'), client);

    expect(result).toEqual({ ok: true, models: [{ id: 'meta-llama/Llama-3-70b', ownedBy: 'system' }] });
  });

  it('uses the Azure API version the credential names, with a deployment set', async () => {
    const upstream = await fake({ wire: 'azure-openai', validKeys: ['azure-key-1'], models: ['gpt-4o'] });

    const call = callFor('azure-openai', upstream.url, 'azure-key-1', {
      deployment: 'prod-4o',
      apiVersion: '2025-04-01-preview',
    });
    const result = await listModels(call, client);

    expect(result).toEqual({ ok: true, models: [{ id: 'gpt-4o' }] });
    expect(upstream.requests[0]?.path).toBe('/openai/models?api-version=2025-04-01-preview');
  });

  it.each([
    ['anthropic', 'anthropic', 'sk-ant-key-1'],
    ['google', 'google', 'AIzaKey1'],
  ] as const)('follows %s pagination to the last page', async (providerId, wire, key) => {
    const models = ['m1', 'm2', 'm3', 'm4', 'm5'];
    const upstream = await fake({ wire, validKeys: [key], models, maxPageSize: 2 });

    const result = await listModels(callFor(providerId, upstream.url, key), client);

    expect(result.ok && result.models.map((model) => model.id)).toEqual(models);
    expect(upstream.requests).toHaveLength(3);
  });
});

describe('listModels, bodies Keyway does not understand', () => {
  const stub = (status: number, body: string): Pick<UpstreamClient, 'request'> => ({
    request: () =>
      Promise.resolve({
        status,
        headers: {},
        text: () => Promise.resolve(body),
        json: () => Promise.resolve(JSON.parse(body) as unknown),
      }),
  });
  const call = callFor('openai', 'https://api.example.com/v1', 'sk-secret-value-1234');

  it('reports a 200 that is not a model list as upstream_error', async () => {
    const result = await listModels(call, stub(200, '{"models":"gpt-4o"}'));

    expect(result).toEqual({
      ok: false,
      reason: 'upstream_error',
      status: 200,
      message:
        'OpenAI answered with something that is not a model list (19 bytes of JSON); check the base URL.',
    });
  });

  it('describes, never quotes, an error page that is not a provider error (it may be another service)', async () => {
    const page = `<html><body>Bad gateway for sk-secret-value-1234. ${'Try again later. '.repeat(400)}</body></html>`;

    const result = await listModels(call, stub(502, page));

    expect(result).toMatchObject({ ok: false, reason: 'upstream_error', status: 502 });
    const message = result.ok ? '' : result.message;
    expect(message).toBe(
      `OpenAI answered HTTP 502 with a body that is not an OpenAI-style error (${Buffer.byteLength(page)} bytes of HTML); if it persists, check the credential's base URL.`,
    );
  });

  it(`quotes no more than ${MAX_PROVIDER_MESSAGE_CHARS} characters of a provider's own error message, and never the key`, async () => {
    const body = JSON.stringify({
      error: { message: `Bad gateway for sk-secret-value-1234. ${'Try again later. '.repeat(400)}` },
    });

    const result = await listModels(call, stub(502, body));

    const message = result.ok ? '' : result.message;
    expect(message.startsWith('OpenAI answered HTTP 502: Bad gateway for [REDACTED]. Try')).toBe(true);
    expect(message.length).toBe('OpenAI answered HTTP 502: '.length + MAX_PROVIDER_MESSAGE_CHARS);
    expect(message.endsWith('…')).toBe(true);
    expect(message).not.toContain('sk-secret-value-1234');
  });

  it('rejects, rather than reporting on the key, when the caller aborts', async () => {
    const hanging: Pick<UpstreamClient, 'request'> = {
      request: ({ signal }) =>
        new Promise((_, reject) => signal?.addEventListener('abort', () => reject(signal.reason))),
    };
    const controller = new AbortController();

    const pending = listModels(call, hanging, { signal: controller.signal });
    controller.abort(new Error('client went away'));

    await expect(pending).rejects.toThrow('client went away');
  });
});
