import type { Hono } from 'hono';
import { z } from 'zod';
import type { ApiRegistry } from '../http/api-registry.ts';
import type { AppEnv } from '../http/app-env.ts';
import type { FoldersService } from './folders.service.ts';

const folderSchema = z.object({
  id: z.string(),
  name: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

const folderBody = z.object({ name: z.string().max(200) }).strict();

/** Folders of conversations: `/api/folders`. A conversation is filed with PATCH /api/conversations/:id. */
export function registerFoldersRoutes(app: Hono<AppEnv>, api: ApiRegistry, folders: FoldersService): void {
  api.add(
    app,
    {
      method: 'get',
      path: '/api/folders',
      summary: 'Your folders of conversations, by name.',
      tag: 'chat',
      auth: 'user',
      response: z.array(folderSchema),
    },
    async ({ c, principal }) => c.json(await folders.list(principal)),
  );

  api.add(
    app,
    {
      method: 'post',
      path: '/api/folders',
      summary: 'Make a folder.',
      tag: 'chat',
      auth: 'user',
      body: folderBody,
      response: folderSchema,
      status: 201,
    },
    async ({ c, body, principal }) => c.json(await folders.create(principal, body), 201),
  );

  api.add(
    app,
    {
      method: 'patch',
      path: '/api/folders/:id',
      summary: 'Rename a folder.',
      tag: 'chat',
      auth: 'user',
      body: folderBody,
      response: folderSchema,
    },
    async ({ c, body, principal }) => c.json(await folders.rename(principal, c.req.param('id')!, body)),
  );

  api.add(
    app,
    {
      method: 'delete',
      path: '/api/folders/:id',
      summary: 'Delete a folder; its conversations are kept, out of any folder.',
      tag: 'chat',
      auth: 'user',
      status: 204,
    },
    async ({ c, principal }) => {
      await folders.delete(principal, c.req.param('id')!);
      return c.body(null, 204);
    },
  );
}
