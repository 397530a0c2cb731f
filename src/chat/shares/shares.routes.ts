import type { Hono } from 'hono';
import { z } from 'zod';
import { KeywayError } from '../../errors.ts';
import type { ApiRegistry } from '../../http/api-registry.ts';
import type { AppEnv } from '../../http/app-env.ts';
import type { Readiness } from '../../http/readiness.ts';
import { missingSharePage, sharePage, SHARE_PAGE_HEADERS, unavailableSharePage } from './share-page.ts';
import type { SharedSnapshot } from './shares.repository.ts';
import { SHARE_PAGE_PREFIX, type SharesService } from './shares.service.ts';

const shareSchema = z.object({
  id: z.string(),
  conversationId: z.string(),
  title: z.string(),
  expiresAt: z.string().nullable(),
  createdAt: z.string(),
});

const sharedMessageSchema = z.object({
  role: z.enum(['user', 'assistant']),
  content: z.string(),
  model: z.string(),
  createdAt: z.string(),
});

const snapshotJson = (snapshot: SharedSnapshot) => ({
  title: snapshot.title,
  messages: snapshot.messages,
  expiresAt: snapshot.expiresAt?.toISOString() ?? null,
  createdAt: snapshot.createdAt.toISOString(),
});

/**
 * Share links: made, listed and revoked by their owner under `/api`; opened by anyone holding one at
 * `/s/<token>` (a page rendered here, nothing of the web app) or `/api/shared/<token>` (JSON).
 */
export function registerSharesRoutes(
  app: Hono<AppEnv>,
  api: ApiRegistry,
  shares: SharesService,
  readiness: Pick<Readiness, 'ready'>,
): void {
  api.add(
    app,
    {
      method: 'post',
      path: '/api/conversations/:id/shares',
      summary:
        'Share the branch on show as a read-only link (its text only). The url holds the token and is shown this once.',
      tag: 'chat',
      auth: 'user',
      body: z
        .object({
          expiresAt: z.iso
            .datetime({ offset: true })
            .nullable()
            .optional()
            .describe('When the link stops working; null or absent: until revoked.'),
        })
        .strict(),
      response: shareSchema.extend({ url: z.string().describe('`/s/<token>`, relative to this server.') }),
      status: 201,
    },
    async ({ c, body, principal }) => {
      const share = await shares.create(
        principal,
        c.req.param('id')!,
        body.expiresAt ? new Date(body.expiresAt) : null,
      );
      return c.json(
        {
          id: share.id,
          url: share.url,
          conversationId: share.conversationId,
          title: share.title,
          expiresAt: share.expiresAt?.toISOString() ?? null,
          createdAt: share.createdAt.toISOString(),
        },
        201,
      );
    },
  );

  api.add(
    app,
    {
      method: 'get',
      path: '/api/shares',
      summary: 'Your share links, newest first (their tokens are not stored, so not shown).',
      tag: 'chat',
      auth: 'user',
      response: z.array(shareSchema),
    },
    async ({ c, principal }) =>
      c.json(
        (await shares.list(principal)).map((share) => ({
          ...share,
          expiresAt: share.expiresAt?.toISOString() ?? null,
          createdAt: share.createdAt.toISOString(),
        })),
      ),
  );

  api.add(
    app,
    {
      method: 'delete',
      path: '/api/shares/:id',
      summary: 'Revoke a share link: it stops working at once.',
      tag: 'chat',
      auth: 'user',
      status: 204,
    },
    async ({ c, principal }) => {
      await shares.revoke(principal, c.req.param('id')!);
      return c.body(null, 204);
    },
  );

  api.add(
    app,
    {
      method: 'get',
      path: '/api/shared/:token',
      summary: 'A shared conversation as JSON, for anyone holding the link; 404 when revoked or expired.',
      tag: 'chat',
      auth: 'public',
      response: z.object({
        title: z.string(),
        messages: z.array(sharedMessageSchema),
        expiresAt: z.string().nullable(),
        createdAt: z.string(),
      }),
    },
    async ({ c }) => {
      c.header('x-robots-tag', 'noindex, nofollow');
      c.header('cache-control', 'no-store');
      c.header('referrer-policy', 'no-referrer');
      return c.json(snapshotJson(await shares.open(c.req.param('token')!)));
    },
  );

  // The page: outside /api, so served before the web app's fallback ever sees the path.
  app.get(`${SHARE_PAGE_PREFIX}:token`, async (c) => {
    if (!readiness.ready) return c.body(unavailableSharePage(), 503, SHARE_PAGE_HEADERS);
    try {
      return c.body(sharePage(await shares.open(c.req.param('token'))), 200, SHARE_PAGE_HEADERS);
    } catch (error) {
      if (error instanceof KeywayError && error.code === 'not_found')
        return c.body(missingSharePage(), 404, SHARE_PAGE_HEADERS);
      throw error;
    }
  });
  // Any other path under /s/ is no page of the web app either.
  app.get(`${SHARE_PAGE_PREFIX}*`, (c) => c.body(missingSharePage(), 404, SHARE_PAGE_HEADERS));
}
