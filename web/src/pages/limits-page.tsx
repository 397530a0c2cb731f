import { useEffect, useState } from 'react';
import { get, isMissingRoute } from '../api/client.ts';
import type { MyLimit } from '../api/sharing-types.ts';
import { Notice } from '../components/field.tsx';
import { SpendMeter } from '../components/limits-fields.tsx';
import { formatLimit, resetsText } from '../lib/limits.ts';
import { useTitle } from '../lib/router.ts';

const capitalised = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);

/** Every limit that applies to the signed-in user (`GET /api/me/limits`), with what is spent. */
export default function LimitsPage() {
  useTitle('My limits');
  const [limits, setLimits] = useState<MyLimit[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    get<{ limits: MyLimit[] }>('/api/me/limits')
      .then((found) => setLimits(found.limits))
      .catch((caught: unknown) => {
        setLimits([]);
        setError(
          isMissingRoute(caught)
            ? 'Limits are not available on this server yet.'
            : caught instanceof Error
              ? caught.message
              : String(caught),
        );
      });
  }, []);

  return (
    <section className="page" aria-labelledby="limits-title">
      <h1 id="limits-title" tabIndex={-1}>
        My limits
      </h1>
      <p className="muted">
        Every limit that applies to what you send: yours, your teams', the grants you use, your API tokens'
        and bots'. The tightest one refuses first.
      </p>
      {error ? <Notice kind="error">{error}</Notice> : null}
      {limits === null ? (
        <p className="muted">Loading…</p>
      ) : limits.length === 0 && !error ? (
        <Notice kind="info">No limits apply to you.</Notice>
      ) : (
        <ul className="limit-list" aria-label="Limits that apply to you">
          {limits.map((limit, index) => (
            <li key={`${limit.scope}-${limit.label}-${limit.kind}-${index}`} className="limit-item">
              <h2>{capitalised(limit.label)}</h2>
              <p className="grant-facts">
                {formatLimit(limit.kind, limit.amount, limit.period)} ·{' '}
                {resetsText(limit.resetsAt, limit.kind, limit.period)}
              </p>
              <SpendMeter
                kind={limit.kind}
                spent={limit.spent}
                amount={limit.amount}
                label={`${capitalised(limit.label)}: ${formatLimit(limit.kind, limit.amount, limit.period)}`}
              />
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
