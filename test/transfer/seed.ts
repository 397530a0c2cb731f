import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { DB } from '../../src/db/tables.ts';

export interface SeedMessage {
  /** A name for the test to refer to it by. */
  key: string;
  parent: string | null;
  role: 'user' | 'assistant';
  content: string;
}

/**
 * A conversation as the chat stores it (rows in `chat_conversations` / `chat_messages`), with its
 * branches: what the chat API would have written after edits and regenerations.
 */
export async function seedConversation(
  db: Kysely<DB>,
  ownerId: string,
  options: {
    title: string;
    messages: SeedMessage[];
    currentLeaf?: string;
    folder?: string;
    systemPrompt?: string;
    temperature?: number;
    contextMessages?: number;
  },
): Promise<{ id: string; ids: Record<string, string> }> {
  const id = randomUUID();
  const ids: Record<string, string> = {};
  for (const message of options.messages) ids[message.key] = randomUUID();
  let folderId: string | null = null;
  if (options.folder) {
    folderId = randomUUID();
    await db
      .insertInto('chat_folders')
      .values({ id: folderId, owner_id: ownerId, name: options.folder })
      .execute();
  }
  await db
    .insertInto('chat_conversations')
    .values({
      id,
      owner_id: ownerId,
      title: options.title,
      model: 'gpt-4o-mini',
      folder_id: folderId,
      system_prompt: options.systemPrompt ?? null,
      temperature: options.temperature ?? null,
      context_messages: options.contextMessages ?? null,
      current_leaf_id: options.currentLeaf ? ids[options.currentLeaf]! : null,
      title_source: 'user',
    })
    .execute();
  let at = Date.parse('2026-03-01T10:00:00.000Z');
  for (const message of options.messages) {
    await db
      .insertInto('chat_messages')
      .values({
        id: ids[message.key]!,
        conversation_id: id,
        parent_id: message.parent ? ids[message.parent]! : null,
        role: message.role,
        content: message.content,
        model: 'gpt-4o-mini',
        error_code: null,
        error_message: null,
        created_at: new Date((at += 60_000)),
      })
      .execute();
  }
  return { id, ids };
}
