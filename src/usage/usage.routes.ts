import type { Hono } from 'hono';
import { z } from 'zod';
import { KeywayError } from '../errors.ts';
import type { ApiRegistry } from '../http/api-registry.ts';
import type { AppEnv } from '../http/app-env.ts';
import type { UsageRecorder } from './usage-recorder.ts';
import { USAGE_GROUPS, type UsageRepository } from './usage.repository.ts';

const isoDay = z.iso.date({ error: 'a day is a real date written YYYY-MM-DD' });

/**
 * `GET /api/usage`: the caller's usage (admins: everyone's with all=true), grouped one way. By team, a
 * user in several teams counts in each and a user in no team is in no row.
 */
export function registerUsageRoutes(
  app: Hono<AppEnv>,
  api: ApiRegistry,
  usage: UsageRepository,
  recorder: UsageRecorder,
): void {
  api.add(
    app,
    {
      method: 'get',
      path: '/api/usage',
      summary:
        'Requests, errors, tokens and cost, grouped by day, credential, model, token, bot, user or team (a user counts in each of their teams; one in no team in none).',
      tag: 'usage',
      auth: 'user',
      query: z.object({
        groupBy: z.enum(USAGE_GROUPS).default('day'),
        from: isoDay.optional(),
        to: isoDay.optional(),
        all: z.enum(['true', 'false']).optional(),
      }),
      response: z.object({
        groupBy: z.enum(USAGE_GROUPS),
        from: z.string(),
        to: z.string(),
        rows: z.array(
          z.object({
            key: z.string(),
            label: z.string().nullable(),
            requests: z.number(),
            errors: z.number(),
            inputTokens: z.number(),
            outputTokens: z.number(),
            cachedTokens: z.number(),
            avgLatencyMs: z.number(),
            costUsd: z.number().describe('USD, of the requests whose model had a price'),
          }),
        ),
      }),
    },
    async ({ c, query, principal }) => {
      if (query.all === 'true' && principal.role !== 'admin')
        throw new KeywayError('forbidden', "Only an admin may see everyone's usage.");
      const to = query.to ?? new Date().toISOString().slice(0, 10);
      const from = query.from ?? new Date(Date.now() - 29 * 86_400_000).toISOString().slice(0, 10);
      // What this node has not written yet is part of the answer.
      await recorder.flush();
      const rows = await usage.report({
        userId: query.all === 'true' ? null : principal.userId,
        from,
        to,
        groupBy: query.groupBy,
      });
      return c.json({ groupBy: query.groupBy, from, to, rows });
    },
  );
}
