import { z } from 'zod';
import { limitsSchema, type Limits } from '../limits/limits.ts';

/**
 * What a bot is, as `POST /api/bots` takes it. Every field but `name`, `credentialId` and `model` is
 * optional; the defaults below are what a bot does when a field is left out. The same schema (made
 * partial) validates `PATCH`, so the API, the CLI and the importers share one definition.
 */
const TRIGGER_OPERATORS = ['equals', 'contains', 'startsWith', 'endsWith', 'regex'] as const;
export type TriggerOperator = (typeof TRIGGER_OPERATORS)[number];

/**
 * Every string a bot stores: PostgreSQL's `text` and `jsonb` cannot hold U+0000, so it is refused here
 * with a 400 naming the field, not met as a database error (a 500) on save.
 */
const str = () =>
  z.string().refine((value) => !value.includes('\u0000'), 'must not contain the NUL character (U+0000)');
const url = () =>
  z.url().refine((value) => !value.includes('\u0000'), 'must not contain the NUL character (U+0000)');
const text = (max: number) => str().max(max);

export const triggerSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('all') }).strict(),
  z
    .object({
      type: z.literal('keyword'),
      operator: z.enum(TRIGGER_OPERATORS),
      value: str().min(1).max(500),
      caseSensitive: z.boolean().default(false),
    })
    .strict(),
  z.object({ type: z.literal('none') }).strict(),
]);
export type Trigger = z.infer<typeof triggerSchema>;

export const seedMessageSchema = z
  .object({ role: z.enum(['system', 'user', 'assistant']), content: text(20_000) })
  .strict();

/** Generation parameters passed to the provider in OpenAI's names. */
export const paramsSchema = z
  .object({
    temperature: z.number().min(0).max(2).optional(),
    topP: z.number().min(0).max(1).optional(),
    maxTokens: z.number().int().min(1).max(1_000_000).optional(),
    presencePenalty: z.number().min(-2).max(2).optional(),
    frequencyPenalty: z.number().min(-2).max(2).optional(),
    stop: z.array(str().min(1).max(100)).max(4).optional(),
  })
  .strict();

/** A contact id, or a pattern with `*` wildcards such as `*@g.us` (every WhatsApp group). */
const contactPattern = str().min(1).max(200);

const channelsSchema = z
  .object({
    webhook: z
      .object({ callbackUrl: url().max(2_000) })
      .strict()
      .nullable()
      .optional(),
    evolution: z
      .object({
        serverUrl: url().max(2_000),
        instance: str().min(1).max(200),
        /** The instance's API key; write-only. Omit on update to keep the stored one. */
        apiKey: str().min(1).max(500).optional(),
      })
      .strict()
      .nullable()
      .optional(),
  })
  .strict();

/** Behaviour settings: stored together as one document (`bots.config`). */
export const botBehaviourSchema = z.object({
  systemPrompt: text(50_000).default(''),
  seedMessages: z.array(seedMessageSchema).max(50).default([]),
  params: paramsSchema.default({}),
  /** How many earlier messages of the session go into the prompt. */
  historyWindow: z.number().int().min(0).max(200).default(10),
  trigger: triggerSchema.default({ type: 'all' }),
  /** A message equal to this (trimmed, case-insensitive) closes the session; null: none. */
  keywordFinish: text(100).nullable().default(null),
  /** Minutes of inactivity after which the next message starts a new session; null: never. */
  expireMinutes: z.number().int().min(1).max(525_600).nullable().default(null),
  /** A burst of messages within this many seconds of each other becomes one prompt (null: 0). */
  debounceSeconds: z.preprocess((value) => value ?? 0, z.number().min(0).max(300)).default(0),
  ignore: z.array(contactPattern).max(500).default([]),
  takeover: z
    .object({
      /** A message sent by the operator (`fromMe`) pauses the session. */
      pauseOnFromMe: z.boolean().default(true),
      /** Operator messages are answered like a contact's (when not pausing). */
      listenFromMe: z.boolean().default(false),
    })
    .strict()
    .default({ pauseOnFromMe: true, listenFromMe: false }),
  split: z
    .object({
      enabled: z.boolean().default(false),
      delayMs: z.number().int().min(0).max(60_000).default(800),
    })
    .strict()
    .default({ enabled: false, delayMs: 800 }),
  /** The reply to content the bot cannot read (an image, a voice note); null: stay silent. */
  unknownMessage: text(2_000).nullable().default(null),
  /** The reply when the provider fails (never the provider's own words); null: stay silent. */
  failureMessage: text(2_000).nullable().default('Sorry, I cannot answer right now. Please try again later.'),
  /**
   * Knowledge bases the bot answers from (each readable by its owner): every reply, on every channel
   * and as `bot:<name>` on `/v1`, gets the passages relevant to the question as a system message.
   */
  knowledgeBaseIds: z.array(z.uuid()).max(20).default([]),
  /** The most tokens of retrieved passages a reply may take; null: `KEYWAY_RETRIEVAL_TOKEN_BUDGET`. */
  retrievalTokenBudget: z.number().int().min(100).max(200_000).nullable().default(null),
  /** Messaging channels: a reply grounded in knowledge ends with a "Sources: …" line. */
  citeSources: z.boolean().default(false),
  /** Inbound images (Evolution API) go to the model as image parts: the model must see images. */
  images: z.boolean().default(false),
  /** Inbound voice notes (Evolution API) are transcribed with the bot's credential, then answered. */
  speechToText: z.boolean().default(false),
  /** The transcription model, served by the bot's credential (`/v1/audio/transcriptions`). */
  transcriptionModel: str().min(1).max(300).default('whisper-1'),
});
export type BotBehaviour = z.infer<typeof botBehaviourSchema>;

