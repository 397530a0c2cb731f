import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { DB } from '../db/tables.ts';
import { isUuid } from '../ids.ts';
import type { Passage } from './grounding.ts';
import { readableBy } from './knowledge.repository.ts';
import { HNSW_MAX_DIMENSIONS } from './vector-index.ts';

/**
 * A knowledge base a reader may search, with the model its chunks were embedded with and its owner:
 * a question is embedded as the owner (the model name is the owner's, and names their credential).
 */
export interface ReadableBase {
  id: string;
  embeddingModel: string;
  /** Chunks embedded so far, as ingestion counts them (`knowledge_base_files.embedded_chunks`). */
  chunks: number;
  owner: { id: string; username: string; role: 'admin' | 'member'; disabled: boolean };
}

/**
 * Knowledge bases with at most this many chunks in all are scored exactly even where HNSW exists:
 * as fast as the index at that size, and never misses a chunk.
 */
export const EXACT_BELOW_CHUNKS = 1_000;

/** Chunks matching any word of a question that are ranked at most (see `keywordSearch`). */
export const OR_CANDIDATES = 2_000;

/** The ids of a ranked list, best first. */
export type Ranked = string[];

/**
 * The SQL of retrieval: who may read which knowledge base, keyword search over the chunks' `tsv`,
 * vector search (pgvector's HNSW or an exact scan), and passages by id. Every search takes the ids
 * `readableBases` returned, so nothing here searches a knowledge base its caller may not read.
 */
export class RetrievalRepository {
  readonly #db: Kysely<DB>;
  readonly #exactBelowChunks: number;

  constructor(db: Kysely<DB>, options: { exactBelowChunks?: number } = {}) {
    this.#db = db;
    this.#exactBelowChunks = options.exactBelowChunks ?? EXACT_BELOW_CHUNKS;
  }

  /**
   * The knowledge bases among `ids` that `userId` may read — their own and those shared with a team
   * of theirs, by the one rule every read of knowledge uses (`readableBy`).
   */
  async readableBases(userId: string, ids: readonly string[]): Promise<ReadableBase[]> {
    const wanted = ids.filter(isUuid);
    if (wanted.length === 0) return [];
    const rows = await this.#db
      .selectFrom('knowledge_bases as kb')
      .innerJoin('users as u', 'u.id', 'kb.owner_id')
      .select([
        'kb.id',
        'kb.embedding_model as embeddingModel',
        'u.id as ownerId',
        'u.username as ownerName',
        'u.role as ownerRole',
        'u.disabled_at as ownerDisabledAt',
        (eb) =>
          eb
            .selectFrom('knowledge_base_files as kf')
            .whereRef('kf.kb_id', '=', 'kb.id')
            .select(sql<number>`coalesce(sum(kf.embedded_chunks), 0)::int`.as('chunks'))
            .as('chunks'),
      ])
      .where((eb) => readableBy(eb, userId))
      .where('kb.id', 'in', wanted)
      .execute();
    return rows.map((row) => ({
      id: row.id,
      embeddingModel: row.embeddingModel,
      chunks: Number(row.chunks ?? 0),
      owner: {
        id: row.ownerId,
        username: row.ownerName,
        role: row.ownerRole,
        disabled: row.ownerDisabledAt !== null,
      },
    }));
  }

  /** The dimensions of the vectors stored in each knowledge base (one, unless a model change is under way). */
  async dimensions(kbIds: readonly string[]): Promise<Map<string, number[]>> {
    const byBase = new Map<string, number[]>();
    if (kbIds.length === 0) return byBase;
    // One chunk per file is enough: a file is embedded with one model, hence one dimension.
    const rows = await sql<{ kbId: string; dims: number }>`
      SELECT DISTINCT kb_id AS "kbId", array_length(embedding, 1) AS dims
        FROM knowledge_chunks WHERE kb_id IN (${sql.join(kbIds)}) AND chunk_index = 0`.execute(this.#db);
    for (const row of rows.rows) byBase.set(row.kbId, [...(byBase.get(row.kbId) ?? []), row.dims]);
    return byBase;
  }

  /**
   * Chunks matching the question's words (PostgreSQL full text, the 'simple' configuration the `tsv`
   * column is built with), by `ts_rank`: first those with every word, then, when they are fewer than
   * `limit`, those with any. Ranking reads each match's `tsv`, so the any-word pass ranks at most
   * `OR_CANDIDATES` matches: a word common to the whole knowledge base ("pump" in a pump manual)
   * would otherwise rank every chunk at every question.
   */
  async keywordSearch(kbIds: readonly string[], words: readonly string[], limit: number): Promise<Ranked> {
    if (kbIds.length === 0 || words.length === 0) return [];
    const every = await this.#keywordQuery(
      kbIds,
      sql`plainto_tsquery('simple', ${words.join(' ')})`,
      limit,
      null,
    );
    if (every.length >= limit || words.length === 1) return every;
    const anyWord = sql.join(
      words.map((word) => sql`plainto_tsquery('simple', ${word})`),
      sql` || `,
    );
    const some = await this.#keywordQuery(kbIds, anyWord, limit, OR_CANDIDATES);
    return [...new Set([...every, ...some])].slice(0, limit);
  }

