import { randomBytes } from 'node:crypto';
import OpenAI from 'openai';
import { startHttpServer, type RunningHttpServer } from '../../src/http/http-server.ts';
import type { ProviderRegistry } from '../../src/providers/registry.ts';
import type { Backend } from './test-database.ts';
import { createTestKeyway, type TestKeyway } from './test-keyway.ts';

/**
 * A fake provider key, made at run time. Hex after the prefix: a random `-` would make the key look
 * like it has a longer prefix (`sk-f-…`) and change its hint.
 */
export const fakeKey = (prefix = 'sk-') => prefix + randomBytes(20).toString('hex');

export interface GatewayHarness extends TestKeyway {
  server: RunningHttpServer;
  /** An official OpenAI SDK client pointed at this Keyway with the token (no SDK-side retries). */
  client(token: string, options?: { timeoutMs?: number }): OpenAI;
  /** Stores a credential for the user, through the API. */
  credential(token: string, body: Record<string, unknown>): Promise<{ id: string; name: string }>;
  stop(): Promise<void>;
}

/** A Keyway on a real socket, so the official SDK can call it over HTTP. */
export async function startGatewayHarness(
  backend: Backend,
  options: { env?: Record<string, string>; providers?: ProviderRegistry } = {},
): Promise<GatewayHarness> {
  const harness = await createTestKeyway(backend, {
    logLevel: 'debug',
    env: { KEYWAY_UPSTREAM_RETRIES: '1', ...options.env },
    ...(options.providers ? { providers: options.providers } : {}),
  });
  const server = await startHttpServer(harness.keyway.app.fetch, { port: 0, host: '127.0.0.1' });
  return {
    ...harness,
    server,
    client: (token, clientOptions = {}) =>
      new OpenAI({
        apiKey: token,
        baseURL: `${server.url}/v1`,
        maxRetries: 0,
        timeout: clientOptions.timeoutMs ?? 20_000,
      }),
    async credential(token, body) {
      const response = await harness.call('POST', '/api/credentials', { token, body });
      if (response.status !== 201) throw new Error(`credential: ${response.status} ${response.text}`);
      return response.body;
    },
    async stop() {
      await server.close(1_000);
      await harness.close();
    },
  };
}
