import pino from 'pino';
import { AllowanceLedger, type WindowSpec } from '../../src/limits/allowance-ledger.ts';
import {
  windowId,
  type LedgerRepository,
  type RefusalCount,
  type WindowReport,
} from '../../src/limits/ledger.repository.ts';

/**
 * `limit_windows` in memory, holding what the real table holds: every lease takes at most
 * `cap - settled - leased`, and the invariant `settled + leased <= cap` is checked after every change.
 * Each call yields to the event loop first, as a database round trip would.
 */
export class FakeLedgerRepository implements Pick<
  LedgerRepository,
  'lease' | 'report' | 'settled' | 'countRefusals'
> {
  readonly rows = new Map<string, { cap: number; settled: number; leased: number }>();
  readonly refusals: RefusalCount[] = [];
  leases = 0;
  /** The next `report` calls fail (a lost database). */
  failReports = 0;
  violations: string[] = [];

  async lease(key: string, windowStart: Date, cap: number, want: number): Promise<number> {
    await tick();
    this.leases++;
    const id = windowId(key, windowStart);
    const row = this.rows.get(id) ?? { cap, settled: 0, leased: 0 };
    this.rows.set(id, row);
    row.cap = cap;
    const granted = Math.max(0, Math.min(want, cap - row.settled - row.leased));
    row.leased += granted;
    // A cap lowered below what is already out is the owner's doing; a lease must never add past it.
    if (granted > 0) this.#check(id);
    return granted;
  }

  async report(reports: WindowReport[]): Promise<void> {
    await tick();
    if (this.failReports > 0) {
      this.failReports--;
      throw new Error('connection refused');
    }
    for (const report of reports) {
      const id = windowId(report.key, report.windowStart);
      const row = this.rows.get(id);
      if (!row) continue;
      row.settled += report.spent;
      row.leased = Math.max(0, row.leased - report.spent - report.returned);
      this.#check(id);
    }
  }

  async settled(windows: { key: string; windowStart: Date }[]): Promise<Map<string, number>> {
    const result = new Map<string, number>();
    for (const window of windows) {
      const id = windowId(window.key, window.windowStart);
      const row = this.rows.get(id);
      if (row) result.set(id, row.settled);
    }
    return result;
  }

  async countRefusals(counts: RefusalCount[]): Promise<void> {
    this.refusals.push(...counts);
  }

  row(spec: WindowSpec) {
    return this.rows.get(windowId(spec.key, spec.start)) ?? { cap: spec.cap, settled: 0, leased: 0 };
  }

  #check(id: string): void {
    const row = this.rows.get(id)!;
    // A millionth of slack for floating-point sums of USD amounts.
    if (row.settled + row.leased > row.cap + 1e-9)
      this.violations.push(`${id}: settled ${row.settled} + leased ${row.leased} > cap ${row.cap}`);
  }
}

export const tick = () => new Promise<void>((resolve) => setImmediate(resolve));
const logger = pino({ level: 'silent' });

/** A ledger whose timer never fires during a test: syncs are called by the test. */
export const ledgerOver = (repository: FakeLedgerRepository) =>
  new AllowanceLedger({
    repository: repository as unknown as LedgerRepository,
    logger,
    syncIntervalMs: 3_600_000,
  });
