/**
 * Which vector search this database can do, and the HNSW indexes pgvector needs for it. Chunks store
 * `real[]` on every database (migration 0016); where the pgvector extension exists (PGlite loads it,
 * a PostgreSQL server may have it installed) retrieval casts them to `vector(N)` and an HNSW index per
 * dimension makes the search fast; elsewhere it is an exact scan. The indexes are created at run time,
 * when a dimension is first seen, so they are not part of the migrated schema: the drift check knows
 * their names (src/db/schema/runtime-indexes.ts) and does not report them.
 */
import { sql, type Kysely } from 'kysely';
import type { Logger } from 'pino';
import { hnswIndexName } from '../db/schema/runtime-indexes.ts';
import type { Database } from '../db/database.ts';
import type { DB } from '../db/tables.ts';
import { messageOf } from '../errors.ts';

/**
 * pgvector's HNSW index takes `vector` of at most this many dimensions; past it the search is exact.
 * (`halfvec` would halve the index and reach 4,000, but on PGlite, in WebAssembly, it built 3–4 times
 * slower: 95 s against 24–29 s for 3,000 × 1536.)
 */
export const HNSW_MAX_DIMENSIONS = 2000;

export { hnswIndexName };

export type VectorSearchMode =
  /**
   * `installed` false: the server offers it and retrieval creates it at its first use. `bundled`: the
   * embedded database's, loaded at the first retrieval (its version is known once loaded).
   */
  | { kind: 'pgvector'; version: string; installed?: boolean; bundled?: boolean }
  | { kind: 'exact'; reason: 'not_installed' | 'not_permitted'; detail?: string };

/** What `keyway doctor` prints about vector search. */
export function describeVectorSearch(mode: VectorSearchMode): string {
  if (mode.kind === 'pgvector' && mode.bundled)
    return 'pgvector (bundled with the embedded database) with HNSW, loaded and created at the first retrieval';
  if (mode.kind === 'pgvector')
    return `pgvector ${mode.version} with HNSW${mode.installed === false ? ' (the extension is created at the first retrieval)' : ''}`;
  if (mode.reason === 'not_permitted')
    return `exact search: Keyway may not create the pgvector extension on this server (${mode.detail ?? 'permission denied'}) — run CREATE EXTENSION vector as a superuser for faster retrieval`;
  return 'exact search: the pgvector extension is not installed on this server — install it for faster retrieval';
}

/** The mode without changing anything: installed, or available to be created at first use. */
export async function probeVectorSearch(
  database: Pick<Database, 'db' | 'loadVectorExtension'>,
): Promise<VectorSearchMode> {
  const probed = await probeLoaded(database.db);
  if (probed.kind === 'exact' && database.loadVectorExtension)
    return { kind: 'pgvector', version: 'bundled', installed: false, bundled: true };
  return probed;
}

/** What the database offers as it is now (pgvector where it is installed or available). */
async function probeLoaded(db: Kysely<DB>): Promise<VectorSearchMode> {
  const rows = await sql<{ installed: string | null; available: string | null }>`
    SELECT (SELECT extversion FROM pg_extension WHERE extname = 'vector') AS installed,
           (SELECT default_version FROM pg_available_extensions WHERE name = 'vector') AS available`.execute(
    db,
  );
  const row = rows.rows[0];
  if (row?.installed) return { kind: 'pgvector', version: row.installed, installed: true };
  if (row?.available) return { kind: 'pgvector', version: row.available, installed: false };
  return { kind: 'exact', reason: 'not_installed' };
}

/**
 * The vector search of one database: creates the extension where it is available (once per process)
 * and each dimension's HNSW index when first needed.
 */
export class VectorIndex {
  readonly #database: Pick<Database, 'db' | 'loadVectorExtension'>;
  readonly #db: Kysely<DB>;
  readonly #logger: Logger;
  #mode: Promise<VectorSearchMode> | undefined;
  readonly #indexes = new Map<number, Promise<void>>();

  constructor(database: Pick<Database, 'db' | 'loadVectorExtension'>, logger: Logger) {
    this.#database = database;
    this.#db = database.db;
    this.#logger = logger;
  }

  /** pgvector (created now if it can be) or exact search. */
  mode(): Promise<VectorSearchMode> {
    this.#mode ??= this.#enable().catch((error: unknown) => {
      this.#mode = undefined;
      throw error;
    });
    return this.#mode;
  }

  async #enable(): Promise<VectorSearchMode> {
    // The embedded database loads its bundled pgvector now (the first retrieval or ingestion of this
    // process), and from then on at every open.
    await this.#database.loadVectorExtension?.();
    const probed = await probeLoaded(this.#db);
    if (probed.kind === 'exact') return probed;
    try {
      await this.#db.transaction().execute(async (trx) => {
        // Two nodes starting together: one creates it, the other waits and finds it.
        await sql`SELECT pg_advisory_xact_lock(hashtext('keyway:pgvector'))`.execute(trx);
        await sql`CREATE EXTENSION IF NOT EXISTS vector`.execute(trx);
      });
    } catch (error) {
      this.#logger.warn({ err: error }, 'could not create the pgvector extension; vector search is exact');
      return { kind: 'exact', reason: 'not_permitted', detail: messageOf(error) };
    }
    return probeLoaded(this.#db);
  }

  /**
   * Makes sure the HNSW index for `dimensions` exists (once per process and dimension). It is built
   * while chunks arrive (the ingestion worker asks after storing a batch), so it grows with the data
   * rather than being built over a large table at a retrieval. An index that cannot be built is
   * logged; the search still works, exactly, through pgvector's operator.
   */
  ensureIndex(dimensions: number): Promise<void> {
    if (dimensions > HNSW_MAX_DIMENSIONS || !Number.isInteger(dimensions) || dimensions < 1)
      return Promise.resolve();
    let pending = this.#indexes.get(dimensions);
    if (!pending) {
      pending = this.#createIndex(dimensions).catch((error: unknown) => {
        this.#indexes.delete(dimensions);
        this.#logger.warn({ err: error, dimensions }, 'could not create the HNSW index');
      });
      this.#indexes.set(dimensions, pending);
    }
    return pending;
  }

  async #createIndex(dimensions: number): Promise<void> {
    if ((await this.mode()).kind !== 'pgvector') return;
    const n = sql.lit(dimensions);
    await this.#db.transaction().execute(async (trx) => {
      await sql`SELECT pg_advisory_xact_lock(hashtext('keyway:hnsw'))`.execute(trx);
      await sql`
        CREATE INDEX IF NOT EXISTS ${sql.id(hnswIndexName(dimensions))} ON knowledge_chunks
         USING hnsw ((embedding::vector(${n})) vector_cosine_ops)
         WHERE array_length(embedding, 1) = ${n}`.execute(trx);
    });
  }
}
