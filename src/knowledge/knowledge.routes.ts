import type { Hono } from 'hono';
import { z } from 'zod';
import type { ApiRegistry } from '../http/api-registry.ts';
import { KeywayError } from '../errors.ts';
import type { AppEnv } from '../http/app-env.ts';
import type { Grounder } from './grounding.ts';
import type { KnowledgeBaseRecord, KnowledgeFileRecord } from './knowledge.repository.ts';
import type { KnowledgeService } from './knowledge.service.ts';

const name = z.string().trim().min(1).max(100);
const embeddingModel = z
  .string()
  .trim()
  .min(1)
  .max(300)
  .describe('A model name you can use on /v1/embeddings, e.g. `work/text-embedding-3-small`.');

const knowledgeBaseSchema = z.object({
  id: z.string(),
  name: z.string(),
  embeddingModel: z.string(),
  owner: z.object({ id: z.string(), username: z.string() }),
  access: z
    .enum(['owner', 'team'])
    .describe('`owner`: yours to change; `team`: shared with you through a team, read only.'),
  teams: z
    .array(z.object({ id: z.string(), name: z.string() }))
    .describe('Teams it is shared with (for a team reader, only the teams you read it through).'),
  fileCount: z.number(),
  readyCount: z.number().describe('Files whose ingestion has finished.'),
  createdAt: z.string(),
  updatedAt: z.string(),
});

