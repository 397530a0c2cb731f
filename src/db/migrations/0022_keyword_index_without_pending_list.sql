-- Keyword search over knowledge chunks without a GIN pending list. With `fastupdate` on (PostgreSQL's
-- default) new chunks' words wait in the index's pending list, and every search reads that list whole
-- until a vacuum merges it — which never comes on the embedded database (PGlite runs no autovacuum):
-- after ingesting 50,000 chunks the list held 213 pages, and a question of common words took 9.7 ms
-- where the merged index answers in 0.6 ms. Ingestion writes chunks in batches, so merging each
-- batch's words as it is written costs little next to embedding it.
ALTER INDEX knowledge_chunks_tsv_idx SET (fastupdate = off);
-- What is pending now is merged once.
SELECT gin_clean_pending_list('knowledge_chunks_tsv_idx'::regclass);
