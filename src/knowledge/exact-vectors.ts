/**
 * Exact vector search for a PostgreSQL server without pgvector. Cosine over `real[]` in SQL reads and
 * unnests every vector at every question (2 s for 10,000 chunks of 1536 dimensions on the 2-core CI
 * machine), so the vectors of the knowledge bases searched are kept in this process instead, as
 * normalised float32 arrays, and brought up to date by a cheap check before each search: the count
 * and the highest id of each knowledge base's chunks (ids only grow; a chunk removed changes the
 * count). New chunks are loaded incrementally; anything else reloads the knowledge base. Past the
 * memory bound the search falls back to SQL for what does not fit.
 */
import { sql, type Kysely } from 'kysely';
import type { DB } from '../db/tables.ts';
import { exactQuery, type Ranked } from './retrieval.repository.ts';

/** Vectors kept in memory at most (bytes of float32): about 40,000 chunks of 1536 dimensions. */
export const EXACT_CACHE_BYTES = 256 * 1024 * 1024;
/** Rows fetched per round trip when loading a knowledge base. */
const LOAD_PAGE = 2_000;

interface LoadedBase {
  count: number;
  maxId: number;
  ids: number[];
  dims: number[];
  /** Unit vectors, one after the other. */
  vectors: Float32Array[];
  bytes: number;
}

export class ExactVectorIndex {
  readonly #db: Kysely<DB>;
  readonly #maxBytes: number;
  readonly #bases = new Map<string, LoadedBase>();
  readonly #loading = new Map<string, Promise<LoadedBase | undefined>>();

  constructor(db: Kysely<DB>, options: { maxBytes?: number } = {}) {
    this.#db = db;
    this.#maxBytes = options.maxBytes ?? EXACT_CACHE_BYTES;
  }

  /** The `limit` chunks of `kbIds` nearest to `vector` by cosine, best first. */
  async search(kbIds: readonly string[], vector: readonly number[], limit: number): Promise<Ranked> {
    if (kbIds.length === 0) return [];
    const stats = await this.#stats(kbIds);
    const loaded: LoadedBase[] = [];
    const inSql: string[] = [];
    for (const kbId of kbIds) {
      const base = await this.#current(kbId, stats.get(kbId) ?? { count: 0, maxId: 0 });
      if (base) loaded.push(base);
      else inSql.push(kbId);
    }
    const norm = Math.hypot(...vector) || 1;
    const query = Float32Array.from(vector, (value) => value / norm);
    const best: { id: number; score: number }[] = [];
    let floor = -Infinity;
    for (const base of loaded) {
      for (let row = 0; row < base.ids.length; row++) {
        if (base.dims[row] !== query.length) continue;
        const candidate = base.vectors[row]!;
        let score = 0;
        for (let at = 0; at < query.length; at++) score += candidate[at]! * query[at]!;
        if (best.length >= limit && score <= floor) continue;
        best.push({ id: base.ids[row]!, score });
        if (best.length > limit * 4) {
          best.sort((a, b) => b.score - a.score || a.id - b.id).length = limit;
          floor = best[limit - 1]!.score;
        }
      }
    }
    if (inSql.length > 0) {
      // Too large to keep: scored in SQL, and merged by its own cosine.
      const rows = await exactQuery(inSql, vector, limit).execute(this.#db);
      for (const row of rows.rows) best.push({ id: row.id, score: row.score });
    }
    best.sort((a, b) => b.score - a.score || a.id - b.id);
    return best.slice(0, limit).map((item) => String(item.id));
  }

  async #stats(kbIds: readonly string[]): Promise<Map<string, { count: number; maxId: number }>> {
    const rows = await sql<{ kbId: string; count: number; maxId: number }>`
      SELECT kb_id AS "kbId", count(*)::int AS count, coalesce(max(id), 0)::bigint AS "maxId"
        FROM knowledge_chunks WHERE kb_id IN (${sql.join(kbIds)}) GROUP BY kb_id`.execute(this.#db);
    return new Map(rows.rows.map((row) => [row.kbId, { count: row.count, maxId: Number(row.maxId) }]));
  }

  /** The knowledge base's vectors as they are now, or undefined when they do not fit in memory. */
  async #current(kbId: string, now: { count: number; maxId: number }): Promise<LoadedBase | undefined> {
    const cached = this.#bases.get(kbId);
    if (cached && cached.count === now.count && cached.maxId === now.maxId)
      return touch(this.#bases, kbId, cached);
    let pending = this.#loading.get(kbId);
    if (!pending) {
      pending = this.#load(kbId, now, cached).finally(() => this.#loading.delete(kbId));
      this.#loading.set(kbId, pending);
    }
    return pending;
  }

  async #load(
    kbId: string,
    now: { count: number; maxId: number },
    cached: LoadedBase | undefined,
  ): Promise<LoadedBase | undefined> {
    this.#bases.delete(kbId);
    // Chunks were only added since the last load (ingestion under way): load those, keep the rest.
    const incremental = cached !== undefined && cached.maxId <= now.maxId && cached.count < now.count;
    const base = incremental ? cached : { count: 0, maxId: 0, ids: [], dims: [], vectors: [], bytes: 0 };
    for (;;) {
      const page = await sql<{ id: number; embedding: string }>`
        SELECT id, embedding::text AS embedding FROM knowledge_chunks
         WHERE kb_id = ${kbId} AND id > ${base.maxId} ORDER BY id LIMIT ${LOAD_PAGE}`.execute(this.#db);
      for (const row of page.rows) {
        const vector = parseUnitVector(row.embedding);
        base.ids.push(row.id);
        base.dims.push(vector.length);
        base.vectors.push(vector);
        base.bytes += vector.byteLength;
        base.maxId = row.id;
      }
      if (base.bytes > this.#maxBytes) return undefined;
      if (page.rows.length < LOAD_PAGE) break;
    }
    base.count = base.ids.length;
    // Some chunk went away too (the counts disagree): load the knowledge base from nothing.
    if (incremental && base.ids.filter((id) => id <= now.maxId).length !== now.count)
      return this.#load(kbId, now, undefined);
    return this.#store(kbId, base);
  }

  #store(kbId: string, base: LoadedBase): LoadedBase {
    this.#bases.set(kbId, base);
    let total = 0;
    for (const loaded of this.#bases.values()) total += loaded.bytes;
    // Least recently searched first.
    for (const [id, loaded] of this.#bases) {
      if (total <= this.#maxBytes || id === kbId) break;
      this.#bases.delete(id);
      total -= loaded.bytes;
    }
    return base;
  }
}

function touch<T>(map: Map<string, T>, key: string, value: T): T {
  map.delete(key);
  map.set(key, value);
  return value;
}

/** PostgreSQL's text form of a `real[]` (`{0.1,-2e-05,…}`), normalised to length 1. */
export function parseUnitVector(text: string): Float32Array {
  const parts = text.slice(1, -1).split(',');
  const vector = new Float32Array(parts.length);
  let sum = 0;
  for (let at = 0; at < parts.length; at++) {
    const value = Number(parts[at]);
    vector[at] = value;
    sum += value * value;
  }
  const norm = Math.sqrt(sum) || 1;
  for (let at = 0; at < vector.length; at++) vector[at] = vector[at]! / norm;
  return vector;
}
