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

  /** Writes a batch: the events, and the same events added into the daily totals, in one transaction. */
  async writeBatch(events: UsageEvent[]): Promise<void> {
    if (events.length === 0) return;
    const totals = new Map<
      string,
      {
        day: string;
        user: string;
        token: string;
        bot: string;
        credential: string;
        model: string;
        requests: number;
        errors: number;
        input: number;
        output: number;
        cached: number;
        latency: number;
      }
    >();
    for (const event of events) {
      const day = event.at.toISOString().slice(0, 10);
      const parts = [
        day,
        event.userId ?? NIL_UUID,
        event.tokenId ?? NIL_UUID,
        event.botId ?? NIL_UUID,
        event.credentialId ?? NIL_UUID,
        event.model,
      ];
      const key = parts.join('\u0000');
      const total = totals.get(key) ?? {
        day,
        user: parts[1]!,
        token: parts[2]!,
        bot: parts[3]!,
        credential: parts[4]!,
        model: event.model,
        requests: 0,
        errors: 0,
        input: 0,
        output: 0,
        cached: 0,
        latency: 0,
      };
      total.requests += 1;
      total.errors += event.status >= 400 ? 1 : 0;
      total.input += event.inputTokens ?? 0;
      total.output += event.outputTokens ?? 0;
      total.cached += event.cachedTokens ?? 0;
      total.latency += event.latencyMs;
      totals.set(key, total);
    }
    await this.#db.transaction().execute(async (trx) => {
      // One JSON parameter instead of twelve per row: thousands of rows a second stay cheap to send.
      await sql`
        INSERT INTO usage_events (at, user_id, token_id, bot_id, credential_id, provider, model,
                                  input_tokens, output_tokens, cached_tokens, latency_ms, status)
        SELECT at, user_id, token_id, bot_id, credential_id, provider, model,
               input_tokens, output_tokens, cached_tokens, latency_ms, status
          FROM jsonb_to_recordset(${JSON.stringify(events.map(toRow))}::jsonb)
            AS e(at timestamptz, user_id uuid, token_id uuid, bot_id uuid, credential_id uuid, provider text,
                 model text, input_tokens integer, output_tokens integer, cached_tokens integer,
                 latency_ms integer, status smallint)`.execute(trx);
      await trx
        .insertInto('usage_daily')
        .values(
          [...totals.values()].map((total) => ({
            day: total.day,
            user_id: total.user,
            token_id: total.token,
            bot_id: total.bot,
            credential_id: total.credential,
            model: total.model,
            requests: total.requests,
            errors: total.errors,
            input_tokens: total.input,
            output_tokens: total.output,
            cached_tokens: total.cached,
            latency_ms_total: total.latency,
          })),
        )
        .onConflict((conflict) =>
          conflict.columns(['day', 'user_id', 'token_id', 'bot_id', 'credential_id', 'model']).doUpdateSet({
            requests: sql`usage_daily.requests + excluded.requests`,
            errors: sql`usage_daily.errors + excluded.errors`,
            input_tokens: sql`usage_daily.input_tokens + excluded.input_tokens`,
            output_tokens: sql`usage_daily.output_tokens + excluded.output_tokens`,
            cached_tokens: sql`usage_daily.cached_tokens + excluded.cached_tokens`,
            latency_ms_total: sql`usage_daily.latency_ms_total + excluded.latency_ms_total`,
          }),
        )
        .execute();
    });
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
      .select([
        sql<string>`${sql.ref(column)}::text`.as('key'),
        sql<
          string | null
        >`max(${sql.raw(options.groupBy === 'credential' ? 'c.name' : options.groupBy === 'token' ? 't.name' : 'NULL')})`.as(
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
