-- Knowledge bases (issue 15): a user's named set of files, embedded with one model, and the durable
-- ingestion jobs that turn each file into chunks. Everything derived cascades from the file and from
-- the knowledge base: deleting either deletes its chunks in the same statement.
CREATE TABLE knowledge_bases (
  id uuid PRIMARY KEY,
  owner_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
  -- A Keyway model name (`work/text-embedding-3-small`), resolved as the owner at every embedding.
  embedding_model text NOT NULL CHECK (char_length(embedding_model) BETWEEN 1 AND 300),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (owner_id, name)
);

-- One row per file in a knowledge base, and at the same time its ingestion job: any node claims a
-- queued row, or one whose lease expired (its node died), with FOR UPDATE SKIP LOCKED.
CREATE TABLE knowledge_base_files (
  kb_id uuid NOT NULL REFERENCES knowledge_bases (id) ON DELETE CASCADE,
  file_id uuid NOT NULL REFERENCES files (id) ON DELETE CASCADE,
  status text NOT NULL DEFAULT 'queued'
    CHECK (status IN ('queued', 'parsing', 'embedding', 'ready', 'failed')),
  embedded_chunks integer NOT NULL DEFAULT 0 CHECK (embedded_chunks >= 0),
  -- Null until the file is parsed.
  total_chunks integer CHECK (total_chunks >= 0),
  -- Why it failed, in words a user can act on.
  error text,
  -- Claims so far: a file that kills its worker is not retried forever.
  attempts integer NOT NULL DEFAULT 0,
  -- Who holds the job (a node and claim id) and until when; both null when nobody does.
  leased_by text,
  lease_until timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (kb_id, file_id)
);
CREATE INDEX knowledge_base_files_file_idx ON knowledge_base_files (file_id);
-- The workers' scan: only unfinished jobs are in it.
CREATE INDEX knowledge_base_files_pending_idx ON knowledge_base_files (updated_at)
  WHERE status IN ('queued', 'parsing', 'embedding');

CREATE TABLE knowledge_chunks (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kb_id uuid NOT NULL,
  file_id uuid NOT NULL,
  chunk_index integer NOT NULL CHECK (chunk_index >= 0),
  text text NOT NULL,
  -- 1-based PDF page; null for documents without pages.
  page integer,
  -- Heading path, outermost first: what a citation names.
  headings text[] NOT NULL DEFAULT '{}',
  tokens integer NOT NULL,
  -- Plain floats on every database; retrieval adds a pgvector column and an HNSW index where the
  -- extension exists.
  embedding real[] NOT NULL,
  -- 'simple': no stemming for one language over another; keyword search for any language.
  tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', text)) STORED,
  -- A resumed job upserts by position, so it never stores a chunk twice.
  UNIQUE (kb_id, file_id, chunk_index),
  -- Removing the file from the knowledge base (or deleting either) removes its chunks.
  FOREIGN KEY (kb_id, file_id) REFERENCES knowledge_base_files (kb_id, file_id) ON DELETE CASCADE
);
CREATE INDEX knowledge_chunks_tsv_idx ON knowledge_chunks USING gin (tsv);
