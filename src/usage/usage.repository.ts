import { sql, type Kysely } from 'kysely';
import type { DB } from '../db/tables.ts';

/** One gateway request, as recorded. */
export interface UsageEvent {
  at: Date;
  userId: string | null;
  tokenId: string | null;
  botId: string | null;
  credentialId: string | null;
  provider: string;
  model: string;
  inputTokens: number | null;
  outputTokens: number | null;
  cachedTokens: number | null;
  latencyMs: number;
  status: number;
  /** USD; null when nothing prices the model (it then adds nothing to the daily cost). */
  costUsd: number | null;
}

export const NIL_UUID = '00000000-0000-0000-0000-000000000000';

export const USAGE_GROUPS = ['day', 'credential', 'model', 'token', 'bot', 'user', 'team'] as const;
export type UsageGroup = (typeof USAGE_GROUPS)[number];

export interface UsageRow {
  key: string;
  /** A readable name for the key (credential, token, bot or team name, username), when there is one. */
  label: string | null;
  requests: number;
  errors: number;
  inputTokens: number;
  outputTokens: number;
  cachedTokens: number;
  avgLatencyMs: number;
  /** USD, of the requests that had a price. */
  costUsd: number;
}

const toRow = (event: UsageEvent) => ({
  at: event.at.toISOString(),
  user_id: event.userId,
  token_id: event.tokenId,
  bot_id: event.botId,
  credential_id: event.credentialId,
  provider: event.provider,
  model: event.model,
  input_tokens: event.inputTokens,
  output_tokens: event.outputTokens,
  cached_tokens: event.cachedTokens,
  latency_ms: event.latencyMs,
  status: event.status,
  cost_usd: event.costUsd ?? null,
});

/** Usage events and their daily totals. */
export class UsageRepository {
  readonly #db: Kysely<DB>;

  constructor(db: Kysely<DB>) {
    this.#db = db;
  }