  async #keywordQuery(
    kbIds: readonly string[],
    query: RawBuilder<unknown>,
    limit: number,
    candidates: number | null,
  ): Promise<Ranked> {
    const rows = await sql<{ id: number }>`
      SELECT m.id FROM (
        SELECT c.id, c.tsv FROM knowledge_chunks c
         WHERE c.kb_id IN (${sql.join(kbIds)}) AND c.tsv @@ (${query})
         ${candidates === null ? sql`` : sql`LIMIT ${candidates}`}
      ) AS m
      ORDER BY ts_rank(m.tsv, ${query}) DESC, m.id
      LIMIT ${limit}`.execute(this.#db);
    return rows.rows.map((row) => String(row.id));
  }

  /**
   * Nearest chunks by cosine with pgvector. Knowledge bases with few chunks (`chunks`, their total as
   * `readableBases` counted it, so deciding costs no query) are scored exactly by pgvector's operator
   * (found through the `kb_id` index: a small knowledge base in a large table would otherwise make HNSW
   * walk past many other people's chunks); larger ones go through the HNSW index of the dimension, with
   * `relaxed_order` so the scan goes on past candidates the filter drops (the outer query restores the
   * exact order). The planner is told not to sort, so it takes the index whatever its statistics say.
   */
  async pgvectorSearch(
    kbIds: readonly string[],
    vector: readonly number[],
    limit: number,
    chunks: number,
  ): Promise<Ranked> {
    if (kbIds.length === 0) return [];
    const indexed = vector.length <= HNSW_MAX_DIMENSIONS && chunks > this.#exactBelowChunks;
    if (!indexed) {
      const rows = await pgvectorQuery(kbIds, vector, limit, { indexed: false }).execute(this.#db);
      return rows.rows.map((row) => String(row.id));
    }
    return this.#db.transaction().execute(async (trx) => {
      // One round trip for the four settings (PGlite answers each from its own thread).
      await sql`
        SELECT set_config('hnsw.ef_search', ${String(Math.max(limit, 40))}, true),
               set_config('hnsw.iterative_scan', 'relaxed_order', true),
               set_config('enable_sort', 'off', true),
               set_config('enable_seqscan', 'off', true)`.execute(trx);
      const rows = await pgvectorQuery(kbIds, vector, limit, { indexed: true }).execute(trx);
      return rows.rows.map((row) => String(row.id));
    });
  }

  /** Passages by id, restricted to `kbIds` (the caller's readable knowledge bases). */
  async passages(kbIds: readonly string[], ids: readonly string[]): Promise<Passage[]> {
    const wanted = ids.filter((id) => /^\d{1,18}$/.test(id));
    if (kbIds.length === 0 || wanted.length === 0) return [];
    const rows = await this.#db
      .selectFrom('knowledge_chunks as c')
      .innerJoin('files as f', 'f.id', 'c.file_id')
      .select([
        'c.id',
        'c.kb_id as knowledgeBaseId',
        'c.file_id as fileId',
        'f.name as fileName',
        'c.page',
        'c.headings',
        'c.text',
        'c.tokens',
      ])
      .where('c.kb_id', 'in', kbIds)
      .where('c.id', 'in', wanted)
      .execute();
    return rows.map((row) => ({ ...row, id: String(row.id) }));
  }

  /** The passage `id` if `userId` may read its knowledge base. */
  async passage(userId: string, id: string): Promise<Passage | undefined> {
    if (!/^\d{1,18}$/.test(id)) return undefined;
    const row = await this.#db
      .selectFrom('knowledge_chunks')
      .select('kb_id')
      .where('id', '=', id)
      .executeTakeFirst();
    if (!row) return undefined;
    const readable = await this.readableBases(userId, [row.kb_id]);
    if (readable.length === 0) return undefined;
    return (await this.passages([row.kb_id], [id]))[0];
  }
}

/** pgvector's text form of a vector. */
export const vectorLiteral = (vector: readonly number[]) => `[${vector.join(',')}]`;

/**
 * The pgvector nearest-neighbour query. `indexed`: written as the HNSW index of its dimension is
 * declared (`vector(N)`, see vector-index.ts), so the planner can use it; otherwise cast to
 * `vector` without the dimension, which no index matches: an exact scan of the knowledge bases' chunks.
 */
export function pgvectorQuery(
  kbIds: readonly string[],
  vector: readonly number[],
  limit: number,
  options: { indexed: boolean },
): RawBuilder<{ id: number }> {
  const n = sql.lit(vector.length);
  const type = options.indexed ? sql`vector(${n})` : sql`vector`;
  return sql<{ id: number }>`
    SELECT id FROM (
      SELECT c.id, (c.embedding::${type}) <=> ${vectorLiteral(vector)}::${type} AS distance
        FROM knowledge_chunks c
       WHERE array_length(c.embedding, 1) = ${n} AND c.kb_id IN (${sql.join(kbIds)})
       ORDER BY distance
       LIMIT ${limit}
    ) AS nearest ORDER BY distance, id`;
}

/** Cosine over `real[]` in plain SQL: every chunk of the knowledge bases, no index. */
export function exactQuery(
  kbIds: readonly string[],
  vector: readonly number[],
  limit: number,
): RawBuilder<{ id: number; score: number }> {
  const norm = Math.hypot(...vector) || 1;
  const unit = `{${vector.map((value) => value / norm).join(',')}}`;
  return sql<{ id: number; score: number }>`
    SELECT id, score FROM (
      SELECT c.id, (SELECT sum(a * b) / sqrt(nullif(sum(a * a), 0))
                      FROM unnest(c.embedding, ${unit}::real[]) AS u(a, b)) AS score
        FROM knowledge_chunks c
       WHERE c.kb_id IN (${sql.join(kbIds)}) AND array_length(c.embedding, 1) = ${vector.length}
    ) AS scored
     ORDER BY score DESC NULLS LAST, id
     LIMIT ${limit}`;
}
