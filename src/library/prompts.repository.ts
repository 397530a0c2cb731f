import type { Kysely } from 'kysely';
import type { DB } from '../db/tables.ts';

export interface PromptRecord {
  id: string;
  name: string;
  content: string;
  createdAt: Date;
  updatedAt: Date;
}

/** The prompt library: each user's own saved prompts, every query scoped by the owner. */
export class PromptsRepository {
  readonly #db: Kysely<DB>;

  constructor(db: Kysely<DB>) {
    this.#db = db;
  }

  #owned(ownerId: string) {
    return this.#db
      .selectFrom('chat_prompts')
      .where('owner_id', '=', ownerId)
      .select(['id', 'name', 'content', 'created_at as createdAt', 'updated_at as updatedAt']);
  }

  async list(ownerId: string): Promise<PromptRecord[]> {
    return this.#owned(ownerId).orderBy('name').orderBy('id').execute();
  }

  async find(ownerId: string, id: string): Promise<PromptRecord | undefined> {
    return this.#owned(ownerId).where('id', '=', id).executeTakeFirst();
  }

  async create(ownerId: string, id: string, input: { name: string; content: string }): Promise<void> {
    await this.#db
      .insertInto('chat_prompts')
      .values({ id, owner_id: ownerId, ...input })
      .execute();
  }

  /** False when the owner has no such prompt. */
  async update(ownerId: string, id: string, changes: { name?: string; content?: string }): Promise<boolean> {
    const result = await this.#db
      .updateTable('chat_prompts')
      .set({ ...changes, updated_at: new Date() })
      .where('owner_id', '=', ownerId)
      .where('id', '=', id)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  async delete(ownerId: string, id: string): Promise<boolean> {
    const result = await this.#db
      .deleteFrom('chat_prompts')
      .where('owner_id', '=', ownerId)
      .where('id', '=', id)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }
}
