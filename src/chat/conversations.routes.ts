import type { Hono } from 'hono';
import { z } from 'zod';
import type { ApiRegistry } from '../http/api-registry.ts';
import type { AppEnv } from '../http/app-env.ts';
import { encodeSse } from '../http/sse.ts';
import type { ChatEvent, ConversationsService } from './conversations.service.ts';

const modelName = z.string().trim().min(1).max(300);
const title = z.string().max(200);
const ids = (what: string) => z.array(z.string().max(100)).max(50).describe(what);
const fileIds = ids(
  'Your files (from /api/files): images go to the model as images, documents are searched.',
);
const knowledgeBaseIds = ids('Knowledge bases you may read (from /api/knowledge), searched for each answer.');

const conversationSchema = z.object({
  id: z.string(),
  title: z.string(),
  model: z.string(),
  knowledgeBaseIds: z.array(z.string()).describe('Attached to the conversation: used for every message.'),
  fileIds: z.array(z.string()).describe('Attached to the conversation: used for every message.'),
  createdAt: z.string(),
  updatedAt: z.string(),
});

const citationSchema = z.object({
  n: z.number().describe('`[n]` in the answer refers to this source.'),
  passageId: z.string().nullable().describe('The passage (chunk) cited; null for a short file read whole.'),
  knowledgeBaseId: z.string().nullable(),
  fileId: z.string(),
  fileName: z.string(),
  page: z.number().nullable().describe('1-based PDF page; null for documents without pages.'),
  headings: z.array(z.string()).describe('Heading path, outermost first.'),
});

const messageSchema = z.object({
  id: z.string(),
  role: z.enum(['user', 'assistant']),
  content: z.string(),
  model: z.string(),
  status: z.enum(['complete', 'stopped', 'failed']),
  error: z
    .object({ code: z.string(), message: z.string() })
    .nullable()
    .describe('Why a failed answer failed; null otherwise.'),
  attachments: z
    .object({
      files: z.array(z.object({ id: z.string(), name: z.string(), mediaType: z.string() })),
      knowledgeBases: z.array(z.object({ id: z.string(), name: z.string() })),
    })
    .describe('What was attached to this message (a file or knowledge base deleted since is left out).'),
  citations: z.array(citationSchema).describe("An answer's numbered sources; [] when none."),
  createdAt: z.string(),
});

const eventSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('user'), message: messageSchema }),
  z.object({ type: z.literal('delta'), text: z.string() }),
  z.object({ type: z.literal('done'), message: messageSchema }),
  z.object({
    type: z.literal('error'),
    code: z.string(),
    message: z.string(),
    details: z
      .record(z.string(), z.unknown())
      .optional()
      .describe(
        'For a refusal by a Keyway limit (budget_exceeded, rate_limited): {limit: {scope, kind, amount, period}, resetsAt}.',
      ),
    messageId: z.string().optional().describe('The stored (failed) assistant message.'),
  }),
]);

const modelOptionSchema = z.object({
  id: z.string(),
  label: z.string(),
  kind: z.enum(['model', 'bot']),
  provider: z.string().optional(),
});

const encoder = new TextEncoder();

