import type { Context, Hono } from 'hono';
import { z } from 'zod';
import { KeywayError } from '../errors.ts';
import type { ApiRegistry } from '../http/api-registry.ts';
import type { AppEnv } from '../http/app-env.ts';
import { readJson } from '../http/read-json.ts';
import type { BotEngine, BotOutcome, InboundMessage } from './bot-engine.ts';
import {
  botViewSchema,
  createBotSchema,
  inboundMessageSchema,
  type InboundMessageInput,
  sessionStatusSchema,
  updateBotSchema,
} from './bot.schema.ts';
import type { BotSessionsService } from './bot-sessions.service.ts';
import type { BotsService } from './bots.service.ts';
import { evolutionWebhookSchema, readEvolutionEvent } from './channels/evolution-payload.ts';

const outcomeSchema = z.object({
  replies: z.array(z.string()),
  session: z.object({ id: z.string(), status: z.enum(['opened', 'paused', 'closed']) }).nullable(),
  reason: z
    .string()
    .optional()
    .describe('Why the bot stayed silent: no_trigger, paused, ignored, debounced, …'),
  failed: z.boolean().optional(),
});

const sessionSchema = z.object({
  id: z.string(),
  contact: z.string(),
  contactName: z.string().nullable(),
  status: z.enum(['opened', 'paused', 'closed']),
  closeReason: z.string().nullable(),
  lastFailure: z
    .object({ code: z.string(), message: z.string(), at: z.string() })
    .nullable()
    .describe(
      "Why the bot's last reply failed (a limit, the provider); the contact only saw the failure text.",
    ),
  messages: z.number(),
  openedAt: z.string(),
  lastActivityAt: z.string(),
  closedAt: z.string().nullable(),
});

export interface BotsRouteDeps {
  bots: BotsService;
  sessions: BotSessionsService;
  engine: BotEngine;
}

