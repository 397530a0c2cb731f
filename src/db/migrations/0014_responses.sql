-- The Responses API (`/v1/responses`) for translated models: the responses Keyway produced, kept for
-- their owner so `previous_response_id` can continue a conversation and `GET`/`DELETE
-- /v1/responses/{id}` work. Not written when a request says `store: false`; kept 30 days, then any
-- node's sweep deletes them (`expires_at`). Responses of OpenAI models are kept by OpenAI, not here.
CREATE TABLE stored_responses (
  id text PRIMARY KEY,
  owner_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  -- The response this one continued (its chain is walked for the next turn's history); no foreign
  -- key: a link may expire or be deleted before the responses that follow it.
  previous_response_id text,
  -- This turn's input items, normalised (a string input becomes one user message).
  input jsonb NOT NULL,
  -- The Response object as `GET /v1/responses/{id}` answers it (its `output` items included).
  response jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL
);
CREATE INDEX stored_responses_owner_idx ON stored_responses (owner_id);
CREATE INDEX stored_responses_expires_idx ON stored_responses (expires_at);

-- Responses relayed to OpenAI (kept by OpenAI): which credential made each, for its owner, so `GET` and
-- `DELETE /v1/responses/{id}` reach the same credential — and only the owner's own ids (a shared key's
-- responses are not readable by everyone who may use the key). No content is kept here.
CREATE TABLE relayed_responses (
  id text PRIMARY KEY,
  owner_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  credential_id uuid NOT NULL REFERENCES credentials (id) ON DELETE CASCADE,
  -- The provider's model id the response was made with (what a lookup names).
  model text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL
);
CREATE INDEX relayed_responses_owner_idx ON relayed_responses (owner_id);
CREATE INDEX relayed_responses_credential_idx ON relayed_responses (credential_id);
CREATE INDEX relayed_responses_expires_idx ON relayed_responses (expires_at);
