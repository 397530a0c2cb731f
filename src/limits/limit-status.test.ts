import { describe, expect, it } from 'vitest';
import { FakeLedgerRepository, ledgerOver, tick } from '../../test/fakes/fake-ledger-repository.ts';
import type { WindowReport } from './ledger.repository.ts';
import { LimitStatusReader } from './limit-status.ts';
import { windowOf } from './spend-guard.ts';

/** `limit_windows` whose writes and reads wait for the test to let them through, one at a time. */
class GatedLedgerRepository extends FakeLedgerRepository {
  readonly #gates: { what: string; open: () => void }[] = [];

  override async report(reports: WindowReport[]): Promise<void> {
    await this.#gate('report');
    return super.report(reports);
  }

  override async settled(windows: { key: string; windowStart: Date }[]) {
    await this.#gate('settled');
    return super.settled(windows);
  }

  /** Lets the oldest waiting call through once it is waiting; says which it was. */
  async release(): Promise<string> {
    while (this.#gates.length === 0) await tick();
    const gate = this.#gates.shift()!;
    gate.open();
    return gate.what;
  }

  #gate(what: string): Promise<void> {
    return new Promise((open) => this.#gates.push({ what, open }));
  }
}

const now = new Date('2030-01-15T12:00:00Z');
const holder = {
  scope: 'grant' as const,
  id: 'g1',
  label: 'grant',
  limits: { usd: { amount: 10, period: 'month' as const } },
};

describe('LimitStatusReader', () => {
  it('shows what was spent while the node reports it to PostgreSQL, not nothing', async () => {
    const repository = new GatedLedgerRepository();
    const ledger = ledgerOver(repository);
    const reader = new LimitStatusReader({ repository, ledger });
    const window = windowOf(holder, 'usd', now)!;
    expect(await ledger.take(window, 1)).toBe(true);
    ledger.settle(window, 1, 0.25);

    // The report is under way (taken off the node's memory, not yet in PostgreSQL) when a user looks.
    const reporting = ledger.sync();
    const looked = reader.statusOf([holder], now);
    expect(await repository.release()).toBe('report');
    expect(await repository.release()).toBe('settled');
    await reporting;
    expect((await looked)[0]).toMatchObject({ kind: 'usd', spent: 0.25, amount: 10 });
  });

  it('shows what was spent when a report falls due while a user looks', async () => {
    const repository = new GatedLedgerRepository();
    const ledger = ledgerOver(repository);
    const reader = new LimitStatusReader({ repository, ledger });
    const window = windowOf(holder, 'usd', now)!;
    expect(await ledger.take(window, 1)).toBe(true);
    ledger.settle(window, 1, 0.5);

    const looked = reader.statusOf([holder], now);
    const reporting = ledger.sync();
    // The read goes first and sees the spending in memory; the report waits for it.
    expect(await repository.release()).toBe('settled');
    expect((await looked)[0]!.spent).toBe(0.5);
    expect(await repository.release()).toBe('report');
    await reporting;
    expect(repository.row(window).settled).toBe(0.5);
    const after = reader.statusOf([holder], now);
    expect(await repository.release()).toBe('settled');
    expect((await after)[0]!.spent).toBe(0.5);
  });
});
