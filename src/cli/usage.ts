import { KeywayError } from '../errors.ts';
import type { UsageRow } from '../usage/usage.repository.ts';
import { ApiClient, table } from './api-client.ts';
import { parseFlags, type CliIO } from './common.ts';

const USAGE = [
  'keyway usage [--group-by day|credential|model|token|bot|user|team] [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--all] [--json]',
  'By team, a user in several teams counts in each; --all (admins) shows everyone, not only you.',
].join('\n');

/** What `GET /api/usage` answers. */
interface UsageReport {
  groupBy: string;
  from: string;
  to: string;
  rows: UsageRow[];
}

/** `keyway usage`: gateway usage through the HTTP API (the last 30 days by day, unless told otherwise). */
export async function usageCommand(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseFlags(
    args,
    {
      url: { type: 'string' },
      'group-by': { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      all: { type: 'boolean' },
      json: { type: 'boolean' },
    },
    USAGE,
  );
  if (positionals.length > 0)
    throw new KeywayError('usage', `Unexpected argument: ${positionals[0]}`, { fix: USAGE });
  const query = new URLSearchParams({ groupBy: values['group-by'] ?? 'day' });
  if (values.from) query.set('from', values.from);
  if (values.to) query.set('to', values.to);
  if (values.all) query.set('all', 'true');
  const report = await ApiClient.fromEnvironment(io, values).call<UsageReport>('GET', `/api/usage?${query}`);
  if (values.json) {
    io.out(JSON.stringify(report) + '\n');
    return 0;
  }
  io.out(`Usage by ${report.groupBy}, ${report.from} to ${report.to}\n`);
  io.out(
    table(
      report.rows.map((row) => ({
        [report.groupBy]: row.label ?? row.key,
        requests: String(row.requests),
        errors: String(row.errors),
        input: String(row.inputTokens),
        output: String(row.outputTokens),
        cached: String(row.cachedTokens),
        'avg ms': String(row.avgLatencyMs),
        cost: formatUsd(row.costUsd),
      })),
      [report.groupBy, 'requests', 'errors', 'input', 'output', 'cached', 'avg ms', 'cost'],
    ),
  );
  return 0;
}

/** US dollars: cents from $1 up, four decimals below (a request often costs a fraction of a cent). */
export function formatUsd(usd: number): string {
  if (usd === 0) return '$0.00';
  if (Math.abs(usd) >= 1)
    return `$${usd.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
  return Math.abs(usd) < 0.00005 ? '<$0.0001' : `$${usd.toFixed(4)}`;
}
