-- Files a user uploaded (issue 15): the metadata here, the bytes apart in `file_contents` so that a
-- listing never reads a blob. Everything that will be derived from a file (a knowledge base's entry,
-- its extracted chunks) references `files (id) ON DELETE CASCADE`: deleting a file deletes what was
-- made from it, in the same statement.
CREATE TABLE files (
  id uuid PRIMARY KEY,
  owner_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  -- The name the user gave (or the uploaded part's file name); shown, never used as a path.
  name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 255),
  -- What the bytes were detected as (src/files/file-types.ts), never what the client declared.
  media_type text NOT NULL,
  kind text NOT NULL CHECK (kind IN ('document', 'image')),
  -- integer: the upload limit is at most 1 GiB (KEYWAY_FILE_SIZE_LIMIT).
  size_bytes integer NOT NULL CHECK (size_bytes >= 0),
  -- Hex sha256 of the content: lets ingestion skip a file it has already seen.
  sha256 text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX files_owner_created_idx ON files (owner_id, created_at DESC, id);

CREATE TABLE file_contents (
  file_id uuid PRIMARY KEY REFERENCES files (id) ON DELETE CASCADE,
  content bytea NOT NULL
);
