import type { Context, Hono } from 'hono';
import { z } from 'zod';
import type { ApiRegistry } from '../../http/api-registry.ts';
import type { AppEnv } from '../../http/app-env.ts';
import { readJson } from '../../http/read-json.ts';
import type { ExportFile, TransferService } from './transfer.service.ts';

/** Where imports are posted: app.ts gives this path its own, larger body limit. */
export const IMPORT_PATH = '/api/import/conversations';

/** The largest import by default (ChatGPT's conversations.json of a heavy user runs to tens of MB). */
export const DEFAULT_IMPORT_BODY_LIMIT_BYTES = 50 * 1024 * 1024;

const exportQuery = z.object({ format: z.enum(['json', 'markdown']).default('json') });

/** Export (a download of one or all conversations) and import of conversations. */
export function registerTransferRoutes(app: Hono<AppEnv>, api: ApiRegistry, transfer: TransferService): void {
  api.add(
    app,
    {
      method: 'get',
      path: '/api/conversations/:id/export',
      summary:
        'Download one conversation: `json` (Keyway format, every branch, docs/chat-export-and-sharing.md) or `markdown` (the branch on show).',
      tag: 'chat',
      auth: 'user',
      query: exportQuery,
    },
    async ({ c, query, principal }) =>
      download(c, await transfer.exportOne(principal, c.req.param('id')!, query.format)),
  );

  api.add(
    app,
    {
      method: 'get',
      path: '/api/export/conversations',
      summary: 'Download all your conversations, as `json` (Keyway format) or `markdown`.',
      tag: 'chat',
      auth: 'user',
      query: exportQuery,
    },
    async ({ c, query, principal }) => download(c, await transfer.exportAll(principal, query.format)),
  );

  api.add(
    app,
    {
      method: 'post',
      path: IMPORT_PATH,
      summary:
        "Import conversations from a Keyway export or ChatGPT's conversations.json (the JSON file as the body); branches are kept, ids are new, NUL characters dropped.",
      tag: 'chat',
      auth: 'user',
      response: z.object({ imported: z.number(), conversationIds: z.array(z.string()) }),
      status: 201,
    },
    // Read here, not by the registry: an export may hold NUL characters, dropped rather than refused.
    async ({ c, principal }) =>
      c.json(await transfer.import(principal, await readJson(c, { allowNul: true })), 201),
  );
}

function download(c: Context<AppEnv>, file: ExportFile): Response {
  const ascii = file.fileName.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
  return c.body(file.body, 200, {
    'content-type': file.contentType,
    'content-disposition': `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(file.fileName)}`,
    'cache-control': 'no-store',
  });
}
