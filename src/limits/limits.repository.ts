import { sql, type Kysely } from 'kysely';
import type { DB } from '../db/tables.ts';
import { limitsFrom, type Limits } from './limits.ts';

/** The limits that sit on a caller: their own, their API token's, and each of their teams'. */
export interface CallerLimits {
  user: Limits;
  token: { name: string; limits: Limits } | null;
  teams: { id: string; name: string; limits: Limits }[];
}

/** A user, team, token or bot with its limits, as `GET /api/me/limits` lists them. */
export interface OwnLimitHolder {
  scope: 'user' | 'team' | 'token' | 'bot';
  id: string;
  name: string;
  limits: Limits;
}

/** Limits on users (and what limits reach a user through their teams, tokens and bots). */
export class LimitsRepository {
  readonly #db: Kysely<DB>;

  constructor(db: Kysely<DB>) {
    this.#db = db;
  }

  /** A caller's own, token's and teams' limits in one query. */
  async callerLimits(userId: string, tokenId: string | undefined): Promise<CallerLimits> {
    const { rows } = await sql<{
      user_limits: unknown;
      token: { name: string; limits: unknown } | null;
      teams: { id: string; name: string; limits: unknown }[];
    }>`
      SELECT u.limits AS user_limits,
             (SELECT json_build_object('name', t.name, 'limits', t.limits) FROM api_tokens t
               WHERE t.id = ${tokenId ?? null}::uuid AND t.user_id = u.id) AS token,
             coalesce((SELECT json_agg(json_build_object('id', team.id, 'name', team.name, 'limits', team.limits))
                         FROM team_members m JOIN teams team ON team.id = m.team_id
                        WHERE m.user_id = u.id), '[]'::json) AS teams
        FROM users u WHERE u.id = ${userId}::uuid`.execute(this.#db);
    const row = rows[0];
    if (!row) return { user: {}, token: null, teams: [] };
    return {
      user: limitsFrom(row.user_limits),
      token: row.token ? { name: row.token.name, limits: limitsFrom(row.token.limits) } : null,
      teams: row.teams.map((team) => ({ id: team.id, name: team.name, limits: limitsFrom(team.limits) })),
    };
  }

  /** The user, their teams, their active tokens and their bots, each with its limits. */
  async holdersOf(userId: string): Promise<OwnLimitHolder[]> {
    const { rows } = await sql<{ scope: OwnLimitHolder['scope']; id: string; name: string; limits: unknown }>`
      SELECT 'user' AS scope, u.id, u.username AS name, u.limits FROM users u WHERE u.id = ${userId}::uuid
      UNION ALL
      SELECT 'team', t.id, t.name, t.limits FROM team_members m JOIN teams t ON t.id = m.team_id
       WHERE m.user_id = ${userId}::uuid
      UNION ALL
      SELECT 'token', k.id, k.name, k.limits FROM api_tokens k
       WHERE k.user_id = ${userId}::uuid AND k.revoked_at IS NULL
      UNION ALL
      SELECT 'bot', b.id, b.name, b.limits FROM bots b WHERE b.owner_id = ${userId}::uuid`.execute(this.#db);
    return rows.map((row) => ({ ...row, limits: limitsFrom(row.limits) }));
  }

  /** Replaces a user's limits; false when there is no such user. */
  async setUserLimits(userId: string, limits: Limits): Promise<boolean> {
    const result = await this.#db
      .updateTable('users')
      .set({ limits: JSON.stringify(limits), updated_at: new Date() })
      .where('id', '=', userId)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }
}
