import type { Hono } from 'hono';
import { z } from 'zod';
import type { ApiRegistry } from '../http/api-registry.ts';
import type { AppEnv } from '../http/app-env.ts';
import type { ProviderRegistry } from './registry.ts';

const providerSchema = z.object({
  id: z.string(),
  label: z.string(),
  wire: z.enum(['openai', 'azure-openai', 'anthropic', 'google', 'ollama']),
  defaultBaseUrl: z.string().nullable(),
  secret: z.enum(['required', 'optional']),
  keyFormat: z.string().nullable().describe('What a key of this provider looks like.'),
  settings: z
    .record(z.string(), z.unknown())
    .describe('JSON Schema of the credential settings this provider takes.'),
});

/** `GET /api/providers`: the registry, with each provider's settings as JSON Schema for forms. */
export function registerProvidersRoutes(
  app: Hono<AppEnv>,
  api: ApiRegistry,
  providers: ProviderRegistry,
): void {
  api.add(
    app,
    {
      method: 'get',
      path: '/api/providers',
      summary: 'The providers a credential can be for.',
      tag: 'providers',
      auth: 'user',
      response: z.array(providerSchema),
    },
    ({ c }) =>
      c.json(
        providers.list().map((provider) => {
          const { $schema: _ignored, ...settings } = z.toJSONSchema(provider.settings, {
            io: 'input',
            unrepresentable: 'any',
          }) as Record<string, unknown>;
          return {
            id: provider.id,
            label: provider.label,
            wire: provider.wire,
            defaultBaseUrl: provider.defaultBaseUrl ?? null,
            secret: provider.secret,
            keyFormat: provider.keyFormat?.description ?? null,
            settings,
          };
        }),
      ),
  );
}
