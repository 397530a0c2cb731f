import type { Hono } from 'hono';
import { z } from 'zod';
import type { ApiRegistry } from '../http/api-registry.ts';
import type { AppEnv } from '../http/app-env.ts';
import {
  chatSettingsSchema,
  libraryName,
  modelName,
  ownerSchema,
  sharedView,
  teamIdsBody,
} from './library.schema.ts';
import type { PresetRecord } from './presets.repository.ts';
import type { PresetsService } from './presets.service.ts';

const presetSchema = z.object({
  id: z.string(),
  name: z.string(),
  model: z.string().nullable(),
  settings: chatSettingsSchema,
  teamIds: z
    .array(z.string())
    .describe('Teams it is shared with (for a team member, the ones you read it through).'),
  owner: ownerSchema,
  mine: z
    .boolean()
    .describe('False: shared with you through a team; you use it but only its owner changes it.'),
  createdAt: z.string(),
  updatedAt: z.string(),
});

const presetView = (record: PresetRecord, viewer: { userId: string }) => ({
  id: record.id,
  name: record.name,
  model: record.model,
  settings: record.settings,
  ...sharedView(record, viewer),
  createdAt: record.createdAt.toISOString(),
  updatedAt: record.updatedAt.toISOString(),
});

const NO_SETTINGS = {
  systemPrompt: null,
  temperature: null,
  maxTokens: null,
  contextMessages: null,
  contextTokens: null,
};

/** Presets: a named model and chat settings, yours or shared with your teams. */
export function registerPresetsRoutes(app: Hono<AppEnv>, api: ApiRegistry, presets: PresetsService): void {
  const common = { tag: 'presets', auth: 'user' } as const;

  api.add(
    app,
    {
      ...common,
      method: 'get',
      path: '/api/presets',
      summary: 'Your presets and those shared with your teams, by name.',
      response: z.array(presetSchema),
    },
    async ({ c, principal }) =>
      c.json((await presets.list(principal)).map((record) => presetView(record, principal))),
  );

  api.add(
    app,
    {
      ...common,
      method: 'post',
      path: '/api/presets',
      summary: 'Save a preset: a model (optional) and chat settings (null: the default).',
      body: z
        .object({
          name: libraryName,
          model: modelName.nullable().optional(),
          settings: chatSettingsSchema.partial().strict().optional(),
        })
        .strict(),
      response: presetSchema,
      status: 201,
    },
    async ({ c, body, principal }) =>
      c.json(
        presetView(
          await presets.create(principal, {
            name: body.name,
            model: body.model ?? null,
            settings: { ...NO_SETTINGS, ...body.settings },
          }),
          principal,
        ),
        201,
      ),
  );

  api.add(
    app,
    {
      ...common,
      method: 'get',
      path: '/api/presets/:id',
      summary: 'A preset you own or use through a team.',
      response: presetSchema,
    },
    async ({ c, principal }) =>
      c.json(presetView(await presets.get(principal, c.req.param('id')!), principal)),
  );

  api.add(
    app,
    {
      ...common,
      method: 'patch',
      path: '/api/presets/:id',
      summary:
        'Change your preset: its name, model (null: none) or some of its settings (null: the default).',
      body: z
        .object({
          name: libraryName.optional(),
          model: modelName.nullable().optional(),
          settings: chatSettingsSchema.partial().strict().optional(),
        })
        .strict(),
      response: presetSchema,
    },
    async ({ c, body, principal }) =>
      c.json(
        presetView(
          await presets.update(principal, c.req.param('id')!, {
            ...(body.name !== undefined ? { name: body.name } : {}),
            ...(body.model !== undefined ? { model: body.model } : {}),
            ...(body.settings !== undefined ? { settings: body.settings } : {}),
          }),
          principal,
        ),
      ),
  );

  api.add(
    app,
    { ...common, method: 'delete', path: '/api/presets/:id', summary: 'Delete your preset.', status: 204 },
    async ({ c, principal }) => {
      await presets.delete(principal, c.req.param('id')!);
      return c.body(null, 204);
    },
  );

  api.add(
    app,
    {
      ...common,
      method: 'put',
      path: '/api/presets/:id/teams',
      summary:
        'Share your preset with exactly these teams of yours (their members use it; only you change it); [] makes it private.',
      body: teamIdsBody,
      response: presetSchema,
    },
    async ({ c, body, principal }) =>
      c.json(presetView(await presets.setTeams(principal, c.req.param('id')!, body.teamIds), principal)),
  );
}
