import { useEffect, useState } from 'react';
import { get } from '../api/client.ts';
import type { UsageGroup, UsageReport, UsageRow } from '../api/types.ts';
import { Notice } from '../components/field.tsx';
import { formatUsd } from '../lib/limits.ts';
import { fillDays, type Metric, metricValue } from '../lib/usage.ts';
import { useTitle } from '../lib/router.ts';
import { useSession } from '../session.tsx';

/** What the page reads: the generated report, with the sharing groups and each row's cost. */
type Report = Omit<UsageReport, 'rows'> & { rows: UsageRow[] };

const number = new Intl.NumberFormat();

const GROUPS: { id: UsageGroup; label: string; admin?: boolean }[] = [
  { id: 'day', label: 'By day' },
  { id: 'credential', label: 'By credential' },
  { id: 'model', label: 'By model' },
  { id: 'bot', label: 'By bot' },
  { id: 'user', label: 'By user', admin: true },
  { id: 'team', label: 'By team', admin: true },
];
const METRICS: { id: Metric; label: string }[] = [
  { id: 'requests', label: 'Requests' },
  { id: 'tokens', label: 'Tokens' },
  { id: 'errors', label: 'Errors' },
  { id: 'cost', label: 'Cost (USD)' },
];
const formatMetric = (value: number, metric: Metric) =>
  metric === 'cost' ? formatUsd(value) : number.format(value);

/** Requests and tokens over time and per credential, model or bot, drawn with plain SVG. */
export default function UsagePage() {
  useTitle('Usage');
  const { me } = useSession();
  const admin = me.user.role === 'admin';
  const [group, setGroup] = useState<UsageGroup>('day');
  const [metric, setMetric] = useState<Metric>('requests');
  const [days, setDays] = useState(30);
  const [everyone, setEveryone] = useState(false);
  const [report, setReport] = useState<Report | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    const to = new Date().toISOString().slice(0, 10);
    const from = new Date(Date.now() - (days - 1) * 86_400_000).toISOString().slice(0, 10);
    const query = new URLSearchParams({ groupBy: group, from, to, ...(everyone ? { all: 'true' } : {}) });
    setError(null);
    get<Report>(`/api/usage?${query}`)
      .then(setReport)
      .catch((caught: unknown) => setError(caught instanceof Error ? caught.message : String(caught)));
  }, [group, days, everyone]);

  const rows = report ? (group === 'day' ? fillDays(report.rows, report.from, report.to) : report.rows) : [];
  const totals = rows.reduce(
    (sum, row) => ({
      requests: sum.requests + row.requests,
      errors: sum.errors + row.errors,
      tokens: sum.tokens + row.inputTokens + row.outputTokens,
      cost: sum.cost + (row.costUsd ?? 0),
    }),
    { requests: 0, errors: 0, tokens: 0, cost: 0 },
  );

  return (
    <section className="page" aria-labelledby="usage-title">
      <h1 id="usage-title" tabIndex={-1}>
        Usage
      </h1>
      <div className="toolbar" role="group" aria-label="Usage view">
        <div className="segmented" role="radiogroup" aria-label="Group by">
          {GROUPS.filter((option) => admin || !option.admin).map((option) => (
            <button
              key={option.id}
              type="button"
              role="radio"
              aria-checked={group === option.id}
              className={group === option.id ? 'selected' : ''}
              onClick={() => {
                setGroup(option.id);
                // Grouping by user or team is about everyone's usage, not the admin's own.
                if (option.admin) setEveryone(true);
              }}
            >
              {option.label}
            </button>
          ))}
        </div>
        <label>
          Show{' '}
          <select value={metric} onChange={(event) => setMetric(event.target.value as Metric)}>
            {METRICS.map((option) => (
              <option key={option.id} value={option.id}>
                {option.label}
              </option>
            ))}
          </select>
        </label>
        <label>
          Period{' '}
          <select value={days} onChange={(event) => setDays(Number(event.target.value))}>
            <option value={7}>Last 7 days</option>
            <option value={30}>Last 30 days</option>
            <option value={90}>Last 90 days</option>
          </select>
        </label>
        {admin ? (
          <label className="check">
            <input
              type="checkbox"
              checked={everyone}
              onChange={(event) => setEveryone(event.target.checked)}
            />{' '}
            Everyone
          </label>
        ) : null}
      </div>
      {error ? <Notice kind="error">{error}</Notice> : null}
      <div className="stats">
        <div className="stat">
          <span className="stat-value" data-testid="total-requests">
            {number.format(totals.requests)}
          </span>
          <span className="stat-label">requests</span>
        </div>
        <div className="stat">
          <span className="stat-value">{number.format(totals.tokens)}</span>
          <span className="stat-label">tokens</span>
        </div>
        <div className="stat">
          <span className="stat-value">{number.format(totals.errors)}</span>
          <span className="stat-label">errors</span>
        </div>
        <div className="stat">
          <span className="stat-value" data-testid="total-cost">
            {formatUsd(totals.cost)}
          </span>
          <span className="stat-label">cost</span>
        </div>
      </div>
      {report && rows.every((row) => row.requests === 0) ? (
        <Notice kind="info">No requests in this period yet.</Notice>
      ) : null}
      {report && rows.some((row) => row.requests > 0) ? (
        group === 'day' ? (
          <DayChart rows={rows} metric={metric} />
        ) : (
          <BarList rows={rows} metric={metric} />
        )
      ) : null}
      {report && rows.some((row) => row.requests > 0) ? (
        <UsageTable rows={rows.filter((row) => row.requests > 0)} group={group} />
      ) : null}
    </section>
  );
}

