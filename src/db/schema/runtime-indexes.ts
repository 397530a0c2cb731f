/**
 * Indexes Keyway creates at run time rather than in a migration, so the drift check does not report
 * them as unexpected. Retrieval's HNSW indexes (src/knowledge/vector-index.ts) are the only ones: one
 * per embedding dimension, made when pgvector exists and a dimension is first seen.
 */

/** The name of the HNSW index over the chunks' vectors of `dimensions`. */
export const hnswIndexName = (dimensions: number) => `knowledge_chunks_embedding_${dimensions}_hnsw`;

const HNSW_INDEX = /^knowledge_chunks_embedding_\d+_hnsw$/;

/** Whether a live index is one Keyway creates at run time (not drift). */
export function isRuntimeIndex(table: string, index: string, method: string): boolean {
  return table === 'knowledge_chunks' && method === 'hnsw' && HNSW_INDEX.test(index);
}
