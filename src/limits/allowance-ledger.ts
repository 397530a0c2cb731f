import type { Logger } from 'pino';
import {
  windowId,
  type LedgerRepository,
  type RefusalCount,
  type WindowReport,
} from './ledger.repository.ts';

/** One limit's current window, as the ledger tracks it. */
export interface WindowSpec {
  /** `grant:<id>:usd:month`, `user:<id>:rpm`, … */
  key: string;
  start: Date;
  /** When the window ends (null: never). */
  end: Date | null;
  cap: number;
}

/** This node's share of one window: allowance held from PostgreSQL, and what it is spending. */
interface Holding {
  spec: WindowSpec;
  /** Leased from PostgreSQL and not yet reported back as spent or returned. */
  held: number;
  /** Taken by requests still running. */
  reserved: number;
  /**
   * How many requests hold a reservation. Idleness is decided on this count, not on `reserved`:
   * USD amounts are fractions, and a sum of them taken and given back rarely comes back to exactly 0.
   */
  running: number;
  /** Spent by requests that ended, not yet reported. */
  spent: number;
  /** Whether a request took from it since the last report. */
  active: boolean;
  /**
   * Held but no longer spendable here — the cap came down since it was leased — and given back at the
   * next report. Without this a lowered limit would not hold until the node's old lease ran out.
   */
  returning: number;
  /** A lease under way: others wait for it rather than lease again. */
  leasing: Promise<boolean> | null;
}

/** Each lease asks for this share of the cap at least, so a busy node leases rarely. */
const LEASE_SHARE = 0.1;

/**
 * Spends limits in memory from allowances leased from PostgreSQL. A request takes what it may cost
 * from this node's holding (leasing more, in one atomic statement, only when the holding runs short)
 * and settles what it really cost when it ends. Every second the node reports what it spent and gives
 * back holdings nobody used, so an idle node holds nothing. Since the database never leases more than
 * `cap - settled - leased`, the nodes together never spend past a cap: that is the whole guarantee,
 * and the warm path makes no database round trip.
 */
export class AllowanceLedger {
  readonly #repository: LedgerRepository;
  readonly #logger: Logger;
  readonly #holdings = new Map<string, Holding>();
  readonly #refusals = new Map<string, RefusalCount>();
  readonly #timer: NodeJS.Timeout;
  #syncing: Promise<void> | undefined;
  /** Reads of what is spent under way (see `steady`); a sync waits for them to end. */
  #readers = 0;
  #readersGone: (() => void) | undefined;

  constructor(deps: { repository: LedgerRepository; logger: Logger; syncIntervalMs?: number }) {
    this.#repository = deps.repository;
    this.#logger = deps.logger;
    this.#timer = setInterval(() => void this.sync(), deps.syncIntervalMs ?? 1_000);
    this.#timer.unref();
  }

  /**
   * Takes `amount` from a window for a request; false when the window cannot cover it. Leases more
   * while the holding runs short and PostgreSQL still grants all that is asked: only a lease that
   * comes back short (the window is used up everywhere) refuses. Requests that wait on another's
   * lease and find it spent lease again rather than give up while the window still has room.
   */
  async take(spec: WindowSpec, amount: number): Promise<boolean> {
    const holding = this.#holding(spec);
    holding.active = true;
    for (;;) {
      if (available(holding) >= amount) {
        holding.reserved += amount;
        holding.running++;
        return true;
      }
      const lease =
        holding.leasing ??
        this.#lease(holding, Math.max(amount - available(holding), spec.cap * LEASE_SHARE));
      const full = await lease;
      // Each full lease adds at least a tenth of the cap, so this ends after a few leases at most.
      if (!full && available(holding) < amount) return false;
    }
  }

