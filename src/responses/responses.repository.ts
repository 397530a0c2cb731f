import { sql, type ColumnType, type Kysely } from 'kysely';
import type { DB } from '../db/tables.ts';
import type { OutputItem, ResponseObject } from '../gateway/codecs/response-object.ts';
import type { ResponseItem } from '../gateway/codecs/responses.ts';

/** `stored_responses` (migration 0014): kept beside `DB` until the table joins it. */
export interface StoredResponsesTable {
  id: string;
  owner_id: string;
  previous_response_id: string | null;
  input: ColumnType<ResponseItem[], string, never>;
  response: ColumnType<ResponseObject, string, never>;
  created_at: ColumnType<Date, Date | undefined, never>;
  expires_at: ColumnType<Date, Date, never>;
}

/** `relayed_responses` (migration 0014): where a response relayed to OpenAI was made, for its owner. */
export interface RelayedResponsesTable {
  id: string;
  owner_id: string;
  credential_id: string;
  model: string;
  created_at: ColumnType<Date, Date | undefined, never>;
  expires_at: ColumnType<Date, Date, never>;
}

type Tables = DB & { stored_responses: StoredResponsesTable; relayed_responses: RelayedResponsesTable };

/** Where a relayed response lives: the credential that made it, and its model. */
export interface RelayedResponse {
  credentialId: string;
  model: string;
}

/** One link of a conversation: what its turn sent and what the model answered. */
export interface ResponseTurn {
  id: string;
  input: ResponseItem[];
  output: OutputItem[];
}

/** How many links a chain may have: far past any conversation, short of a query that never ends. */
export const MAX_CHAIN_LENGTH = 1_000;

/**
 * The responses Keyway produced for translated models. Every read is scoped by owner and skips
 * expired rows, so another user's id and an expired id look the same: not found.
 */
export class ResponsesRepository {
  readonly #db: Kysely<Tables>;

  constructor(db: Kysely<DB>) {
    this.#db = db.withTables<{
      stored_responses: StoredResponsesTable;
      relayed_responses: RelayedResponsesTable;
    }>();
  }

  async insert(row: {
    id: string;
    ownerId: string;
    previousResponseId: string | null;
    input: ResponseItem[];
    response: ResponseObject;
    expiresAt: Date;
  }): Promise<void> {
    await this.#db
      .insertInto('stored_responses')
      .values({
        id: row.id,
        owner_id: row.ownerId,
        previous_response_id: row.previousResponseId,
        input: JSON.stringify(row.input),
        response: JSON.stringify(row.response),
        expires_at: row.expiresAt,
      })
      .execute();
  }

  async find(ownerId: string, id: string, now: Date): Promise<ResponseObject | undefined> {
    const row = await this.#db
      .selectFrom('stored_responses')
      .select('response')
      .where('id', '=', id)
      .where('owner_id', '=', ownerId)
      .where('expires_at', '>', now)
      .executeTakeFirst();
    return row?.response;
  }

  /**
   * The conversation that ends with `id`, oldest turn first, in one query (a recursive walk along
   * `previous_response_id`); empty when `id` is not the owner's. A link that expired or was deleted
   * ends the walk: the turns after it are what is left of the conversation.
   */
  async chain(ownerId: string, id: string, now: Date): Promise<ResponseTurn[]> {
    const result = await sql<{ id: string; input: ResponseItem[]; output: OutputItem[] }>`
      WITH RECURSIVE chain AS (
        SELECT id, previous_response_id, input, response -> 'output' AS output, 1 AS depth
          FROM stored_responses
         WHERE id = ${id} AND owner_id = ${ownerId} AND expires_at > ${now}
        UNION ALL
        SELECT r.id, r.previous_response_id, r.input, r.response -> 'output', c.depth + 1
          FROM stored_responses r
          JOIN chain c ON r.id = c.previous_response_id
         WHERE r.owner_id = ${ownerId} AND r.expires_at > ${now} AND c.depth < ${MAX_CHAIN_LENGTH}
      )
      SELECT id, input, output FROM chain ORDER BY depth DESC`.execute(this.#db);
    return result.rows;
  }

  /** Deletes one of the owner's responses; false when there was none to delete. */
  async delete(ownerId: string, id: string, now: Date): Promise<boolean> {
    const result = await this.#db
      .deleteFrom('stored_responses')
      .where('id', '=', id)
      .where('owner_id', '=', ownerId)
      .where('expires_at', '>', now)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  /** Remembers which credential made a response relayed to OpenAI (again: the same row). */
  async insertRelayed(row: {
    id: string;
    ownerId: string;
    credentialId: string;
    model: string;
    expiresAt: Date;
  }): Promise<void> {
    await this.#db
      .insertInto('relayed_responses')
      .values({
        id: row.id,
        owner_id: row.ownerId,
        credential_id: row.credentialId,
        model: row.model,
        expires_at: row.expiresAt,
      })
      .onConflict((conflict) => conflict.column('id').doNothing())
      .execute();
  }

  /** Where one of the owner's relayed responses lives; undefined for anyone else's or an expired one. */
  async findRelayed(ownerId: string, id: string, now: Date): Promise<RelayedResponse | undefined> {
    const row = await this.#db
      .selectFrom('relayed_responses')
      .select(['credential_id', 'model'])
      .where('id', '=', id)
      .where('owner_id', '=', ownerId)
      .where('expires_at', '>', now)
      .executeTakeFirst();
    return row && { credentialId: row.credential_id, model: row.model };
  }

  async deleteRelayed(ownerId: string, id: string): Promise<void> {
    await this.#db
      .deleteFrom('relayed_responses')
      .where('id', '=', id)
      .where('owner_id', '=', ownerId)
      .execute();
  }

  /** Removes what has expired, of both kinds. Idempotent: several nodes sweeping at once delete each row once. */
  async deleteExpired(now: Date): Promise<number> {
    const stored = await this.#db
      .deleteFrom('stored_responses')
      .where('expires_at', '<=', now)
      .executeTakeFirst();
    const relayed = await this.#db
      .deleteFrom('relayed_responses')
      .where('expires_at', '<=', now)
      .executeTakeFirst();
    return Number(stored.numDeletedRows) + Number(relayed.numDeletedRows);
  }
}
