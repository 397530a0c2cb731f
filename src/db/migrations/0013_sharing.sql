-- Sharing: teams, grants of a credential's use, limits on people, keys and grants, prices and the
-- allowance ledger that keeps concurrent requests on several nodes from spending past a limit.

CREATE TABLE teams (
  id uuid PRIMARY KEY,
  name text NOT NULL,
  limits jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX teams_name_key ON teams (lower(name));

CREATE TABLE team_members (
  team_id uuid NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  role text NOT NULL CHECK (role IN ('member', 'admin')),
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (team_id, user_id)
);
CREATE INDEX team_members_user_idx ON team_members (user_id);

-- Who may use a credential, for which models (patterns, `*` wildcards; NULL = all) and within which
-- limits. subject_id is NULL for `everyone` and names a team, user, bot or API token otherwise.
CREATE TABLE credential_grants (
  id uuid PRIMARY KEY,
  credential_id uuid NOT NULL REFERENCES credentials (id) ON DELETE CASCADE,
  subject_type text NOT NULL CHECK (subject_type IN ('everyone', 'team', 'user', 'bot', 'token')),
  subject_id uuid,
  models text[],
  limits jsonb NOT NULL DEFAULT '{}'::jsonb,
  expires_at timestamptz,
  created_by uuid REFERENCES users (id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CHECK ((subject_type = 'everyone') = (subject_id IS NULL))
);
CREATE INDEX credential_grants_credential_idx ON credential_grants (credential_id);
CREATE INDEX credential_grants_subject_idx ON credential_grants (subject_type, subject_id);

ALTER TABLE users ADD COLUMN limits jsonb NOT NULL DEFAULT '{}'::jsonb;
ALTER TABLE api_tokens ADD COLUMN limits jsonb NOT NULL DEFAULT '{}'::jsonb;
ALTER TABLE bots ADD COLUMN limits jsonb NOT NULL DEFAULT '{}'::jsonb;
-- USD per million tokens by model id, overriding the price catalogue: {"<model>": {"input", "output", "cachedInput"}}.
ALTER TABLE credentials ADD COLUMN prices jsonb NOT NULL DEFAULT '{}'::jsonb;

-- What each request cost, in USD (NULL when no price is known).
ALTER TABLE usage_events ADD COLUMN cost_usd numeric(18, 9);
ALTER TABLE usage_daily ADD COLUMN cost_usd numeric(18, 9) NOT NULL DEFAULT 0;

-- One row per limit and window (`grant:<id>:usd:month`, window start): `settled` is what requests have
-- cost, `leased` what nodes hold as allowance right now. A node takes allowance with one atomic UPDATE
-- that keeps settled + leased <= cap, spends it in memory, and gives back what it did not use, so the
-- sum of what every node spends never passes the cap.
CREATE TABLE limit_windows (
  key text NOT NULL,
  window_start timestamptz NOT NULL,
  cap numeric(18, 9) NOT NULL,
  settled numeric(18, 9) NOT NULL DEFAULT 0,
  leased numeric(18, 9) NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (key, window_start),
  CHECK (leased >= 0)
);

-- Refusals, counted per limit and hour rather than one audit row per refused request.
CREATE TABLE limit_refusals (
  hour timestamptz NOT NULL,
  limit_key text NOT NULL,
  code text NOT NULL,
  user_id uuid NOT NULL,
  refusals integer NOT NULL,
  PRIMARY KEY (hour, limit_key, code, user_id)
);

-- What `shared: true` meant until now: every member may use the credential, any model, no limit.
INSERT INTO credential_grants (id, credential_id, subject_type, subject_id, created_by)
SELECT
  (substr(md5('keyway-shared-grant:' || id::text), 1, 8) || '-' || substr(md5('keyway-shared-grant:' || id::text), 9, 4) || '-4' ||
   substr(md5('keyway-shared-grant:' || id::text), 14, 3) || '-8' || substr(md5('keyway-shared-grant:' || id::text), 18, 3) || '-' ||
   substr(md5('keyway-shared-grant:' || id::text), 21, 12))::uuid,
  id, 'everyone', NULL, created_by
FROM credentials
WHERE owner_id IS NULL;

-- Why a bot's last reply in a session failed (a limit refused it, the provider failed): shown with the
-- session; the contact only ever sees the bot's failure text.
ALTER TABLE bot_sessions ADD COLUMN last_failure jsonb;
