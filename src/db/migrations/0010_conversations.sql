-- The web UI's chat history. A conversation belongs to one user; its messages go with it.
CREATE TABLE chat_conversations (
  id uuid PRIMARY KEY,
  owner_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  title text NOT NULL,
  model text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
-- The sidebar: one user's conversations, most recently active first.
CREATE INDEX chat_conversations_owner_updated_idx ON chat_conversations (owner_id, updated_at DESC);

-- seq orders messages (timestamps can tie inside one transaction); replaceFrom deletes by seq.
-- An assistant message is written once its answer ends: complete, stopped by the client, or failed.
CREATE TABLE chat_messages (
  id uuid PRIMARY KEY,
  conversation_id uuid NOT NULL REFERENCES chat_conversations (id) ON DELETE CASCADE,
  seq bigint GENERATED ALWAYS AS IDENTITY,
  role text NOT NULL CHECK (role IN ('user', 'assistant')),
  content text NOT NULL,
  model text NOT NULL,
  status text NOT NULL DEFAULT 'complete' CHECK (status IN ('complete', 'stopped', 'failed')),
  error_code text,
  error_message text,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX chat_messages_conversation_seq_key ON chat_messages (conversation_id, seq);