/** The web UI's chat: conversations, their messages, replies streamed as SSE, and the model picker. */
export function registerConversationsRoutes(
  app: Hono<AppEnv>,
  api: ApiRegistry,
  conversations: ConversationsService,
): void {
  api.add(
    app,
    {
      method: 'get',
      path: '/api/conversations',
      summary: 'Your conversations, most recently active first; q searches titles and messages.',
      tag: 'chat',
      auth: 'user',
      query: z.object({
        q: z.string().max(200).optional(),
        limit: z.coerce.number().int().min(1).max(1000).default(500),
      }),
      response: z.array(conversationSchema),
    },
    async ({ c, query, principal }) =>
      c.json(await conversations.list(principal, { search: query.q, limit: query.limit })),
  );

  api.add(
    app,
    {
      method: 'post',
      path: '/api/conversations',
      summary: `Start a conversation (the title defaults to "New chat" and is set from the first message).`,
      tag: 'chat',
      auth: 'user',
      body: z
        .object({
          model: modelName,
          title: title.optional(),
          fileIds: fileIds.optional(),
          knowledgeBaseIds: knowledgeBaseIds.optional(),
        })
        .strict(),
      response: conversationSchema,
      status: 201,
    },
    async ({ c, body, principal }) => c.json(await conversations.create(principal, body), 201),
  );

  api.add(
    app,
    {
      method: 'get',
      path: '/api/conversations/:id',
      summary: 'One conversation with its messages, in order.',
      tag: 'chat',
      auth: 'user',
      response: conversationSchema.extend({ messages: z.array(messageSchema) }),
    },
    async ({ c, principal }) => c.json(await conversations.get(principal, c.req.param('id')!)),
  );

  api.add(
    app,
    {
      method: 'patch',
      path: '/api/conversations/:id',
      summary:
        'Rename a conversation, change its model, or replace the files / knowledge bases attached to it (a list given replaces the old one).',
      tag: 'chat',
      auth: 'user',
      body: z
        .object({
          title: title.optional(),
          model: modelName.optional(),
          fileIds: fileIds.optional(),
          knowledgeBaseIds: knowledgeBaseIds.optional(),
        })
        .strict(),
      response: conversationSchema,
    },
    async ({ c, body, principal }) => c.json(await conversations.update(principal, c.req.param('id')!, body)),
  );

  api.add(
    app,
    {
      method: 'delete',
      path: '/api/conversations/:id',
      summary: 'Delete a conversation and its messages.',
      tag: 'chat',
      auth: 'user',
      status: 204,
    },
    async ({ c, principal }) => {
      await conversations.delete(principal, c.req.param('id')!);
      return c.body(null, 204);
    },
  );

  api.add(
    app,
    {
      method: 'post',
      path: '/api/conversations/:id/messages',
      summary:
        'Send a message and stream the answer as SSE: user (the stored message), delta…, then done (the stored answer) or error. ' +
        'replaceFrom deletes that message and every later one first (edit and resend); regenerate answers the last message again. ' +
        "Attached knowledge bases and documents are searched first; done's message carries the answer's citations. " +
        "Refused before anything is stored: another user's file or knowledge base (404), images for a model without vision (400 model_without_vision).",
      tag: 'chat',
      auth: 'user',
      body: z
        .object({
          content: z.string().max(200_000).optional(),
          model: modelName.optional(),
          replaceFrom: z.string().max(100).optional(),
          regenerate: z.boolean().optional(),
          attachments: z
            .object({ fileIds: fileIds.optional(), knowledgeBaseIds: knowledgeBaseIds.optional() })
            .strict()
            .optional()
            .describe('Attached to this message only.'),
        })
        .strict(),
      response: eventSchema,
      responseType: 'text/event-stream',
    },
    async ({ c, body, principal }) => {
      const events = await conversations.reply(principal, c.req.param('id')!, body, {
        signal: c.req.raw.signal,
        log: c.get('log'),
      });
      const stream = events.pipeThrough(
        new TransformStream<ChatEvent, Uint8Array>({
          transform: (event, output) => output.enqueue(encoder.encode(encodeSse(JSON.stringify(event)))),
        }),
      );
      return new Response(stream, {
        status: 200,
        headers: {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-cache',
          'x-accel-buffering': 'no',
          'x-request-id': c.get('requestId'),
        },
      });
    },
  );

  api.add(
    app,
    {
      method: 'get',
      path: '/api/models',
      summary: 'The models (and later bots) you may chat with.',
      tag: 'chat',
      auth: 'user',
      response: z.array(modelOptionSchema),
    },
    async ({ c, principal }) => c.json(await conversations.models(principal)),
  );
}