const name = str()
  .min(1)
  .max(100)
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._-]*$/,
    'letters, digits, ".", "_" and "-", starting with a letter or digit',
  );

const references = {
  name,
  credentialId: z.uuid(),
  model: str().min(1).max(300),
  fallbackCredentialIds: z.array(z.uuid()).max(5).default([]),
  fallbackBotId: z.uuid().nullable().default(null),
  channels: channelsSchema.default({}),
  limits: limitsSchema.default({}),
};

export const createBotSchema = botBehaviourSchema.extend(references).strict();
export type CreateBotInput = z.infer<typeof createBotSchema>;

/** `PATCH`: any subset; nested objects replace the stored value whole. */
export const updateBotSchema = z
  .object({
    ...Object.fromEntries(
      Object.entries(botBehaviourSchema.shape).map(([key, schema]) => [key, schema.unwrap().optional()]),
    ),
    name: name.optional(),
    credentialId: z.uuid().optional(),
    model: str().min(1).max(300).optional(),
    fallbackCredentialIds: z.array(z.uuid()).max(5).optional(),
    fallbackBotId: z.uuid().nullable().optional(),
    channels: channelsSchema.optional(),
    limits: limitsSchema.optional(),
    /** Makes a new inbound secret, returned once in the response. */
    rotateInboundSecret: z.boolean().optional(),
  })
  .strict() as unknown as z.ZodType<UpdateBotInput>;

export type UpdateBotInput = Partial<BotBehaviour> & {
  name?: string;
  credentialId?: string;
  model?: string;
  fallbackCredentialIds?: string[];
  fallbackBotId?: string | null;
  channels?: z.infer<typeof channelsSchema>;
  limits?: Limits;
  rotateInboundSecret?: boolean;
};

/** A bot as the API shows it: never a secret (the inbound secret only once, at creation). */
export const botViewSchema = botBehaviourSchema.extend({
  id: z.string(),
  name: z.string(),
  credentialId: z.string().nullable(),
  model: z.string(),
  fallbackCredentialIds: z.array(z.string()),
  fallbackBotId: z.string().nullable(),
  channels: z.object({
    webhook: z.object({ callbackUrl: z.string() }).nullable(),
    evolution: z.object({ serverUrl: z.string(), instance: z.string(), apiKeyHint: z.string() }).nullable(),
  }),
  hooks: z.object({ webhook: z.string(), evolution: z.string() }),
  limits: limitsSchema,
  version: z.number(),
  createdAt: z.string(),
  updatedAt: z.string(),
  inboundSecret: z.string().optional(),
});
export type BotView = z.infer<typeof botViewSchema>;

export const inboundMessageSchema = z
  .object({
    contact: z.string().min(1).max(200),
    text: z.string().max(50_000).nullable().optional(),
    fromMe: z.boolean().default(false),
    name: z.string().max(200).optional(),
    /** The channel's message id: a message delivered twice is answered once. */
    messageId: z.string().min(1).max(200).optional(),
  })
  .strict();
export type InboundMessageInput = z.infer<typeof inboundMessageSchema>;

export const sessionStatusSchema = z.object({ status: z.enum(['opened', 'paused', 'closed']) }).strict();
