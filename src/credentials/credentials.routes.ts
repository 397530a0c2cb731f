import type { Hono } from 'hono';
import { z } from 'zod';
import type { ApiRegistry } from '../http/api-registry.ts';
import type { AppEnv } from '../http/app-env.ts';
import { pricesSchema } from '../usage/prices.ts';
import type { CredentialsService } from './credentials.service.ts';

/** Credential names appear in model names (`<credential>/<model>`), so they cannot hold a slash. */
export const credentialName = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/,
    'a name is 1–64 letters, digits, dots, dashes or underscores, starting with a letter or digit',
  );

const secret = z.string().min(1).max(10_000);
const settings = z.record(z.string(), z.unknown());

export const credentialSchema = z.object({
  id: z.string(),
  name: z.string(),
  provider: z.string(),
  shared: z.boolean(),
  manageable: z
    .boolean()
    .describe('Whether you may change, rotate, delete and grant it; otherwise it is granted to you.'),
  settings,
  prices: pricesSchema,
  hint: z
    .string()
    .describe('A short prefix and the last 4 characters of the key; the key itself is never returned.'),
  fingerprint: z.string().nullable(),
  status: z.enum(['unchecked', 'valid', 'invalid']),
  statusMessage: z.string().nullable(),
  lastCheckedAt: z.string().nullable(),
  lastUsedAt: z.string().nullable(),
  usedBy: z.object({ bots: z.number() }),
  duplicates: z
    .array(z.object({ id: z.string(), name: z.string() }))
    .describe('Credentials you can see that hold the same key.'),
  version: z.number(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

const withWarnings = credentialSchema.extend({ warnings: z.array(z.string()) });

/** The vault's REST API. Secrets go in, never out. */
export function registerCredentialsRoutes(
  app: Hono<AppEnv>,
  api: ApiRegistry,
  credentials: CredentialsService,
): void {
  api.add(
    app,
    {
      method: 'get',
      path: '/api/credentials',
      summary: 'Your credentials and the shared ones.',
      tag: 'credentials',
      auth: 'user',
      response: z.array(credentialSchema),
    },
    async ({ c, principal }) => c.json(await credentials.list(principal)),
  );

  api.add(
    app,
    {
      method: 'post',
      path: '/api/credentials',
      summary:
        'Store a provider key. The same key may be stored any number of times; duplicates are reported.',
      tag: 'credentials',
      auth: 'user',
      body: z
        .object({
          name: credentialName,
          provider: z.string().min(1).max(64),
          secret: secret.optional(),
          settings: settings.optional(),
          shared: z.boolean().optional(),
          prices: pricesSchema.optional(),
        })
        .strict(),
      response: withWarnings,
      status: 201,
    },
    async ({ c, body, principal }) => c.json(await credentials.create(principal, body), 201),
  );

  api.add(
    app,
    {
      method: 'get',
      path: '/api/credentials/:id',
      summary: 'One credential.',
      tag: 'credentials',
      auth: 'user',
      response: credentialSchema,
    },
    async ({ c, principal }) => c.json(await credentials.get(principal, c.req.param('id')!)),
  );

  api.add(
    app,
    {
      method: 'patch',
      path: '/api/credentials/:id',
      summary: 'Rename or change settings. The key is changed with POST …/rotate.',
      tag: 'credentials',
      auth: 'user',
      body: z
        .object({
          name: credentialName.optional(),
          settings: settings.optional(),
          prices: pricesSchema.optional(),
        })
        .strict(),
      response: credentialSchema,
    },
    async ({ c, body, principal }) => c.json(await credentials.update(principal, c.req.param('id')!, body)),
  );

  api.add(
    app,
    {
      method: 'delete',
      path: '/api/credentials/:id',
      summary: 'Delete a credential; 409 credential_in_use names the bots using it unless detach=true.',
      tag: 'credentials',
      auth: 'user',
      query: z.object({ detach: z.enum(['true', 'false']).optional() }),
      status: 204,
    },
    async ({ c, query, principal }) => {
      await credentials.delete(principal, c.req.param('id')!, { detach: query.detach === 'true' });
      return c.body(null, 204);
    },
  );

  api.add(
    app,
    {
      method: 'post',
      path: '/api/credentials/:id/rotate',
      summary: 'Replace the key in place (version + 1); every user of the credential switches at once.',
      tag: 'credentials',
      auth: 'user',
      body: z.object({ secret }).strict(),
      response: withWarnings,
    },
    async ({ c, body, principal }) =>
      c.json(await credentials.rotate(principal, c.req.param('id')!, body.secret)),
  );

  api.add(
    app,
    {
      method: 'post',
      path: '/api/credentials/:id/test',
      summary: "Check the key with the provider's cheapest authenticated call and record the result.",
      tag: 'credentials',
      auth: 'user',
      response: z.object({
        status: z.enum(['valid', 'invalid']),
        message: z.string().nullable(),
        models: z.number().nullable(),
        credential: credentialSchema,
      }),
    },
    async ({ c, principal }) => c.json(await credentials.test(principal, c.req.param('id')!)),
  );

  api.add(
    app,
    {
      method: 'get',
      path: '/api/credentials/:id/models',
      summary: 'The models the provider offers to this key.',
      tag: 'credentials',
      auth: 'user',
      response: z.object({ models: z.array(z.object({ id: z.string(), ownedBy: z.string().optional() })) }),
    },
    async ({ c, principal }) => c.json({ models: await credentials.models(principal, c.req.param('id')!) }),
  );
}
