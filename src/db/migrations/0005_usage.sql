-- One narrow row per gateway request: ids and numbers only, never prompts, never copies of static
-- data (names and providers are joined in when reporting). Written in batches off the request path.
CREATE TABLE usage_events (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at timestamptz NOT NULL,
  user_id uuid,
  token_id uuid,
  bot_id uuid,
  credential_id uuid,
  provider text NOT NULL,
  model text NOT NULL,
  input_tokens integer,
  output_tokens integer,
  cached_tokens integer,
  latency_ms integer NOT NULL,
  status smallint NOT NULL
);
-- Rows arrive in time order and reports read usage_daily: a BRIN index on time (for pruning old rows)
-- costs next to nothing per insert, where a B-tree per column would slow every batch.
CREATE INDEX usage_events_at_idx ON usage_events USING brin (at);

-- Daily totals per (day, user, token, bot, credential, model): what reports read.
CREATE TABLE usage_daily (
  day date NOT NULL,
  user_id uuid NOT NULL,
  token_id uuid NOT NULL,
  bot_id uuid NOT NULL,
  credential_id uuid NOT NULL,
  model text NOT NULL,
  requests integer NOT NULL,
  errors integer NOT NULL,
  input_tokens bigint NOT NULL,
  output_tokens bigint NOT NULL,
  cached_tokens bigint NOT NULL,
  latency_ms_total bigint NOT NULL,
  PRIMARY KEY (day, user_id, token_id, bot_id, credential_id, model)
);
