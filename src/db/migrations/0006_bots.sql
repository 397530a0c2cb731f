-- Bots: named answerers on messaging channels. A bot references a credential (any number of bots may
-- share one); its behaviour settings are one validated JSON document; its channel secrets (inbound
-- secret, Evolution API instance key) are sealed together, bound to the row like credential secrets.
CREATE TABLE bots (
  id uuid PRIMARY KEY,
  owner_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  name text NOT NULL,
  credential_id uuid REFERENCES credentials (id) ON DELETE SET NULL,
  model text NOT NULL,
  config jsonb NOT NULL DEFAULT '{}'::jsonb,
  fallback_bot_id uuid REFERENCES bots (id) ON DELETE SET NULL,
  webhook_url text,
  evolution_server_url text,
  evolution_instance text,
  secrets_key_id text NOT NULL,
  secrets_nonce bytea NOT NULL,
  secrets_ciphertext bytea NOT NULL,
  version integer NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX bots_owner_name_key ON bots (owner_id, lower(name));
CREATE INDEX bots_credential_idx ON bots (credential_id);
CREATE INDEX bots_secrets_key_id_idx ON bots (secrets_key_id);

-- Fallback credentials, tried in order when the bot's credential fails before answering.
CREATE TABLE bot_fallback_credentials (
  bot_id uuid NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
  credential_id uuid NOT NULL REFERENCES credentials (id) ON DELETE CASCADE,
  position smallint NOT NULL,
  PRIMARY KEY (bot_id, credential_id)
);
CREATE INDEX bot_fallback_credentials_credential_idx ON bot_fallback_credentials (credential_id);

-- A conversation between a bot and one contact. At most one open (opened or paused) session per
-- (bot, contact), whatever node receives the message.
CREATE TABLE bot_sessions (
  id uuid PRIMARY KEY,
  bot_id uuid NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
  contact text NOT NULL,
  contact_name text,
  status text NOT NULL CHECK (status IN ('opened', 'paused', 'closed')),
  close_reason text,
  opened_at timestamptz NOT NULL DEFAULT now(),
  last_activity_at timestamptz NOT NULL DEFAULT now(),
  closed_at timestamptz
);
CREATE UNIQUE INDEX bot_sessions_open_key ON bot_sessions (bot_id, contact) WHERE status <> 'closed';
CREATE INDEX bot_sessions_bot_activity_idx ON bot_sessions (bot_id, last_activity_at);

CREATE TABLE bot_messages (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  session_id uuid NOT NULL REFERENCES bot_sessions (id) ON DELETE CASCADE,
  role text NOT NULL CHECK (role IN ('user', 'assistant')),
  content text NOT NULL,
  at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX bot_messages_session_idx ON bot_messages (session_id, id);

-- Inbound messages, acknowledged on arrival and answered in turns: a turn takes every unhandled
-- message of a (bot, contact) once the last one's debounce window has passed. `external_id` (the
-- channel's message id) makes a redelivered webhook a no-op.
CREATE TABLE bot_inbox (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  bot_id uuid NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
  contact text NOT NULL,
  contact_name text,
  channel text NOT NULL CHECK (channel IN ('http', 'webhook', 'evolution')),
  external_id text,
  text text,
  received_at timestamptz NOT NULL DEFAULT now(),
  due_at timestamptz NOT NULL,
  handled_at timestamptz
);
CREATE INDEX bot_inbox_pending_idx ON bot_inbox (bot_id, contact, id) WHERE handled_at IS NULL;
CREATE INDEX bot_inbox_due_idx ON bot_inbox (due_at) WHERE handled_at IS NULL;
CREATE UNIQUE INDEX bot_inbox_external_key ON bot_inbox (bot_id, external_id) WHERE external_id IS NOT NULL;

-- The turn lease of a (bot, contact): one node answers a contact at a time, so replies keep their order.
CREATE TABLE bot_contacts (
  bot_id uuid NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
  contact text NOT NULL,
  busy_until timestamptz,
  PRIMARY KEY (bot_id, contact)
);

-- Replies waiting to be delivered to a channel, oldest first per (bot, contact); survives restarts.
CREATE TABLE bot_outbox (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  bot_id uuid NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
  contact text NOT NULL,
  channel text NOT NULL CHECK (channel IN ('webhook', 'evolution')),
  payload jsonb NOT NULL,
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL,
  leased_until timestamptz,
  delivered_at timestamptz,
  failed_at timestamptz,
  last_error text,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX bot_outbox_pending_idx ON bot_outbox (bot_id, contact, id) WHERE delivered_at IS NULL AND failed_at IS NULL;
CREATE INDEX bot_outbox_due_idx ON bot_outbox (next_attempt_at) WHERE delivered_at IS NULL AND failed_at IS NULL;