  /** One lease for a holding; the others that run short meanwhile wait for it. True when all of `want` was granted. */
  #lease(holding: Holding, want: number): Promise<boolean> {
    const { spec } = holding;
    const leasing = this.#repository
      .lease(spec.key, spec.start, spec.cap, want)
      .then((granted) => {
        holding.held += granted;
        return granted >= want;
      })
      .finally(() => {
        if (holding.leasing === leasing) holding.leasing = null;
      });
    holding.leasing = leasing;
    return leasing;
  }

  /** Ends a request's take: `spent` of the `reserved` amount was used (the rest returns to the holding). */
  settle(spec: WindowSpec, reserved: number, spent: number): void {
    const holding = this.#holding(spec);
    holding.running = Math.max(0, holding.running - 1);
    // The last one out leaves nothing reserved, whatever rounding the sums gathered.
    holding.reserved = holding.running === 0 ? 0 : Math.max(0, holding.reserved - reserved);
    holding.spent += spent;
  }

  /**
   * Runs a read of what is spent — PostgreSQL's settled sums plus `unreported` — while no report is
   * under way. A report moves spending from this node's memory to PostgreSQL; a read that straddled
   * it would see the amount in neither place (or in both). Waits for a report in progress; a report
   * due meanwhile waits for the read.
   */
  async steady<T>(read: () => Promise<T>): Promise<T> {
    while (this.#syncing) await this.#syncing;
    this.#readers++;
    try {
      return await read();
    } finally {
      if (--this.#readers === 0) this.#readersGone?.();
    }
  }

  /** What this node has spent in a window and not yet reported (added to what PostgreSQL says). */
  unreported(key: string, start: Date): number {
    const holding = this.#holdings.get(windowId(key, start));
    return holding ? holding.spent : 0;
  }

  /** Counts a refusal (written per hour, not one row per refused request). */
  countRefusal(limitKey: string, code: string, userId: string): void {
    const hour = new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000);
    const id = `${hour.getTime()}\u0000${limitKey}\u0000${code}\u0000${userId}`;
    const count = this.#refusals.get(id);
    if (count) count.refusals++;
    else this.#refusals.set(id, { hour, limitKey, code, userId, refusals: 1 });
  }

  /** Reports spending, gives back idle or ended holdings, writes refusal counts. Concurrent calls share one. */
  async sync(): Promise<void> {
    if (this.#syncing) return this.#syncing;
    this.#syncing = this.#readersDone()
      .then(() => this.#sync())
      .finally(() => {
        this.#syncing = undefined;
        this.#readersGone = undefined;
      });
    return this.#syncing;
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.#syncing;
    // Give everything back: running requests have ended by now.
    for (const holding of this.#holdings.values()) holding.active = false;
    await this.sync();
  }

  async #readersDone(): Promise<void> {
    if (this.#readers > 0) await new Promise<void>((resolve) => (this.#readersGone = resolve));
  }

  async #sync(): Promise<void> {
    const now = Date.now();
    const reports: (WindowReport & { holding: Holding; drop: boolean; returning: number })[] = [];
    for (const holding of this.#holdings.values()) {
      const ended = holding.spec.end !== null && holding.spec.end.getTime() <= now;
      const idle = !holding.active && holding.running === 0 && holding.leasing === null;
      const returned = holding.returning + (idle || ended ? Math.max(0, available(holding)) : 0);
      if (holding.spent === 0 && returned === 0 && !idle) {
        holding.active = false;
        continue;
      }
      reports.push({
        key: holding.spec.key,
        windowStart: holding.spec.start,
        spent: holding.spent,
        returned,
        returning: holding.returning,
        holding,
        drop: idle,
      });
      holding.active = false;
    }
    const refusals = [...this.#refusals.values()];
    this.#refusals.clear();
    // Taken off the holdings before the write, so requests meanwhile see what is really left.
    for (const report of reports) {
      report.holding.held -= report.spent + report.returned;
      report.holding.spent -= report.spent;
      report.holding.returning -= report.returning;
      // An idle holding gave back all it held: what is left is rounding.
      if (report.drop && Math.abs(report.holding.held) < 1e-9) report.holding.held = 0;
      if (report.drop && report.holding.held <= 0 && report.holding.spent === 0)
        this.#holdings.delete(windowId(report.key, report.windowStart));
    }
    try {
      await this.#repository.report(reports.filter((report) => report.spent > 0 || report.returned > 0));
    } catch (error) {
      this.#logger.error(
        { err: error, windows: reports.length },
        'could not report limit spending; retrying',
      );
      for (const report of reports) {
        const holding = this.#holding(report.holding.spec);
        holding.held += report.spent + report.returned;
        holding.spent += report.spent;
        // What a lowered cap took out of reach stays out of reach until it is given back.
        holding.returning += report.returning;
      }
    }
    try {
      await this.#repository.countRefusals(refusals);
    } catch (error) {
      this.#logger.warn({ err: error }, 'could not write refusal counts');
    }
  }

  #holding(spec: WindowSpec): Holding {
    const id = windowId(spec.key, spec.start);
    let holding = this.#holdings.get(id);
    if (!holding) {
      holding = {
        spec,
        held: 0,
        reserved: 0,
        running: 0,
        spent: 0,
        active: false,
        leasing: null,
        returning: 0,
      };
      this.#holdings.set(id, holding);
    } else if (spec.cap < holding.spec.cap) {
      // The limit came down: what this node holds under the old cap is not this node's to spend.
      holding.returning += Math.max(0, available(holding));
    }
    holding.spec = spec;
    return holding;
  }
}

const available = (holding: Holding) => holding.held - holding.reserved - holding.spent - holding.returning;
