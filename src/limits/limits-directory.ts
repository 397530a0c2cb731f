import { sql, type Kysely } from 'kysely';
import type { Principal } from '../auth/principal.ts';
import type { ChangeFeed } from '../db/change-feed.ts';
import type { DB } from '../db/tables.ts';
import { limitsFrom, type Limits } from './limits.ts';

/** The limits that sit on a caller: their own, their API token's, and each of their teams'. */
export interface CallerLimits {
  user: Limits;
  token: { name: string; limits: Limits } | null;
  teams: { id: string; name: string; limits: Limits }[];
}

/** How long a caller's limits are trusted without a change notice. */
const TTL_MS = 60_000;

/**
 * Callers' limits, cached per user and token so the warm request path reads none of them from the
 * database; dropped on any change to a user, token or team (on every node, through the change feed).
 */
export class LimitsDirectory {
  readonly #db: Kysely<DB>;
  readonly #cache = new Map<string, { limits: CallerLimits; expiresAt: number }>();
  readonly #unsubscribe: () => void;

  constructor(deps: { db: Kysely<DB>; changes: ChangeFeed }) {
    this.#db = deps.db;
    this.#unsubscribe = deps.changes.subscribe((topic) => {
      if (
        topic === '*' ||
        topic.startsWith('user:') ||
        topic.startsWith('token:') ||
        topic.startsWith('team:')
      )
        this.#cache.clear();
    });
  }

  async of(principal: Principal): Promise<CallerLimits> {
    const key = `${principal.userId}\u0000${principal.tokenId ?? ''}`;
    const cached = this.#cache.get(key);
    if (cached && cached.expiresAt > Date.now()) return cached.limits;
    const limits = await this.#load(principal);
    this.#cache.set(key, { limits, expiresAt: Date.now() + TTL_MS });
    return limits;
  }

  close(): void {
    this.#unsubscribe();
  }

  async #load(principal: Principal): Promise<CallerLimits> {
    const { rows } = await sql<{
      user_limits: unknown;
      token: { name: string; limits: unknown } | null;
      teams: { id: string; name: string; limits: unknown }[];
    }>`
      SELECT u.limits AS user_limits,
             (SELECT json_build_object('name', t.name, 'limits', t.limits) FROM api_tokens t
               WHERE t.id = ${principal.tokenId ?? null}::uuid AND t.user_id = u.id) AS token,
             coalesce((SELECT json_agg(json_build_object('id', team.id, 'name', team.name, 'limits', team.limits))
                         FROM team_members m JOIN teams team ON team.id = m.team_id
                        WHERE m.user_id = u.id), '[]'::json) AS teams
        FROM users u WHERE u.id = ${principal.userId}::uuid`.execute(this.#db);
    const row = rows[0];
    if (!row) return { user: {}, token: null, teams: [] };
    return {
      user: limitsFrom(row.user_limits),
      token: row.token ? { name: row.token.name, limits: limitsFrom(row.token.limits) } : null,
      teams: row.teams.map((team) => ({ id: team.id, name: team.name, limits: limitsFrom(team.limits) })),
    };
  }
}
