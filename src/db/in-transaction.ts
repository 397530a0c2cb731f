import type { Kysely } from 'kysely';

/**
 * Runs `fn` in a transaction: a new one, or — when `db` already is one (an import writing many
 * things at once) — that one, so a repository's grouped writes join the caller's transaction.
 */
export function inTransaction<DB, T>(db: Kysely<DB>, fn: (trx: Kysely<DB>) => Promise<T>): Promise<T> {
  return db.isTransaction ? fn(db) : db.transaction().execute(fn);
}
