import { useEffect, useState } from 'react';
import { get } from '../api/client.ts';
import type { UsageGroup, UsageReport, UsageRow } from '../api/types.ts';
import { Notice } from '../components/field.tsx';
import { fillDays, type Metric, metricValue } from '../lib/usage.ts';
import { useTitle } from '../lib/router.ts';
import { useSession } from '../session.tsx';

const GROUPS: { id: UsageGroup; label: string }[] = [
  { id: 'day', label: 'By day' },
  { id: 'credential', label: 'By credential' },
  { id: 'model', label: 'By model' },
  { id: 'bot', label: 'By bot' },
];
const METRICS: { id: Metric; label: string }[] = [
  { id: 'requests', label: 'Requests' },
  { id: 'tokens', label: 'Tokens' },
  { id: 'errors', label: 'Errors' },
];

const number = new Intl.NumberFormat();

/** Requests and tokens over time and per credential, model or bot, drawn with plain SVG. */
export default function UsagePage() {
  useTitle('Usage');
  const { me } = useSession();
  const [group, setGroup] = useState<UsageGroup>('day');
  const [metric, setMetric] = useState<Metric>('requests');
  const [days, setDays] = useState(30);
  const [everyone, setEveryone] = useState(false);
  const [report, setReport] = useState<UsageReport | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    const to = new Date().toISOString().slice(0, 10);
    const from = new Date(Date.now() - (days - 1) * 86_400_000).toISOString().slice(0, 10);
    const query = new URLSearchParams({ groupBy: group, from, to, ...(everyone ? { all: 'true' } : {}) });
    setError(null);
    get<UsageReport>(`/api/usage?${query}`)
      .then(setReport)
      .catch((caught: unknown) => setError(caught instanceof Error ? caught.message : String(caught)));
  }, [group, days, everyone]);

  const rows = report ? (group === 'day' ? fillDays(report.rows, report.from, report.to) : report.rows) : [];
  const totals = rows.reduce(
    (sum, row) => ({
      requests: sum.requests + row.requests,
      errors: sum.errors + row.errors,
      tokens: sum.tokens + row.inputTokens + row.outputTokens,
    }),
    { requests: 0, errors: 0, tokens: 0 },
  );

  return (
    <section className="page" aria-labelledby="usage-title">
      <h1 id="usage-title" tabIndex={-1}>
        Usage
      </h1>
      <div className="toolbar" role="group" aria-label="Usage view">
        <div className="segmented" role="radiogroup" aria-label="Group by">
          {GROUPS.map((option) => (
            <button
              key={option.id}
              type="button"
              role="radio"
              aria-checked={group === option.id}
              className={group === option.id ? 'selected' : ''}
              onClick={() => setGroup(option.id)}
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
        {me.user.role === 'admin' ? (
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
        aria-label={`${metric} per day, ${rows[0]?.key} to ${rows[rows.length - 1]?.key}: ${number.format(total)} in total, at most ${number.format(max)} in a day.`}
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
              <title>{`${rows[index]!.key}: ${number.format(value)}`}</title>
            </rect>
          );
        })}
      </svg>
      <figcaption className="chart-axis">
        <span>{rows[0]?.key}</span>
        <span>max {number.format(max)}</span>
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
            <span className="bar-value">{number.format(value)}</span>
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
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
