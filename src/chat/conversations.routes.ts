import type { Hono } from 'hono';
import { z } from 'zod';
import type { ApiRegistry } from '../http/api-registry.ts';
import type { AppEnv } from '../http/app-env.ts';
import { encodeSse } from '../http/sse.ts';
import type { ChatEvent } from './chat-views.ts';
import type { ConversationsService } from './conversations.service.ts';

const modelName = z.string().trim().min(1).max(300);
const title = z.string().max(200);
const ids = (what: string) => z.array(z.string().max(100)).max(50).describe(what);
const fileIds = ids(
  'Your files (from /api/files): images go to the model as images, documents are searched.',
);
const knowledgeBaseIds = ids('Knowledge bases you may read (from /api/knowledge), searched for each answer.');

/** The largest output a conversation may ask for (providers cap lower; this bounds nonsense). */
const MAX_OUTPUT_TOKENS = 1_000_000;
const MAX_CONTEXT_MESSAGES = 10_000;
const MAX_CONTEXT_TOKENS = 10_000_000;
const SYSTEM_PROMPT_CHARS = 100_000;

const settingsInput = z
  .object({
    systemPrompt: z.string().max(SYSTEM_PROMPT_CHARS).nullable(),
    temperature: z.number().min(0).max(2).nullable(),
    maxTokens: z.number().int().min(1).max(MAX_OUTPUT_TOKENS).nullable(),
    contextMessages: z
      .number()
      .int()
      .min(1)
      .max(MAX_CONTEXT_MESSAGES)
      .nullable()
      .describe('Send only the last N messages of the branch.'),
    contextTokens: z
      .number()
      .int()
      .min(1)
      .max(MAX_CONTEXT_TOKENS)
      .nullable()
      .describe('Send about N tokens of history at most, newest first.'),
  })
  .partial()
  .strict()
  .describe('The fields given replace the stored ones; null clears one (the default).');

const uuid = z.string().max(100);

const conversationSchema = z.object({
  id: z.string(),
  title: z.string(),
  titleSource: z
    .enum(['auto', 'generated', 'user'])
    .describe('auto: the first message cut short; generated: by the title model; user: set by you.'),
  model: z.string(),
  knowledgeBaseIds: z.array(z.string()).describe('Attached to the conversation: used for every message.'),
  fileIds: z.array(z.string()).describe('Attached to the conversation: used for every message.'),
  folderId: z.string().nullable(),
  pinned: z.boolean(),
  archivedAt: z.string().nullable(),
  assistantId: z.string().nullable(),
  settings: z.object({
    systemPrompt: z.string().nullable(),
    temperature: z.number().nullable(),
    maxTokens: z.number().nullable(),
    contextMessages: z.number().nullable(),
    contextTokens: z.number().nullable(),
  }),
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
  parentId: z.string().nullable().describe('The message it follows (null: a first message).'),
  siblings: z
    .object({ ids: z.array(z.string()), index: z.number() })
    .describe('It and the other versions at the same place (edits, regenerated answers), oldest first.'),
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
  kind: z.enum(['model', 'bot', 'assistant']),
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
      summary:
        'Your conversations, pinned first, then most recently active; q searches titles and messages, folderId keeps one folder, archived (default false) shows archived ones.',
      tag: 'chat',
      auth: 'user',
      query: z.object({
        q: z.string().max(200).optional(),
        folderId: z.uuid().optional(),
        archived: z.enum(['false', 'true', 'all']).default('false'),
        limit: z.coerce.number().int().min(1).max(1000).default(500),
      }),
      response: z.array(conversationSchema),
    },
    async ({ c, query, principal }) =>
      c.json(
        await conversations.list(principal, {
          search: query.q,
          folderId: query.folderId,
          archived: query.archived,
          limit: query.limit,
        }),
      ),
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
          folderId: uuid.nullable().optional(),
          pinned: z.boolean().optional(),
          assistantId: uuid.nullable().optional(),
          settings: settingsInput.optional(),
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
      summary:
        'One conversation with the messages of the branch on show, root first; each says its parent and its siblings (the other versions at its place).',
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
        'Rename a conversation (the title is then yours: never replaced by a generated one), change its model, assistant or settings, ' +
        'file it in a folder (null: out), pin or archive it, or replace the files / knowledge bases attached to it (a list given replaces the old one).',
      tag: 'chat',
      auth: 'user',
      body: z
        .object({
          title: title.optional(),
          model: modelName.optional(),
          fileIds: fileIds.optional(),
          knowledgeBaseIds: knowledgeBaseIds.optional(),
          folderId: uuid.nullable().optional(),
          pinned: z.boolean().optional(),
          archived: z.boolean().optional(),
          assistantId: uuid.nullable().optional(),
          settings: settingsInput.optional(),
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
        'Messages form a tree: editOf adds a new user message beside that one (replaceFrom is its former name), regenerate adds a new answer beside the last one, ' +
        'parentId answers after that message instead of the end of the branch on show; nothing is deleted, and only the branch answered goes to the model. ' +
        "The conversation's assistant (its instructions, knowledge bases, settings, model) and settings apply. " +
        "Attached knowledge bases and documents are searched first; done's message carries the answer's citations. " +
        "Refused before anything is stored: another user's file or knowledge base (404), images for a model without vision (400 model_without_vision).",
      tag: 'chat',
      auth: 'user',
      body: z
        .object({
          content: z.string().max(200_000).optional(),
          model: modelName.optional(),
          editOf: uuid.optional().describe('A user message to edit: the new one is its sibling.'),
          replaceFrom: uuid.optional().describe('The former name of editOf.'),
          parentId: uuid.optional().describe('Answer after this message instead of the branch on show.'),
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
      method: 'put',
      path: '/api/conversations/:id/branch',
      summary:
        'Show the branch through a message, down to the newest message under it; answers as GET /api/conversations/:id.',
      tag: 'chat',
      auth: 'user',
      body: z.object({ messageId: uuid }).strict(),
      response: conversationSchema.extend({ messages: z.array(messageSchema) }),
    },
    async ({ c, body, principal }) =>
      c.json(await conversations.showBranch(principal, c.req.param('id')!, body.messageId)),
  );

  api.add(
    app,
    {
      method: 'delete',
      path: '/api/conversations/:id/messages/:messageId',
      summary:
        'Delete a message and every reply under it. If the branch on show went through it, the newest remaining branch is shown.',
      tag: 'chat',
      auth: 'user',
      status: 204,
    },
    async ({ c, principal }) => {
      await conversations.deleteMessage(principal, c.req.param('id')!, c.req.param('messageId')!);
      return c.body(null, 204);
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
