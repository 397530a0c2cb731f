import type { Kysely } from 'kysely';
import type { DB } from '../db/tables.ts';

/** Each user's chat preferences (today: the title model), one row per user who set one. */
export class ChatPreferencesRepository {
  readonly #db: Kysely<DB>;

  constructor(db: Kysely<DB>) {
    this.#db = db;
  }

  async titleModel(userId: string): Promise<string | null> {
    const row = await this.#db
      .selectFrom('chat_preferences')
      .select('title_model')
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return row?.title_model ?? null;
  }

  async setTitleModel(userId: string, titleModel: string | null): Promise<void> {
    await this.#db
      .insertInto('chat_preferences')
      .values({ user_id: userId, title_model: titleModel })
      .onConflict((conflict) =>
        conflict.column('user_id').doUpdateSet({ title_model: titleModel, updated_at: new Date() }),
      )
      .execute();
  }
}
