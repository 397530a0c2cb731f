import type { Hono } from 'hono';
import { z } from 'zod';
import type { ApiRegistry } from '../http/api-registry.ts';
import type { AppEnv } from '../http/app-env.ts';
import { libraryName, longText } from './library.schema.ts';
import { promptVariables } from './prompt-variables.ts';
import type { PromptRecord } from './prompts.repository.ts';
import type { PromptsService } from './prompts.service.ts';

const promptSchema = z.object({
  id: z.string(),
  name: z.string(),
  content: z.string(),
  variables: z
    .array(z.string())
    .describe('The `{{name}}` placeholders of the content, in order, once each: what the composer asks for.'),
  createdAt: z.string(),
  updatedAt: z.string(),
});

const promptView = (record: PromptRecord) => ({
  id: record.id,
  name: record.name,
  content: record.content,
  variables: promptVariables(record.content),
  createdAt: record.createdAt.toISOString(),
  updatedAt: record.updatedAt.toISOString(),
});

const content = longText
  .min(1)
  .describe('The prompt; `{{name}}` marks a variable (letters, digits, _ . - and spaces, ≤ 64).');

/** The prompt library: your saved prompts, inserted with `/` in the composer. */
export function registerPromptsRoutes(app: Hono<AppEnv>, api: ApiRegistry, prompts: PromptsService): void {
  const common = { tag: 'prompts', auth: 'user' } as const;

  api.add(
    app,
    {
      ...common,
      method: 'get',
      path: '/api/prompts',
      summary: 'Your saved prompts, by name.',
      response: z.array(promptSchema),
    },
    async ({ c, principal }) => c.json((await prompts.list(principal)).map(promptView)),
  );

  api.add(
    app,
    {
      ...common,
      method: 'post',
      path: '/api/prompts',
      summary: 'Save a prompt.',
      body: z.object({ name: libraryName, content }).strict(),
      response: promptSchema,
      status: 201,
    },
    async ({ c, body, principal }) => c.json(promptView(await prompts.create(principal, body)), 201),
  );

  api.add(
    app,
    {
      ...common,
      method: 'get',
      path: '/api/prompts/:id',
      summary: 'One of your prompts.',
      response: promptSchema,
    },
    async ({ c, principal }) => c.json(promptView(await prompts.get(principal, c.req.param('id')!))),
  );

  api.add(
    app,
    {
      ...common,
      method: 'patch',
      path: '/api/prompts/:id',
      summary: 'Rename your prompt or change its content.',
      body: z.object({ name: libraryName.optional(), content: content.optional() }).strict(),
      response: promptSchema,
    },
    async ({ c, body, principal }) =>
      c.json(
        promptView(
          await prompts.update(principal, c.req.param('id')!, {
            ...(body.name !== undefined ? { name: body.name } : {}),
            ...(body.content !== undefined ? { content: body.content } : {}),
          }),
        ),
      ),
  );

  api.add(
    app,
    { ...common, method: 'delete', path: '/api/prompts/:id', summary: 'Delete your prompt.', status: 204 },
    async ({ c, principal }) => {
      await prompts.delete(principal, c.req.param('id')!);
      return c.body(null, 204);
    },
  );
}
