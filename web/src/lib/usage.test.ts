import { describe, expect, it } from 'vitest';
import { fillDays, metricValue } from './usage.ts';

const row = {
  key: '2026-12-02',
  label: '2026-12-02',
  requests: 3,
  errors: 1,
  inputTokens: 10,
  outputTokens: 5,
  cachedTokens: 0,
  avgLatencyMs: 12,
  costUsd: 0.25,
};

describe('usage', () => {
  it('reads each metric of a row, cost included', () => {
    expect(metricValue(row, 'requests')).toBe(3);
    expect(metricValue(row, 'tokens')).toBe(15);
    expect(metricValue(row, 'errors')).toBe(1);
    expect(metricValue(row, 'cost')).toBe(0.25);
  });

  it('fills every day of the period, keeping the rows that exist', () => {
    const days = fillDays([row], '2026-12-01', '2026-12-03');
    expect(days.map((day) => day.key)).toEqual(['2026-12-01', '2026-12-02', '2026-12-03']);
    expect(days[1]).toBe(row);
    expect(days[0]).toMatchObject({ requests: 0, costUsd: 0 });
  });
});
