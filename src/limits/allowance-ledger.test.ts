import { describe, expect, it } from 'vitest';
import { FakeLedgerRepository, ledgerOver, tick } from '../../test/fakes/fake-ledger-repository.ts';
import type { WindowSpec } from './allowance-ledger.ts';

const spec = (cap: number, key = 'grant:g1:usd:month'): WindowSpec => ({
  key,
  start: new Date('2030-01-01T00:00:00Z'),
  end: new Date('2030-02-01T00:00:00Z'),
  cap,
});

/** A deterministic pseudo-random sequence (the same run every time). */
function random(seed: number) {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    return state / 2_147_483_648;
  };
}

describe('AllowanceLedger', () => {
  it('never lets two ledgers on one repository spend past the cap, however their requests interleave', async () => {
    const repository = new FakeLedgerRepository();
    const nodes = [ledgerOver(repository), ledgerOver(repository)];
    const window = spec(1_000);
    const next = random(7);
    let granted = 0;
    let spentByRequests = 0;
    for (let round = 0; round < 6; round++) {
      // 120 requests at once, split over both nodes, each reserving 5–25 and using part of it.
      await Promise.all(
        Array.from({ length: 120 }, async (_, index) => {
          const node = nodes[index % 2]!;
          const amount = 5 + Math.floor(next() * 21);
          if (!(await node.take(window, amount))) return false;
          granted++;
          await tick();
          const spent = Math.floor(next() * (amount + 1));
          spentByRequests += spent;
          node.settle(window, amount, spent);
          return true;
        }),
      );
      await Promise.all(nodes.map((node) => node.sync()));
      expect(repository.violations).toEqual([]);
    }
    // Twice: the first sync reports, the second gives back what sat idle since.
    for (let i = 0; i < 2; i++) await Promise.all(nodes.map((node) => node.sync()));
    const row = repository.row(window);
    expect(repository.violations).toEqual([]);
    expect(row.settled).toBe(spentByRequests);
    expect(row.settled).toBeLessThanOrEqual(1_000);
    expect(row.leased).toBe(0);
    expect(granted).toBeGreaterThan(50);
  });

  it('holds a lowered cap at once: what was leased under the old cap is given back, not spent', async () => {
    const repository = new FakeLedgerRepository();
    const ledger = ledgerOver(repository);
    expect(await ledger.take(spec(1_000), 10)).toBe(true);
    ledger.settle(spec(1_000), 10, 10);
    // The node holds a lease of a tenth of the old cap; the owner lowers the cap to 15.
    expect(await ledger.take(spec(15), 10)).toBe(false);
    expect(await ledger.take(spec(15), 5)).toBe(false);
    await ledger.sync();
    expect(repository.row(spec(15))).toMatchObject({ settled: 10, leased: 0 });
    // Back under the new cap: what it leaves (5) is spendable again.
    expect(await ledger.take(spec(15), 5)).toBe(true);
    expect(await ledger.take(spec(15), 1)).toBe(false);
    expect(repository.violations).toEqual([]);
  });

  it('does not refuse requests that wait on another request’s lease while the window still has room', async () => {
    const repository = new FakeLedgerRepository();
    const ledger = ledgerOver(repository);
    const window = spec(100);
    // 33 × 3 = 99 fits in 100; each lease brings a tenth of the cap, so most requests wait on another's.
    const taken = await Promise.all(Array.from({ length: 33 }, () => ledger.take(window, 3)));
    expect(taken.filter(Boolean)).toHaveLength(33);
    // Now the window is used up: a request that needs more than what is left is refused.
    expect(await ledger.take(window, 2)).toBe(false);
    expect(await ledger.take(window, 1)).toBe(true);
    expect(repository.violations).toEqual([]);
  });

  it('refuses at once what no lease can cover, and leases nothing for it beyond the cap', async () => {
    const repository = new FakeLedgerRepository();
    const ledger = ledgerOver(repository);
    const window = spec(100);
    expect(await ledger.take(window, 101)).toBe(false);
    expect(repository.row(window).leased).toBeLessThanOrEqual(100);
    expect(await ledger.take(window, 100)).toBe(true);
  });

  it('returns the unused part of a reservation when the request settles', async () => {
    const repository = new FakeLedgerRepository();
    const ledger = ledgerOver(repository);
    const window = spec(100);
    expect(await ledger.take(window, 60)).toBe(true);
    // Another 60 does not fit while the first is reserved…
    expect(await ledger.take(window, 60)).toBe(false);
    // …and does once the first used only 10 of its 60.
    ledger.settle(window, 60, 10);
    expect(ledger.unreported(window.key, window.start)).toBe(10);
    expect(await ledger.take(window, 60)).toBe(true);
    ledger.settle(window, 60, 60);
    await ledger.sync();
    expect(repository.row(window).settled).toBe(70);
    expect(ledger.unreported(window.key, window.start)).toBe(0);
  });

  it('gives back holdings nobody used since the last sync, so another node can spend them', async () => {
    const repository = new FakeLedgerRepository();
    const first = ledgerOver(repository);
    const second = ledgerOver(repository);
    const window = spec(100);
    expect(await first.take(window, 90)).toBe(true);
    first.settle(window, 90, 4);
    // `first` still holds 86 of its lease of 90: the other node gets only the 10 left, too few.
    expect(await second.take(window, 50)).toBe(false);
    expect(repository.row(window)).toMatchObject({ settled: 0, leased: 100 });
    await first.sync(); // reports the 4 spent; the holding was used since the last sync, so it is kept
    expect(repository.row(window)).toMatchObject({ settled: 4, leased: 96 });
    await first.sync(); // idle for a whole interval now: its 86 go back (the 10 are the second node's)
    expect(repository.row(window)).toMatchObject({ settled: 4, leased: 10 });
    expect(await second.take(window, 96)).toBe(true);
    expect(await second.take(window, 1)).toBe(false);
  });

  it('gives back a holding of USD fractions once idle, whatever rounding the sums gathered', async () => {
    const repository = new FakeLedgerRepository();
    const ledger = ledgerOver(repository);
    const window = spec(1);
    // 0.1 + 0.2 - 0.1 - 0.2 is not 0 in floating point: the holding must still count as idle.
    expect(await ledger.take(window, 0.1)).toBe(true);
    expect(await ledger.take(window, 0.2)).toBe(true);
    ledger.settle(window, 0.1, 0.03);
    ledger.settle(window, 0.2, 0.07);
    await ledger.sync();
    await ledger.sync();
    expect(repository.row(window).leased).toBe(0);
    expect(repository.row(window).settled).toBeCloseTo(0.1, 12);
  });

  it('gives back what it holds in a window that has ended, even while it was in use', async () => {
    const repository = new FakeLedgerRepository();
    const ledger = ledgerOver(repository);
    const ended: WindowSpec = {
      key: 'user:u1:rpm',
      start: new Date(Date.now() - 120_000),
      end: new Date(Date.now() - 60_000),
      cap: 100,
    };
    expect(await ledger.take(ended, 1)).toBe(true);
    ledger.settle(ended, 1, 1);
    await ledger.sync();
    expect(repository.row(ended)).toMatchObject({ settled: 1, leased: 0 });
  });

  it('keeps what was spent when a report fails, and reports it with the next sync', async () => {
    const repository = new FakeLedgerRepository();
    const first = ledgerOver(repository);
    const second = ledgerOver(repository);
    const window = spec(100);
    expect(await first.take(window, 30)).toBe(true);
    first.settle(window, 30, 30);
    repository.failReports = 1;
    await first.sync();
    expect(repository.row(window).settled).toBe(0);
    // Still counted here, and still leased in the database: nobody can spend it twice.
    expect(first.unreported(window.key, window.start)).toBe(30);
    expect(repository.row(window).leased).toBeGreaterThanOrEqual(30);
    expect(await second.take(window, 71)).toBe(false);
    await first.sync();
    expect(repository.row(window).settled).toBe(30);
    expect(first.unreported(window.key, window.start)).toBe(0);
    await first.sync();
    // What is leased now is the 70 the second node got for its refused request.
    expect(repository.row(window)).toMatchObject({ settled: 30, leased: 70 });
    expect(await second.take(window, 70)).toBe(true);
    expect(await second.take(window, 1)).toBe(false);
    expect(repository.violations).toEqual([]);
  });

  it('gives everything back on close', async () => {
    const repository = new FakeLedgerRepository();
    const ledger = ledgerOver(repository);
    const window = spec(100);
    expect(await ledger.take(window, 20)).toBe(true);
    ledger.settle(window, 20, 5);
    await ledger.close();
    expect(repository.row(window)).toMatchObject({ settled: 5, leased: 0 });
  });

  it('writes refusal counts per hour, one row per limit, code and user', async () => {
    const repository = new FakeLedgerRepository();
    const ledger = ledgerOver(repository);
    ledger.countRefusal('grant:g1:rpm', 'rate_limited', 'u1');
    ledger.countRefusal('grant:g1:rpm', 'rate_limited', 'u1');
    ledger.countRefusal('grant:g1:usd:month', 'budget_exceeded', 'u1');
    await ledger.sync();
    expect(
      repository.refusals.map(({ limitKey, code, refusals }) => [limitKey, code, refusals]).sort(),
    ).toEqual([
      ['grant:g1:rpm', 'rate_limited', 2],
      ['grant:g1:usd:month', 'budget_exceeded', 1],
    ]);
  });
});
