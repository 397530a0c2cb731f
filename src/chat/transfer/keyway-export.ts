import { z } from 'zod';

/**
 * Keyway's export format (docs/chat-export-and-sharing.md), version 1: every conversation whole —
 * every branch, its settings, title and folder name. Import reads exactly this shape back.
 */
export const KEYWAY_EXPORT_FORMAT = 'keyway.conversations';
export const KEYWAY_EXPORT_VERSION = 1;

const isoTime = z.iso.datetime({ offset: true });
const nullableNumber = z.number().finite().nullable();

export const exportedMessageSchema = z.object({
  id: z.string().min(1).max(200),
  parentId: z.string().max(200).nullable(),
  role: z.enum(['user', 'assistant']),
  content: z.string(),
  model: z.string().max(300),
  status: z.enum(['complete', 'stopped', 'failed']).default('complete'),
  error: z
    .object({ code: z.string().max(100), message: z.string().max(10_000) })
    .nullable()
    .default(null),
  createdAt: isoTime,
});

export const exportedConversationSchema = z.object({
  id: z.string().max(200),
  title: z.string().max(10_000),
  titleSource: z.enum(['auto', 'generated', 'user']).default('user'),
  model: z.string().max(300),
  folder: z.string().max(500).nullable().default(null),
  pinned: z.boolean().default(false),
  archivedAt: isoTime.nullable().default(null),
  settings: z
    .object({
      systemPrompt: z.string().nullable().default(null),
      temperature: nullableNumber.default(null),
      maxTokens: z.number().int().positive().nullable().default(null),
      contextMessages: z.number().int().positive().nullable().default(null),
      contextTokens: z.number().int().positive().nullable().default(null),
    })
    .default({
      systemPrompt: null,
      temperature: null,
      maxTokens: null,
      contextMessages: null,
      contextTokens: null,
    }),
  currentLeafId: z.string().max(200).nullable().default(null),
  createdAt: isoTime,
  updatedAt: isoTime,
  messages: z.array(exportedMessageSchema),
});

export const keywayExportSchema = z.object({
  format: z.literal(KEYWAY_EXPORT_FORMAT),
  version: z.literal(KEYWAY_EXPORT_VERSION),
  exportedAt: isoTime.optional(),
  conversations: z.array(exportedConversationSchema),
});

export type KeywayExport = z.infer<typeof keywayExportSchema>;
export type ExportedConversation = z.infer<typeof exportedConversationSchema>;
export type ExportedMessage = z.infer<typeof exportedMessageSchema>;
