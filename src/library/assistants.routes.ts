import type { Hono } from 'hono';
import { z } from 'zod';
import type { ApiRegistry } from '../http/api-registry.ts';
import type { AppEnv } from '../http/app-env.ts';
import type { AssistantRecord } from './assistants.repository.ts';
import type { AssistantsService } from './assistants.service.ts';
import {
  contextMessages,
  contextTokens,
  libraryName,
  longText,
  maxTokens,
  modelName,
  ownerSchema,
  sharedView,
  teamIdsBody,
  temperature,
} from './library.schema.ts';

const settingsSchema = z.object({ temperature, maxTokens, contextMessages, contextTokens });

const assistantSchema = z.object({
  id: z.string(),
  name: z.string().describe('Unique among yours (any case); `assistant:<name>` on /v1.'),
  description: z.string(),
  model: z.string(),
  instructions: z.string().describe('Sent as the first system message.'),
  settings: settingsSchema,
  starterPrompts: z.array(z.string()),
  avatarColor: z.string().nullable(),
  knowledgeBaseIds: z.array(z.string()),
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

const assistantView = (record: AssistantRecord, viewer: { userId: string }) => ({
  id: record.id,
  name: record.name,
  description: record.description,
  model: record.model,
  instructions: record.instructions,
  settings: {
    temperature: record.temperature,
    maxTokens: record.maxTokens,
    contextMessages: record.contextMessages,
    contextTokens: record.contextTokens,
  },
  starterPrompts: record.starterPrompts,
  avatarColor: record.avatarColor,
  knowledgeBaseIds: record.knowledgeBaseIds,
  ...sharedView(record, viewer),
  createdAt: record.createdAt.toISOString(),
  updatedAt: record.updatedAt.toISOString(),
});

// A name is also a model name (`assistant:<name>`): no slash, no colon, no control characters.
const assistantName = libraryName.regex(/^[^/:\p{Cc}]+$/u, 'No "/", ":" or control characters.');

const fields = {
  description: z.string().max(2000),
  model: modelName,
  instructions: longText,
  settings: settingsSchema.partial().strict(),
  starterPrompts: z.array(z.string().trim().min(1).max(1000)).max(10),
  avatarColor: z
    .string()
    .regex(/^#[0-9a-fA-F]{6}$/, 'A colour as #rrggbb.')
    .nullable(),
  knowledgeBaseIds: z
    .array(z.string().min(1).max(100))
    .max(20)
    .transform((ids) => [...new Set(ids)]),
};

type Body = {
  name?: string;
  description?: string;
  model?: string;
  instructions?: string;
  settings?: Partial<z.infer<typeof settingsSchema>>;
  starterPrompts?: string[];
  avatarColor?: string | null;
  knowledgeBaseIds?: string[];
};

/** The body's fields, without those it left out (a PATCH changes only what it names). */
function inputOf(body: Body) {
  const { settings, ...rest } = body;
  const defined = Object.fromEntries(
    Object.entries({ ...rest, ...settings }).filter(([, value]) => value !== undefined),
  );
  return defined as Partial<Omit<Body, 'settings'> & z.infer<typeof settingsSchema>>;
}

/** Assistants: yours or shared with your teams; `assistant:<name>` on /v1. */
export function registerAssistantsRoutes(
  app: Hono<AppEnv>,
  api: ApiRegistry,
  assistants: AssistantsService,
): void {
  const common = { tag: 'assistants', auth: 'user' } as const;

  api.add(
    app,
    {
      ...common,
      method: 'get',
      path: '/api/assistants',
      summary: 'Your assistants and those shared with your teams, by name.',
      response: z.array(assistantSchema),
    },
    async ({ c, principal }) =>
      c.json((await assistants.list(principal)).map((record) => assistantView(record, principal))),
  );

  api.add(
    app,
    {
      ...common,
      method: 'post',
      path: '/api/assistants',
      summary:
        'Create an assistant: a model you can use, instructions, settings and knowledge bases you may read.',
      body: z
        .object({
          name: assistantName,
          model: fields.model,
          description: fields.description.optional(),
          instructions: fields.instructions.optional(),
          settings: fields.settings.optional(),
          starterPrompts: fields.starterPrompts.optional(),
          avatarColor: fields.avatarColor.optional(),
          knowledgeBaseIds: fields.knowledgeBaseIds.optional(),
        })
        .strict(),
      response: assistantSchema,
      status: 201,
    },
    async ({ c, body, principal }) => {
      const record = await assistants.create(principal, {
        name: body.name,
        model: body.model,
        description: body.description ?? '',
        instructions: body.instructions ?? '',
        temperature: body.settings?.temperature ?? null,
        maxTokens: body.settings?.maxTokens ?? null,
        contextMessages: body.settings?.contextMessages ?? null,
        contextTokens: body.settings?.contextTokens ?? null,
        starterPrompts: body.starterPrompts ?? [],
        avatarColor: body.avatarColor ?? null,
        knowledgeBaseIds: body.knowledgeBaseIds ?? [],
      });
      return c.json(assistantView(record, principal), 201);
    },
  );

  api.add(
    app,
    {
      ...common,
      method: 'get',
      path: '/api/assistants/:id',
      summary: 'An assistant you own or use through a team.',
      response: assistantSchema,
    },
    async ({ c, principal }) =>
      c.json(assistantView(await assistants.get(principal, c.req.param('id')!), principal)),
  );

  api.add(
    app,
    {
      ...common,
      method: 'patch',
      path: '/api/assistants/:id',
      summary: 'Change your assistant (only the fields given; a null setting: the default).',
      body: z
        .object({
          name: assistantName.optional(),
          model: fields.model.optional(),
          description: fields.description.optional(),
          instructions: fields.instructions.optional(),
          settings: fields.settings.optional(),
          starterPrompts: fields.starterPrompts.optional(),
          avatarColor: fields.avatarColor.optional(),
          knowledgeBaseIds: fields.knowledgeBaseIds.optional(),
        })
        .strict(),
      response: assistantSchema,
    },
    async ({ c, body, principal }) =>
      c.json(assistantView(await assistants.update(principal, c.req.param('id')!, inputOf(body)), principal)),
  );

  api.add(
    app,
    {
      ...common,
      method: 'delete',
      path: '/api/assistants/:id',
      summary: 'Delete your assistant.',
      status: 204,
    },
    async ({ c, principal }) => {
      await assistants.delete(principal, c.req.param('id')!);
      return c.body(null, 204);
    },
  );

  api.add(
    app,
    {
      ...common,
      method: 'put',
      path: '/api/assistants/:id/teams',
      summary:
        'Share your assistant with exactly these teams of yours (their members use it, in the chat and on /v1; only you change it); [] makes it private.',
      body: teamIdsBody,
      response: assistantSchema,
    },
    async ({ c, body, principal }) =>
      c.json(
        assistantView(await assistants.setTeams(principal, c.req.param('id')!, body.teamIds), principal),
      ),
  );
}
