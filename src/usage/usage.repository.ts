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
  /** What the request cost in USD; null when no price is known. */
  costUsd: number | null;
}

export const NIL_UUID = '00000000-0000-0000-0000-000000000000';

export type UsageGroup = 'day' | 'credential' | 'model' | 'token' | 'bot';

export interface UsageRow {
  key: string;
  /** A readable name for the key (credential or token name), when there is one. */
  label: string | null;
  requests: number;
  errors: number;
  inputTokens: number;
  outputTokens: number;
  cachedTokens: number;
  avgLatencyMs: number;
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
               latency_ms integer, status smallint)
      ), inserted AS (
        INSERT INTO usage_events (at, user_id, token_id, bot_id, credential_id, provider, model,
                                  input_tokens, output_tokens, cached_tokens, latency_ms, status)
        SELECT at, user_id, token_id, bot_id, credential_id, provider, model,
               input_tokens, output_tokens, cached_tokens, latency_ms, status FROM e
        RETURNING 1
      )
      INSERT INTO usage_daily (day, user_id, token_id, bot_id, credential_id, model, requests, errors,
                               input_tokens, output_tokens, cached_tokens, latency_ms_total)
      SELECT (at AT TIME ZONE 'UTC')::date, coalesce(user_id, ${NIL_UUID}::uuid), coalesce(token_id, ${NIL_UUID}::uuid),
             coalesce(bot_id, ${NIL_UUID}::uuid), coalesce(credential_id, ${NIL_UUID}::uuid), model,
             count(*), count(*) FILTER (WHERE status >= 400), coalesce(sum(input_tokens), 0),
             coalesce(sum(output_tokens), 0), coalesce(sum(cached_tokens), 0), sum(latency_ms)
        FROM e
       GROUP BY 1, 2, 3, 4, 5, 6
      ON CONFLICT (day, user_id, token_id, bot_id, credential_id, model) DO UPDATE SET
        requests = usage_daily.requests + excluded.requests,
        errors = usage_daily.errors + excluded.errors,
        input_tokens = usage_daily.input_tokens + excluded.input_tokens,
        output_tokens = usage_daily.output_tokens + excluded.output_tokens,
        cached_tokens = usage_daily.cached_tokens + excluded.cached_tokens,
        latency_ms_total = usage_daily.latency_ms_total + excluded.latency_ms_total`.execute(this.#db);
  }

  /** Totals from the daily table for one user (or everyone), grouped by one dimension. */
  async report(options: {
    userId: string | null;
    from: string;
    to: string;
    groupBy: UsageGroup;
  }): Promise<UsageRow[]> {
    const column = {
      day: 'd.day',
      credential: 'd.credential_id',
      model: 'd.model',
      token: 'd.token_id',
      bot: 'd.bot_id',
    }[options.groupBy];
    let query = this.#db
      .selectFrom('usage_daily as d')
      .leftJoin('credentials as c', (join) => join.onRef('c.id', '=', 'd.credential_id'))
      .leftJoin('api_tokens as t', (join) => join.onRef('t.id', '=', 'd.token_id'))
      .leftJoin('bots as b', (join) => join.onRef('b.id', '=', 'd.bot_id'))
      .select([
        sql<string>`${sql.ref(column)}::text`.as('key'),
        sql<
          string | null
        >`max(${sql.raw(({ credential: 'c.name', token: 't.name', bot: 'b.name' } as Record<string, string>)[options.groupBy] ?? 'NULL')})`.as(
          'label',
        ),
        sql<number>`sum(d.requests)::int`.as('requests'),
        sql<number>`sum(d.errors)::int`.as('errors'),
        sql<number>`sum(d.input_tokens)::bigint`.as('inputTokens'),
        sql<number>`sum(d.output_tokens)::bigint`.as('outputTokens'),
        sql<number>`sum(d.cached_tokens)::bigint`.as('cachedTokens'),
        sql<number>`(sum(d.latency_ms_total) / greatest(sum(d.requests), 1))::int`.as('avgLatencyMs'),
      ])
      .where('d.day', '>=', options.from)
      .where('d.day', '<=', options.to)
      .groupBy(sql.ref(column))
      .orderBy(sql.ref(column));
    if (options.userId) query = query.where('d.user_id', '=', options.userId);
    return query.execute();
  }
}
