import type { UsageRow } from '../api/types.ts';

export type Metric = 'requests' | 'tokens' | 'errors' | 'cost';

export function metricValue(row: UsageRow, metric: Metric): number {
  return metric === 'tokens'
    ? row.inputTokens + row.outputTokens
    : metric === 'errors'
      ? row.errors
      : metric === 'cost'
        ? row.costUsd
        : row.requests;
}

/** Every day from `from` to `to` (YYYY-MM-DD, inclusive), with empty rows for days without usage. */
export function fillDays(rows: UsageRow[], from: string, to: string): UsageRow[] {
  const byDay = new Map(rows.map((row) => [row.key.slice(0, 10), row]));
  const out: UsageRow[] = [];
  const end = Date.parse(`${to}T00:00:00Z`);
  for (let at = Date.parse(`${from}T00:00:00Z`); at <= end && out.length < 400; at += 86_400_000) {
    const day = new Date(at).toISOString().slice(0, 10);
    out.push(
      byDay.get(day) ??
        ({
          key: day,
          label: day,
          requests: 0,
          errors: 0,
          inputTokens: 0,
          outputTokens: 0,
          cachedTokens: 0,
          avgLatencyMs: 0,
          costUsd: 0,
        } as UsageRow),
    );
  }
  return out;
}
