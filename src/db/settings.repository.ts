import { sql, type Kysely } from 'kysely';
import type { DB } from './tables.ts';

/** Installation-wide values in the `settings` table. */
export class SettingsRepository {
  readonly #db: Kysely<DB>;

  constructor(db: Kysely<DB>) {
    this.#db = db;
  }

  async get<T>(key: string): Promise<T | undefined> {
    const row = await this.#db
      .selectFrom('settings')
      .select('value')
      .where('key', '=', key)
      .executeTakeFirst();
    return row?.value as T | undefined;
  }

  async put(key: string, value: unknown): Promise<void> {
    await this.#db
      .insertInto('settings')
      .values({ key, value: JSON.stringify(value) })
      .onConflict((conflict) =>
        conflict.column('key').doUpdateSet({ value: JSON.stringify(value), updated_at: sql`now()` }),
      )
      .execute();
  }

  /** Inserts only when absent; says whether it did. Nodes racing to create a value agree on one. */
  async putIfAbsent(key: string, value: unknown): Promise<boolean> {
    const result = await this.#db
      .insertInto('settings')
      .values({ key, value: JSON.stringify(value) })
      .onConflict((conflict) => conflict.column('key').doNothing())
      .executeTakeFirst();
    return (result.numInsertedOrUpdatedRows ?? 0n) > 0n;
  }

  /** Deletes the value only if it is still `expected`: one taker wins. */
  async takeIfEquals(key: string, expected: unknown): Promise<boolean> {
    const result = await this.#db
      .deleteFrom('settings')
      .where('key', '=', key)
      .where(sql<boolean>`value = ${JSON.stringify(expected)}::jsonb`)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  async delete(key: string): Promise<void> {
    await this.#db.deleteFrom('settings').where('key', '=', key).execute();
  }
}
