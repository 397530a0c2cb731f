import type { Hono } from 'hono';
import { z } from 'zod';
import type { ApiRegistry } from '../http/api-registry.ts';
import type { AppEnv } from '../http/app-env.ts';
import { limitsSchema } from '../limits/limits.ts';
import { addLimitsRoute } from '../limits/limits.routes.ts';
import type { TokensService } from './tokens.service.ts';

const tokenSchema = z.object({
  id: z.string(),
  name: z.string(),
  prefix: z.string().describe('The first characters of the token, to recognise it.'),
  expiresAt: z.string().nullable(),
  lastUsedAt: z.string().nullable(),
  limits: limitsSchema,
  createdAt: z.string(),
});

/** The caller's own API tokens. */
export function registerTokensRoutes(app: Hono<AppEnv>, api: ApiRegistry, tokens: TokensService): void {
  api.add(
    app,
    {
      method: 'get',
      path: '/api/tokens',
      summary: "List the caller's active API tokens.",
      tag: 'tokens',
      auth: 'user',
      response: z.array(tokenSchema),
    },
    async ({ c, principal }) => c.json(await tokens.list(principal)),
  );

  api.add(
    app,
    {
      method: 'post',
      path: '/api/tokens',
      summary: 'Create an API token. The token is in this response only; it is stored hashed.',
      tag: 'tokens',
      auth: 'user',
      body: z
        .object({
          name: z.string().trim().min(1).max(100),
          expiresAt: z.iso.datetime({ offset: true }).optional(),
          expiresInDays: z.number().int().min(1).max(3650).optional(),
          limits: limitsSchema.optional(),
        })
        .strict(),
      response: tokenSchema.extend({ token: z.string() }),
      status: 201,
    },
    async ({ c, body, principal }) => {
      const expiresAt = body.expiresAt
        ? new Date(body.expiresAt)
        : body.expiresInDays
          ? new Date(Date.now() + body.expiresInDays * 86_400_000)
          : null;
      return c.json(
        await tokens.create(principal, {
          name: body.name,
          expiresAt,
          ...(body.limits ? { limits: body.limits } : {}),
        }),
        201,
      );
    },
  );

  addLimitsRoute(app, api, {
    path: '/api/tokens/:id/limits',
    summary: 'Replace the limits on one of your tokens ({} removes them).',
    tag: 'tokens',
    auth: 'user',
    replace: (principal, id, body) => tokens.setLimits(principal, id, body),
  });

  api.add(
    app,
    {
      method: 'delete',
      path: '/api/tokens/:id',
      summary: 'Revoke an API token, on every node at once.',
      tag: 'tokens',
      auth: 'user',
      status: 204,
    },
    async ({ c, principal }) => {
      await tokens.revoke(principal, c.req.param('id')!);
      return c.body(null, 204);
    },
  );
}