function DayChart({ rows, metric }: { rows: UsageRow[]; metric: Metric }) {
  const values = rows.map((row) => metricValue(row, metric));
  const max = Math.max(1, ...values);
  const width = 100 / rows.length;
  const total = values.reduce((a, b) => a + b, 0);
  return (
    <figure className="chart">
      <svg
        viewBox="0 0 100 40"
        preserveAspectRatio="none"
        role="img"
        aria-label={`${metric} per day, ${rows[0]?.key} to ${rows[rows.length - 1]?.key}: ${formatMetric(total, metric)} in total, at most ${formatMetric(max, metric)} in a day.`}
      >
        {values.map((value, index) => {
          const height = (value / max) * 38;
          return (
            <rect
              key={rows[index]!.key}
              x={index * width + width * 0.1}
              y={40 - height}
              width={width * 0.8}
              height={height}
              className="bar"
            >
              <title>{`${rows[index]!.key}: ${formatMetric(value, metric)}`}</title>
            </rect>
          );
        })}
      </svg>
      <figcaption className="chart-axis">
        <span>{rows[0]?.key}</span>
        <span>max {formatMetric(max, metric)}</span>
        <span>{rows[rows.length - 1]?.key}</span>
      </figcaption>
    </figure>
  );
}

function BarList({ rows, metric }: { rows: UsageRow[]; metric: Metric }) {
  const sorted = [...rows].sort((a, b) => metricValue(b, metric) - metricValue(a, metric));
  const max = Math.max(1, ...sorted.map((row) => metricValue(row, metric)));
  return (
    <ul className="bar-list" aria-label={`${metric} by group`}>
      {sorted.map((row) => {
        const value = metricValue(row, metric);
        return (
          <li key={row.key}>
            <span className="bar-label">{row.label ?? row.key}</span>
            <span className="bar-track" aria-hidden="true">
              <span className="bar-fill" style={{ width: `${(value / max) * 100}%` }} />
            </span>
            <span className="bar-value">{formatMetric(value, metric)}</span>
          </li>
        );
      })}
    </ul>
  );
}

function UsageTable({ rows, group }: { rows: UsageRow[]; group: UsageGroup }) {
  return (
    <div className="table-scroll">
      <table className="data-table">
        <caption className="visually-hidden">
          Usage {GROUPS.find((g) => g.id === group)?.label.toLowerCase()}
        </caption>
        <thead>
          <tr>
            <th scope="col">{group === 'day' ? 'Day' : group[0]!.toUpperCase() + group.slice(1)}</th>
            <th scope="col">Requests</th>
            <th scope="col">Errors</th>
            <th scope="col">Input tokens</th>
            <th scope="col">Output tokens</th>
            <th scope="col">Avg latency</th>
            <th scope="col">Cost</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr key={row.key}>
              <th scope="row">{row.label ?? row.key}</th>
              <td>{number.format(row.requests)}</td>
              <td>{number.format(row.errors)}</td>
              <td>{number.format(row.inputTokens)}</td>
              <td>{number.format(row.outputTokens)}</td>
              <td>{number.format(Math.round(row.avgLatencyMs))} ms</td>
              <td>{row.costUsd === undefined ? '—' : formatUsd(row.costUsd)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
