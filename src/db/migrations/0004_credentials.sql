-- Provider credentials: one row per stored key, referenced by any number of consumers. The secret is
-- AES-256-GCM ciphertext bound to the row; nothing is unique about it. Name is unique per owner, and
-- among shared credentials (owner_id NULL).
CREATE TABLE credentials (
  id uuid PRIMARY KEY,
  owner_id uuid REFERENCES users (id) ON DELETE CASCADE,
  created_by uuid REFERENCES users (id) ON DELETE SET NULL,
  provider text NOT NULL,
  name text NOT NULL,
  settings jsonb NOT NULL DEFAULT '{}'::jsonb,
  secret_key_id text,
  secret_nonce bytea,
  secret_ciphertext bytea,
  fingerprint text,
  hint text NOT NULL,
  status text NOT NULL DEFAULT 'unchecked' CHECK (status IN ('unchecked', 'valid', 'invalid')),
  status_message text,
  last_checked_at timestamptz,
  last_used_at timestamptz,
  version integer NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CHECK ((secret_ciphertext IS NULL) = (secret_nonce IS NULL) AND (secret_ciphertext IS NULL) = (secret_key_id IS NULL))
);
CREATE UNIQUE INDEX credentials_owner_name_key ON credentials (owner_id, lower(name)) WHERE owner_id IS NOT NULL;
CREATE UNIQUE INDEX credentials_shared_name_key ON credentials (lower(name)) WHERE owner_id IS NULL;
CREATE INDEX credentials_fingerprint_idx ON credentials (fingerprint);
CREATE INDEX credentials_key_id_idx ON credentials (secret_key_id);
