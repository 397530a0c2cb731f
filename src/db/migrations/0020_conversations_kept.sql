-- Conversations people keep (issue 16): branches, per-conversation settings, folders, pin and archive,
-- presets, assistants, the prompt library, generated titles and read-only share links.

-- Folders of conversations (Chatbot-UI's workspaces and folders arrive as folders too).
CREATE TABLE chat_folders (
  id uuid PRIMARY KEY,
  owner_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  name text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX chat_folders_owner_idx ON chat_folders (owner_id, name);

-- Saved sets of chat settings. Shared through teams like knowledge bases: members use, the owner changes.
CREATE TABLE chat_presets (
  id uuid PRIMARY KEY,
  owner_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  name text NOT NULL,
  model text,
  system_prompt text,
  temperature double precision,
  max_tokens integer,
  -- How much history goes with each message: the last N messages and/or about N tokens (null: all).
  context_messages integer,
  context_tokens integer,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX chat_presets_owner_idx ON chat_presets (owner_id, name);

CREATE TABLE chat_preset_teams (
  preset_id uuid NOT NULL REFERENCES chat_presets (id) ON DELETE CASCADE,
  team_id uuid NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (preset_id, team_id)
);
CREATE INDEX chat_preset_teams_team_idx ON chat_preset_teams (team_id);

-- A named preset with instructions, starter prompts, an avatar colour and knowledge bases; usable as
-- `assistant:<name>` on /v1. A name is unique per owner (it is how /v1 names it).
CREATE TABLE chat_assistants (
  id uuid PRIMARY KEY,
  owner_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  name text NOT NULL,
  description text NOT NULL DEFAULT '',
  model text NOT NULL,
  instructions text NOT NULL DEFAULT '',
  temperature double precision,
  max_tokens integer,
  context_messages integer,
  context_tokens integer,
  starter_prompts jsonb NOT NULL DEFAULT '[]'::jsonb,
  avatar_color text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX chat_assistants_owner_name_key ON chat_assistants (owner_id, lower(name));

CREATE TABLE chat_assistant_knowledge_bases (
  assistant_id uuid NOT NULL REFERENCES chat_assistants (id) ON DELETE CASCADE,
  kb_id uuid NOT NULL REFERENCES knowledge_bases (id) ON DELETE CASCADE,
  PRIMARY KEY (assistant_id, kb_id)
);
CREATE INDEX chat_assistant_knowledge_bases_kb_idx ON chat_assistant_knowledge_bases (kb_id);

CREATE TABLE chat_assistant_teams (
  assistant_id uuid NOT NULL REFERENCES chat_assistants (id) ON DELETE CASCADE,
  team_id uuid NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (assistant_id, team_id)
);
CREATE INDEX chat_assistant_teams_team_idx ON chat_assistant_teams (team_id);

-- The prompt library: saved prompts with {{variables}}, inserted with `/` in the composer.
CREATE TABLE chat_prompts (
  id uuid PRIMARY KEY,
  owner_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  name text NOT NULL,
  content text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX chat_prompts_owner_idx ON chat_prompts (owner_id, name);

-- Per-conversation settings, organisation and the branch on show.
ALTER TABLE chat_conversations
  ADD COLUMN system_prompt text,
  ADD COLUMN temperature double precision,
  ADD COLUMN max_tokens integer,
  ADD COLUMN context_messages integer,
  ADD COLUMN context_tokens integer,
  ADD COLUMN assistant_id uuid REFERENCES chat_assistants (id) ON DELETE SET NULL,
  ADD COLUMN folder_id uuid REFERENCES chat_folders (id) ON DELETE SET NULL,
  ADD COLUMN pinned boolean NOT NULL DEFAULT false,
  ADD COLUMN archived_at timestamptz,
  -- The message at the end of the branch on show; null: the newest message's branch.
  ADD COLUMN current_leaf_id uuid,
  -- Whether the title was set by a person (a generated title never replaces it).
  ADD COLUMN title_source text NOT NULL DEFAULT 'auto' CHECK (title_source IN ('auto', 'generated', 'user'));
CREATE INDEX chat_conversations_folder_idx ON chat_conversations (folder_id);
CREATE INDEX chat_conversations_assistant_idx ON chat_conversations (assistant_id);

-- Branches: every message answers its parent (null: the first message). Editing a message or
-- regenerating an answer adds a sibling; nothing is deleted unless the user deletes it.
ALTER TABLE chat_messages ADD COLUMN parent_id uuid REFERENCES chat_messages (id) ON DELETE CASCADE;
UPDATE chat_messages m
   SET parent_id = ordered.previous
  FROM (SELECT id, lag(id) OVER (PARTITION BY conversation_id ORDER BY seq) AS previous FROM chat_messages) ordered
 WHERE m.id = ordered.id;
CREATE INDEX chat_messages_parent_idx ON chat_messages (parent_id);

-- Who may pick a title model, and which: a user's own choice, else the admin's default (settings).
CREATE TABLE chat_preferences (
  user_id uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
  title_model text,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Read-only links to a snapshot of a conversation. Only the token's SHA-256 is stored.
CREATE TABLE chat_shares (
  id uuid PRIMARY KEY,
  owner_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  conversation_id uuid NOT NULL REFERENCES chat_conversations (id) ON DELETE CASCADE,
  token_hash text NOT NULL UNIQUE,
  title text NOT NULL,
  -- The messages on show when shared, in order: [{role, content, model, createdAt}].
  snapshot jsonb NOT NULL,
  expires_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX chat_shares_owner_idx ON chat_shares (owner_id);
CREATE INDEX chat_shares_conversation_idx ON chat_shares (conversation_id);
