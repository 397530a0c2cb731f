import { z } from 'zod';

/** The longest prompt, system prompt or instructions a person may save: 100 KB of UTF-8. */
export const MAX_TEXT_BYTES = 100 * 1024;

export const libraryName = z.string().trim().min(1).max(100);
export const modelName = z.string().trim().min(1).max(300);
export const longText = z
  .string()
  .max(MAX_TEXT_BYTES)
  .refine((text) => Buffer.byteLength(text, 'utf8') <= MAX_TEXT_BYTES, { message: 'At most 100 KB.' });
export const teamIdsBody = z.object({ teamIds: z.array(z.string().min(1).max(100)).max(100) }).strict();

export const temperature = z.number().min(0).max(2).nullable();
export const maxTokens = z.number().int().min(1).max(1_000_000).nullable();
export const contextMessages = z
  .number()
  .int()
  .min(1)
  .max(100_000)
  .nullable()
  .describe('Send only the last N messages of the branch (null: all).');
export const contextTokens = z
  .number()
  .int()
  .min(1)
  .max(10_000_000)
  .nullable()
  .describe('Send about this many tokens of history at most, newest first (null: no bound).');

export const chatSettingsSchema = z.object({
  systemPrompt: longText.nullable(),
  temperature,
  maxTokens,
  contextMessages,
  contextTokens,
});

export const ownerSchema = z.object({ id: z.string(), name: z.string() });

/** Who owns it, the teams it is shared with, and whether it is the viewer's. */
export const sharedView = (
  record: { ownerId: string; ownerName: string; teamIds: string[] },
  viewer: { userId: string },
) => ({
  teamIds: record.teamIds,
  owner: { id: record.ownerId, name: record.ownerName },
  mine: record.ownerId === viewer.userId,
});
