import type { Kysely } from 'kysely';
import type { DB } from '../db/tables.ts';

export interface FolderRecord {
  id: string;
  name: string;
  createdAt: Date;
  updatedAt: Date;
}

const FOLDER_COLUMNS = ['id', 'name', 'created_at as createdAt', 'updated_at as updatedAt'] as const;

/** Folders of conversations. Every query is scoped by the owner: another user's folder is not found. */
export class FoldersRepository {
  readonly #db: Kysely<DB>;

  constructor(db: Kysely<DB>) {
    this.#db = db;
  }

  async list(ownerId: string): Promise<FolderRecord[]> {
    return this.#db
      .selectFrom('chat_folders')
      .select(FOLDER_COLUMNS)
      .where('owner_id', '=', ownerId)
      .orderBy('name')
      .orderBy('id')
      .execute();
  }

  async insert(ownerId: string, folder: { id: string; name: string }): Promise<FolderRecord> {
    return this.#db
      .insertInto('chat_folders')
      .values({ ...folder, owner_id: ownerId })
      .returning(FOLDER_COLUMNS)
      .executeTakeFirstOrThrow();
  }

  async rename(ownerId: string, id: string, name: string): Promise<FolderRecord | undefined> {
    return this.#db
      .updateTable('chat_folders')
      .set({ name, updated_at: new Date() })
      .where('id', '=', id)
      .where('owner_id', '=', ownerId)
      .returning(FOLDER_COLUMNS)
      .executeTakeFirst();
  }

  /** Deletes the folder; its conversations move out of it (the foreign key sets theirs to null). */
  async delete(ownerId: string, id: string): Promise<boolean> {
    const result = await this.#db
      .deleteFrom('chat_folders')
      .where('id', '=', id)
      .where('owner_id', '=', ownerId)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }
}
