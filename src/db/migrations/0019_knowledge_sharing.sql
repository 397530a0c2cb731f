-- Knowledge bases shared through teams (issue 15): every member of a team a knowledge base is shared
-- with may read it — list it, see its files' status, search it from chat and bots, open its passages —
-- while only its owner changes it. Leaving the team, or the team's deletion, ends the access at once.
CREATE TABLE knowledge_base_teams (
  kb_id uuid NOT NULL REFERENCES knowledge_bases (id) ON DELETE CASCADE,
  team_id uuid NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (kb_id, team_id)
);
CREATE INDEX knowledge_base_teams_team_idx ON knowledge_base_teams (team_id);
