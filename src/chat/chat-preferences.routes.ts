import type { Hono } from 'hono';
import { z } from 'zod';
import type { ApiRegistry } from '../http/api-registry.ts';
import type { AppEnv } from '../http/app-env.ts';
import type { ChatPreferencesService } from './chat-preferences.service.ts';

const modelName = z.string().trim().min(1).max(300);

const preferencesSchema = z.object({
  titleModel: z.string().nullable().describe('Your title model; null: the default.'),
  defaultTitleModel: z
    .string()
    .nullable()
    .describe("The admin's default title model; null: titles are not generated for users without one."),
});

/** Chat preferences: the model that names conversations after their first exchange. */
export function registerChatPreferencesRoutes(
  app: Hono<AppEnv>,
  api: ApiRegistry,
  preferences: ChatPreferencesService,
): void {
  api.add(
    app,
    {
      method: 'get',
      path: '/api/me/chat-preferences',
      summary: 'Your chat preferences: the title model, and the default you get without one.',
      tag: 'chat',
      auth: 'user',
      response: preferencesSchema,
    },
    async ({ c, principal }) => c.json(await preferences.get(principal)),
  );

  api.add(
    app,
    {
      method: 'patch',
      path: '/api/me/chat-preferences',
      summary:
        'Pick the model that titles your conversations after their first exchange (null: the default). A model you cannot use is refused.',
      tag: 'chat',
      auth: 'user',
      body: z.object({ titleModel: modelName.nullable().optional() }).strict(),
      response: preferencesSchema,
    },
    async ({ c, body, principal }) => c.json(await preferences.update(principal, body)),
  );

  api.add(
    app,
    {
      method: 'patch',
      path: '/api/settings/chat',
      summary:
        'Admin: the default title model for users who picked none (null: conversations are not titled by a model).',
      tag: 'chat',
      auth: 'admin',
      body: z.object({ defaultTitleModel: modelName.nullable().optional() }).strict(),
      response: preferencesSchema,
    },
    async ({ c, body, principal }) => c.json(await preferences.setDefault(principal, body)),
  );
}