  /**
   * Writes a batch in one statement: the events, and the same events added into the daily totals.
   * One JSON parameter carries the whole batch, so thousands of rows a second stay cheap to send and,
   * on the embedded database, block the event loop as briefly as possible.
   */
  async writeBatch(events: UsageEvent[]): Promise<void> {
    if (events.length === 0) return;
    await sql`
      WITH e AS (
        SELECT * FROM json_to_recordset(${JSON.stringify(events.map(toRow))}::json)
          AS e(at timestamptz, user_id uuid, token_id uuid, bot_id uuid, credential_id uuid, provider text,
               model text, input_tokens integer, output_tokens integer, cached_tokens integer,
               latency_ms integer, status smallint, cost_usd numeric)
      ), inserted AS (
        INSERT INTO usage_events (at, user_id, token_id, bot_id, credential_id, provider, model,
                                  input_tokens, output_tokens, cached_tokens, latency_ms, status, cost_usd)
        SELECT at, user_id, token_id, bot_id, credential_id, provider, model,
               input_tokens, output_tokens, cached_tokens, latency_ms, status, cost_usd FROM e
        RETURNING 1
      )
      INSERT INTO usage_daily (day, user_id, token_id, bot_id, credential_id, model, requests, errors,
                               input_tokens, output_tokens, cached_tokens, latency_ms_total, cost_usd)
      SELECT (at AT TIME ZONE 'UTC')::date, coalesce(user_id, ${NIL_UUID}::uuid), coalesce(token_id, ${NIL_UUID}::uuid),
             coalesce(bot_id, ${NIL_UUID}::uuid), coalesce(credential_id, ${NIL_UUID}::uuid), model,
             count(*), count(*) FILTER (WHERE status >= 400), coalesce(sum(input_tokens), 0),
             coalesce(sum(output_tokens), 0), coalesce(sum(cached_tokens), 0), sum(latency_ms),
             coalesce(sum(cost_usd), 0)
        FROM e
       GROUP BY 1, 2, 3, 4, 5, 6
      ON CONFLICT (day, user_id, token_id, bot_id, credential_id, model) DO UPDATE SET
        requests = usage_daily.requests + excluded.requests,
        errors = usage_daily.errors + excluded.errors,
        input_tokens = usage_daily.input_tokens + excluded.input_tokens,
        output_tokens = usage_daily.output_tokens + excluded.output_tokens,
        cached_tokens = usage_daily.cached_tokens + excluded.cached_tokens,
        latency_ms_total = usage_daily.latency_ms_total + excluded.latency_ms_total,
        cost_usd = usage_daily.cost_usd + excluded.cost_usd`.execute(this.#db);
  }

  /**
   * Totals from the daily table for one user (or everyone), grouped by one dimension. By team, a user's
   * usage counts in each of their teams (the rows add up to more than the total) and a user in no team
   * is in no row; membership is today's, not the one on the day of the request.
   */
  async report(options: {
    userId: string | null;
    from: string;
    to: string;
    groupBy: UsageGroup;
  }): Promise<UsageRow[]> {
    const { key, label } = GROUP_COLUMNS[options.groupBy];
    const groupBy = options.groupBy;
    let query = this.#db
      .selectFrom('usage_daily as d')
      .$if(groupBy === 'credential', (q) => q.leftJoin('credentials as c', 'c.id', 'd.credential_id'))
      .$if(groupBy === 'token', (q) => q.leftJoin('api_tokens as t', 't.id', 'd.token_id'))
      .$if(groupBy === 'bot', (q) => q.leftJoin('bots as b', 'b.id', 'd.bot_id'))
      .$if(groupBy === 'user', (q) => q.leftJoin('users as u', 'u.id', 'd.user_id'))
      .$if(groupBy === 'team', (q) =>
        q
          .innerJoin('team_members as tm', 'tm.user_id', 'd.user_id')
          .innerJoin('teams as team', 'team.id', 'tm.team_id'),
      )
      .select([
        sql<string>`${sql.ref(key)}::text`.as('key'),
        (label ? sql<string | null>`max(${sql.ref(label)})` : sql<null>`NULL`).as('label'),
        sql<number>`sum(d.requests)::int`.as('requests'),
        sql<number>`sum(d.errors)::int`.as('errors'),
        sql<number>`sum(d.input_tokens)::bigint`.as('inputTokens'),
        sql<number>`sum(d.output_tokens)::bigint`.as('outputTokens'),
        sql<number>`sum(d.cached_tokens)::bigint`.as('cachedTokens'),
        sql<number>`(sum(d.latency_ms_total) / greatest(sum(d.requests), 1))::int`.as('avgLatencyMs'),
        sql<string>`sum(d.cost_usd)`.as('costUsd'),
      ])
      .where('d.day', '>=', options.from)
      .where('d.day', '<=', options.to)
      .groupBy(sql.ref(key))
      .orderBy(sql.ref(key));
    if (options.userId) query = query.where('d.user_id', '=', options.userId);
    const rows = await query.execute();
    // bigint and numeric read back as strings (they can exceed a double's exact range).
    return rows.map((row) => ({
      ...row,
      inputTokens: Number(row.inputTokens),
      outputTokens: Number(row.outputTokens),
      cachedTokens: Number(row.cachedTokens),
      costUsd: Number(row.costUsd),
    }));
  }
}

/** What each grouping groups by, and the column that names a group. */
const GROUP_COLUMNS: Record<UsageGroup, { key: string; label: string | null }> = {
  day: { key: 'd.day', label: null },
  credential: { key: 'd.credential_id', label: 'c.name' },
  model: { key: 'd.model', label: null },
  token: { key: 'd.token_id', label: 't.name' },
  bot: { key: 'd.bot_id', label: 'b.name' },
  user: { key: 'd.user_id', label: 'u.username' },
  team: { key: 'tm.team_id', label: 'team.name' },
};