const knowledgeFileSchema = z.object({
  fileId: z.string(),
  name: z.string(),
  mediaType: z.string(),
  status: z.enum(['queued', 'parsing', 'embedding', 'ready', 'failed']),
  embeddedChunks: z.number(),
  totalChunks: z.number().nullable().describe('Null until the file is parsed.'),
  progress: z.string().describe('In words: "queued", "embedding 3 of 8", "ready (8 chunks)", "failed: …".'),
  error: z.string().nullable(),
  attempts: z.number(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

const passageSchema = z.object({
  id: z.string(),
  knowledgeBaseId: z.string(),
  fileId: z.string(),
  fileName: z.string(),
  page: z.number().nullable().describe('1-based PDF page; null for documents without pages.'),
  headings: z.array(z.string()).describe('Heading path, outermost first.'),
  text: z.string(),
});

const baseView = (record: KnowledgeBaseRecord, viewer: { userId: string }) => ({
  id: record.id,
  name: record.name,
  embeddingModel: record.embeddingModel,
  owner: { id: record.ownerId, username: record.ownerName },
  access: record.ownerId === viewer.userId ? ('owner' as const) : ('team' as const),
  teams: record.teams,
  fileCount: record.fileCount,
  readyCount: record.readyCount,
  createdAt: record.createdAt.toISOString(),
  updatedAt: record.updatedAt.toISOString(),
});

const fileView = (record: KnowledgeFileRecord) => ({
  ...record,
  progress: progressText(record),
  createdAt: record.createdAt.toISOString(),
  updatedAt: record.updatedAt.toISOString(),
});

/** A file's ingestion status as a person reads it. */
export function progressText(
  record: Pick<KnowledgeFileRecord, 'status' | 'embeddedChunks' | 'totalChunks' | 'error'>,
): string {
  switch (record.status) {
    case 'embedding':
      return record.totalChunks === null
        ? 'embedding'
        : `embedding ${record.embeddedChunks} of ${record.totalChunks}`;
    case 'ready':
      return `ready (${record.totalChunks ?? 0} ${record.totalChunks === 1 ? 'chunk' : 'chunks'})`;
    case 'failed':
      return `failed: ${record.error ?? 'unknown reason'}`;
    default:
      return record.status;
  }
}

/** Knowledge bases and their files: read by their owner and their teams, changed by their owner. */
export function registerKnowledgeRoutes(
  app: Hono<AppEnv>,
  api: ApiRegistry,
  knowledge: KnowledgeService,
  grounder: Grounder,
): void {
  const common = { tag: 'knowledge', auth: 'user' } as const;

  api.add(
    app,
    {
      ...common,
      method: 'post',
      path: '/api/knowledge',
      summary: 'Create a knowledge base that embeds its files with the given model.',
      body: z.object({ name, embeddingModel }).strict(),
      response: knowledgeBaseSchema,
      status: 201,
    },
    async ({ c, body, principal }) =>
      c.json(baseView(await knowledge.create(principal, body), principal), 201),
  );

  api.add(
    app,
    {
      ...common,
      method: 'get',
      path: '/api/knowledge',
      summary: 'Your knowledge bases and those shared with your teams, by name.',
      response: z.array(knowledgeBaseSchema),
    },
    async ({ c, principal }) =>
      c.json((await knowledge.list(principal)).map((record) => baseView(record, principal))),
  );

  api.add(
    app,
    {
      ...common,
      method: 'get',
      path: '/api/knowledge/:id',
      summary: 'A knowledge base you own or read through a team.',
      response: knowledgeBaseSchema,
    },
    async ({ c, principal }) =>
      c.json(baseView(await knowledge.get(principal, c.req.param('id')!), principal)),
  );

  api.add(
    app,
    {
      ...common,
      method: 'patch',
      path: '/api/knowledge/:id',
      summary: 'Rename a knowledge base or change its embedding model (which embeds every file again).',
      body: z.object({ name: name.optional(), embeddingModel: embeddingModel.optional() }).strict(),
      response: knowledgeBaseSchema,
    },
    async ({ c, body, principal }) =>
      c.json(
        baseView(
          await knowledge.update(principal, c.req.param('id')!, {
            ...(body.name !== undefined ? { name: body.name } : {}),
            ...(body.embeddingModel !== undefined ? { embeddingModel: body.embeddingModel } : {}),
          }),
          principal,
        ),
      ),
  );

  api.add(
    app,
    {
      ...common,
      method: 'put',
      path: '/api/knowledge/:id/teams',
      summary:
        'Share your knowledge base with exactly these teams (their members read and search it; only you change it); [] makes it private.',
      body: z.object({ teamIds: z.array(z.string().min(1).max(100)).max(100) }).strict(),
      response: knowledgeBaseSchema,
    },
    async ({ c, body, principal }) =>
      c.json(baseView(await knowledge.setTeams(principal, c.req.param('id')!, body.teamIds), principal)),
  );

  api.add(
    app,
    {
      ...common,
      method: 'delete',
      path: '/api/knowledge/:id',
      summary: 'Delete a knowledge base and its chunks (the files themselves stay).',
      status: 204,
    },
    async ({ c, principal }) => {
      await knowledge.delete(principal, c.req.param('id')!);
      return c.body(null, 204);
    },
  );

  api.add(
    app,
    {
      ...common,
      method: 'post',
      path: '/api/knowledge/:id/files',
      summary: 'Add one of your files and queue its ingestion (a failed file is queued again).',
      body: z.object({ fileId: z.string().min(1).max(100) }).strict(),
      response: knowledgeFileSchema,
      status: 201,
    },
    async ({ c, body, principal }) =>
      c.json(fileView(await knowledge.addFile(principal, c.req.param('id')!, body.fileId)), 201),
  );

  api.add(
    app,
    {
      ...common,
      method: 'get',
      path: '/api/knowledge/:id/files',
      summary: "The knowledge base's files with their ingestion status and progress.",
      response: z.array(knowledgeFileSchema),
    },
    async ({ c, principal }) =>
      c.json((await knowledge.listFiles(principal, c.req.param('id')!)).map(fileView)),
  );

  api.add(
    app,
    {
      ...common,
      method: 'delete',
      path: '/api/knowledge/:id/files/:fileId',
      summary: 'Remove a file from the knowledge base, with its chunks (the file itself stays).',
      status: 204,
    },
    async ({ c, principal }) => {
      await knowledge.removeFile(principal, c.req.param('id')!, c.req.param('fileId')!);
      return c.body(null, 204);
    },
  );

  api.add(
    app,
    {
      ...common,
      method: 'get',
      path: '/api/knowledge/passages/:id',
      summary: 'A passage of a knowledge base you can read: what a citation opens.',
      response: passageSchema,
    },
    async ({ c, principal }) => {
      const passage = await grounder.passage(principal, c.req.param('id')!);
      if (!passage) throw new KeywayError('not_found', 'Passage not found.');
      const { tokens: _tokens, ...view } = passage;
      return c.json(view);
    },
  );
}
