import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { DB } from '../db/tables.ts';
import { isUuid } from '../ids.ts';
import type { Passage } from './grounding.ts';

/** A knowledge base a reader may search, with the model its chunks were embedded with. */
export interface ReadableBase {
  id: string;
  embeddingModel: string;
}

/** The ids of a ranked list, best first. */
export type Ranked = string[];

/**
 * The SQL of retrieval: who may read which knowledge base, keyword search over the chunks' `tsv`,
 * vector search (pgvector's HNSW or an exact scan), and passages by id. Every search takes the ids
 * `readableBases` returned, so nothing here searches a knowledge base its caller may not read.
 */
export class RetrievalRepository {
  readonly #db: Kysely<DB>;

  constructor(db: Kysely<DB>) {
    this.#db = db;
  }

  /**
   * The knowledge bases among `ids` that `userId` may read: today their own. The one place that
   * decides it, so sharing with teams extends this method and nothing else.
   */
  async readableBases(userId: string, ids: readonly string[]): Promise<ReadableBase[]> {
    const wanted = ids.filter(isUuid);
    if (wanted.length === 0) return [];
    return this.#db
      .selectFrom('knowledge_bases')
      .select(['id', 'embedding_model as embeddingModel'])
      .where('owner_id', '=', userId)
      .where('id', 'in', wanted)
      .execute();
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
   * Chunks matching any of `words` (PostgreSQL full text, the 'simple' configuration the `tsv` column
   * is built with), by `ts_rank`.
   */
  async keywordSearch(kbIds: readonly string[], words: readonly string[], limit: number): Promise<Ranked> {
    if (kbIds.length === 0 || words.length === 0) return [];
    const query = sql.join(
      words.map((word) => sql`plainto_tsquery('simple', ${word})`),
      sql` || `,
    );
    const rows = await sql<{ id: number }>`
      SELECT c.id FROM knowledge_chunks c, (SELECT ${query} AS q) AS query
       WHERE c.kb_id IN (${sql.join(kbIds)}) AND c.tsv @@ query.q
       ORDER BY ts_rank(c.tsv, query.q) DESC, c.id
       LIMIT ${limit}`.execute(this.#db);
    return rows.rows.map((row) => String(row.id));
  }

  /**
   * Nearest chunks by cosine with pgvector: through the HNSW index of this dimension when there is
   * one (the expression and predicate are the index's, so the planner can use it). `relaxed_order`
   * lets the scan go on past the first candidates when the knowledge-base filter drops them; the
   * outer query restores the exact order.
   */
  async pgvectorSearch(kbIds: readonly string[], vector: readonly number[], limit: number): Promise<Ranked> {
    if (kbIds.length === 0) return [];
    return this.#db.transaction().execute(async (trx) => {
      await sql`SET LOCAL hnsw.ef_search = ${sql.lit(Math.max(limit * 2, 100))}`.execute(trx);
      await sql`SET LOCAL hnsw.iterative_scan = relaxed_order`.execute(trx);
      const rows = await pgvectorQuery(kbIds, vector, limit).execute(trx);
      return rows.rows.map((row) => String(row.id));
    });
  }

  /** Nearest chunks by cosine, computed over every chunk of the knowledge bases (no extension needed). */
  async exactSearch(kbIds: readonly string[], vector: readonly number[], limit: number): Promise<Ranked> {
    if (kbIds.length === 0) return [];
    const rows = await exactQuery(kbIds, vector, limit).execute(this.#db);
    return rows.rows.map((row) => String(row.id));
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

/** The pgvector nearest-neighbour query, as the index of its dimension is declared (see vector-index.ts). */
export function pgvectorQuery(
  kbIds: readonly string[],
  vector: readonly number[],
  limit: number,
): RawBuilder<{ id: number }> {
  const n = sql.lit(vector.length);
  return sql<{ id: number }>`
    SELECT id FROM (
      SELECT c.id, (c.embedding::vector(${n})) <=> ${vectorLiteral(vector)}::vector(${n}) AS distance
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
): RawBuilder<{ id: number }> {
  const norm = Math.hypot(...vector) || 1;
  const unit = `{${vector.map((value) => value / norm).join(',')}}`;
  return sql<{ id: number }>`
    SELECT c.id FROM knowledge_chunks c
     WHERE c.kb_id IN (${sql.join(kbIds)}) AND array_length(c.embedding, 1) = ${vector.length}
     ORDER BY (SELECT sum(a * b) / sqrt(nullif(sum(a * a), 0))
                 FROM unnest(c.embedding, ${unit}::real[]) AS u(a, b)) DESC NULLS LAST, c.id
     LIMIT ${limit}`;
}