/** The bots REST API (owner-scoped) and the inbound channel hooks (authenticated by the bot's secret). */
export function registerBotsRoutes(app: Hono<AppEnv>, api: ApiRegistry, deps: BotsRouteDeps): void {
  const { bots, sessions, engine } = deps;
  api.add(
    app,
    {
      method: 'get',
      path: '/api/bots',
      summary: 'Your bots.',
      tag: 'bots',
      auth: 'user',
      response: z.array(botViewSchema),
    },
    async ({ c, principal }) => c.json(await bots.list(principal)),
  );

  api.add(
    app,
    {
      method: 'post',
      path: '/api/bots',
      summary: 'Create a bot. The response carries its inbound secret, shown this once.',
      tag: 'bots',
      auth: 'user',
      body: createBotSchema,
      response: botViewSchema,
      status: 201,
    },
    async ({ c, body, principal }) => c.json(await bots.create(principal, body), 201),
  );

  api.add(
    app,
    {
      method: 'get',
      path: '/api/bots/:id',
      summary: 'One bot.',
      tag: 'bots',
      auth: 'user',
      response: botViewSchema,
    },
    async ({ c, principal }) => c.json(await bots.get(principal, c.req.param('id')!)),
  );

  api.add(
    app,
    {
      method: 'patch',
      path: '/api/bots/:id',
      summary:
        'Change a bot; nested objects are replaced whole. `rotateInboundSecret` returns a new secret once.',
      tag: 'bots',
      auth: 'user',
      body: updateBotSchema,
      response: botViewSchema,
    },
    async ({ c, body, principal }) => c.json(await bots.update(principal, c.req.param('id')!, body)),
  );

  api.add(
    app,
    {
      method: 'delete',
      path: '/api/bots/:id',
      summary: 'Delete a bot and its sessions.',
      tag: 'bots',
      auth: 'user',
      status: 204,
    },
    async ({ c, principal }) => {
      await bots.delete(principal, c.req.param('id')!);
      return c.body(null, 204);
    },
  );

  api.add(
    app,
    {
      method: 'post',
      path: '/api/bots/:id/messages',
      summary: 'Send a message as a contact (the HTTP channel) and get the bot’s replies.',
      tag: 'bots',
      auth: 'user',
      body: inboundMessageSchema,
      response: outcomeSchema,
    },
    async ({ c, body, principal }) => {
      const bot = await bots.loadOwned(principal, c.req.param('id')!);
      return c.json(await engine.converse(bot, inboundMessage(body)));
    },
  );

  api.add(
    app,
    {
      method: 'get',
      path: '/api/bots/:id/sessions',
      summary: 'The bot’s sessions, most recently active first.',
      tag: 'bots',
      auth: 'user',
      query: z.object({
        status: z.enum(['opened', 'paused', 'closed']).optional(),
        limit: z.coerce.number().int().min(1).max(500).default(100),
      }),
      response: z.array(sessionSchema),
    },
    async ({ c, query, principal }) => c.json(await sessions.list(principal, c.req.param('id')!, query)),
  );

  api.add(
    app,
    {
      method: 'get',
      path: '/api/bots/:id/sessions/:sessionId/messages',
      summary:
        "A session's transcript, oldest first: the newest `limit` messages (before message `before`, to page back).",
      tag: 'bots',
      auth: 'user',
      query: z.object({
        limit: z.coerce.number().int().min(1).max(500).default(200),
        before: z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional(),
      }),
      response: z.object({
        session: sessionSchema,
        messages: z.array(
          z.object({
            id: z.number(),
            role: z.enum(['user', 'assistant']),
            content: z.string(),
            at: z.string(),
          }),
        ),
        hasMore: z.boolean().describe('Older messages remain: ask again with before = the first id.'),
      }),
    },
    async ({ c, query, principal }) =>
      c.json(
        await sessions.transcript(principal, c.req.param('id')!, c.req.param('sessionId')!, {
          limit: query.limit,
          ...(query.before !== undefined ? { before: query.before } : {}),
        }),
      ),
  );

  api.add(
    app,
    {
      method: 'post',
      path: '/api/bots/:id/sessions/:contact/status',
      summary: 'Open, pause (human takeover) or close the session of a contact.',
      tag: 'bots',
      auth: 'user',
      body: sessionStatusSchema,
      response: sessionSchema,
    },
    async ({ c, body, principal }) =>
      c.json(
        await sessions.setStatus(
          principal,
          c.req.param('id')!,
          // Hono has decoded the path parameter once already; decoding again would turn a contact
          // holding `%` into another contact (or fail on `%zz`).
          c.req.param('contact')!,
          body.status,
        ),
      ),
  );

  app.post('/hooks/bots/:id', async (c) => {
    const bot = await bots.loadForHook(c.req.param('id'), presentedSecret(c));
    // A contact's text may hold NUL: cleaned by the channel mapping, never refused (nothing is lost).
    const parsed = inboundMessageSchema.safeParse(await readJson(c, { allowNul: true }));
    if (!parsed.success) throw invalidPayload(parsed.error.issues[0]!);
    return accepted(c, await engine.accept(bot, inboundMessage(parsed.data), 'webhook'));
  });

  app.post('/hooks/evolution/:id', async (c) => {
    const bot = await bots.loadForHook(c.req.param('id'), presentedSecret(c));
    if (!bot.record.evolutionServerUrl)
      throw new KeywayError(
        'channel_not_configured',
        'This bot has no Evolution API connection; set channels.evolution first.',
      );
    const parsed = evolutionWebhookSchema.safeParse(await readJson(c, { allowNul: true }));
    if (!parsed.success) throw invalidPayload(parsed.error.issues[0]!);
    const event = readEvolutionEvent(parsed.data);
    if (event.kind === 'invalid')
      throw new KeywayError('invalid_payload', `Not an Evolution API message: ${event.message}`);
    if (event.kind === 'skipped') return c.json({ accepted: false, reason: event.reason }, 200);
    if (event.instance !== undefined && event.instance !== bot.record.evolutionInstance) {
      throw new KeywayError(
        'instance_mismatch',
        `This webhook came from instance "${event.instance}", but the bot answers through "${bot.record.evolutionInstance}".`,
      );
    }
    return accepted(c, await engine.accept(bot, event.message, 'evolution'));
  });
}

/** A message of the HTTP or the generic webhook channel, as the engine takes it. */
function inboundMessage(body: InboundMessageInput): InboundMessage {
  return {
    contact: body.contact,
    contactName: body.name ?? null,
    text: body.text ?? null,
    fromMe: body.fromMe,
    externalId: body.messageId ?? null,
    media: null,
  };
}

function accepted(c: Context<AppEnv>, outcome: BotOutcome) {
  return c.json({ accepted: outcome.reason === 'accepted', reason: outcome.reason ?? null }, 202);
}

/** Evolution API cannot sign its webhooks, so the secret may also come as `?secret=`. */
function presentedSecret(c: Context<AppEnv>): string | undefined {
  return c.req.header('x-keyway-secret') ?? c.req.query('secret');
}

const invalidPayload = (issue: z.core.$ZodIssue) =>
  new KeywayError('invalid_payload', `${issue.path.join('.') || 'body'}: ${issue.message}`);
