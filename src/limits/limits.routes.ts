import type { Hono } from 'hono';
import { z } from 'zod';
import type { ApiRegistry } from '../http/api-registry.ts';
import type { AppEnv } from '../http/app-env.ts';
import type { Principal } from '../auth/principal.ts';
import { limitsSchema, PERIODS, type Limits } from './limits.ts';
import type { LimitsService } from './limits.service.ts';

const statusSchema = z.object({
  scope: z.enum(['user', 'team', 'grant', 'token', 'bot']),
  label: z.string(),
  kind: z.enum(['usd', 'tokens', 'requestsPerMinute', 'tokensPerMinute']),
  amount: z.number(),
  period: z.enum([...PERIODS, 'minute']),
  spent: z.number(),
  resetsAt: z.string().nullable(),
});

/**
 * `PUT <path>` with a `Limits` body answering `{limits}`: the one shape of every "replace the limits
 * on this user, team or token" route.
 */
export function addLimitsRoute(
  app: Hono<AppEnv>,
  api: ApiRegistry,
  route: {
    path: string;
    summary: string;
    tag: string;
    auth: 'user' | 'admin';
    replace: (principal: Principal, id: string, limits: Limits) => Promise<{ limits: Limits }>;
  },
): void {
  api.add(
    app,
    {
      method: 'put',
      path: route.path,
      summary: route.summary,
      tag: route.tag,
      auth: route.auth,
      body: limitsSchema,
      response: z.object({ limits: limitsSchema }),
    },
    async ({ c, body, principal }) => c.json(await route.replace(principal, c.req.param('id')!, body)),
  );
}

/** Limits on people, and every limit that applies to the caller. */
export function registerLimitsRoutes(app: Hono<AppEnv>, api: ApiRegistry, limits: LimitsService): void {
  addLimitsRoute(app, api, {
    path: '/api/users/:id/limits',
    summary: "Replace a user's limits ({} removes them).",
    tag: 'users',
    auth: 'admin',
    replace: (principal, id, body) => limits.setUserLimits(principal, id, body),
  });
  api.add(
    app,
    {
      method: 'get',
      path: '/api/me/limits',
      summary:
        'Every limit that applies to you: yours, your teams’, your grants’, tokens’ and bots’, with what is spent and when it resets.',
      tag: 'users',
      auth: 'user',
      response: z.object({ limits: z.array(statusSchema) }),
    },
    async ({ c, principal }) => c.json({ limits: await limits.mine(principal) }),
  );
}
