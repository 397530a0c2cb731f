-- Chat with documents (issue 15): files and knowledge bases attached to a conversation (used for every
-- message) or to one user message, and the sources an answer cited. An attachment cascades from what it
-- names: deleting a file or a knowledge base removes it from every conversation, which then goes on
-- without it (the message's text stays).
CREATE TABLE chat_attachments (
  -- Insertion order is display order.
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  conversation_id uuid NOT NULL REFERENCES chat_conversations (id) ON DELETE CASCADE,
  -- The user message it came with; null when it is attached to the conversation.
  message_id uuid REFERENCES chat_messages (id) ON DELETE CASCADE,
  file_id uuid REFERENCES files (id) ON DELETE CASCADE,
  knowledge_base_id uuid REFERENCES knowledge_bases (id) ON DELETE CASCADE,
  CHECK ((file_id IS NULL) <> (knowledge_base_id IS NULL))
);
CREATE INDEX chat_attachments_conversation_idx ON chat_attachments (conversation_id);
CREATE INDEX chat_attachments_message_idx ON chat_attachments (message_id);
-- The cascades look attachments up by what they name.
CREATE INDEX chat_attachments_file_idx ON chat_attachments (file_id);
CREATE INDEX chat_attachments_knowledge_base_idx ON chat_attachments (knowledge_base_id);

-- An answer's numbered sources (src/knowledge/grounding.ts `Citation[]`), as they were when it was
-- written: a file deleted later still shows by its name.
ALTER TABLE chat_messages ADD COLUMN citations jsonb NOT NULL DEFAULT '[]'::jsonb;
