import type { Limits, Period } from './limits.ts';
import type { AllowanceLedger } from './allowance-ledger.ts';
import type { LedgerRepository } from './ledger.repository.ts';
import { windowId } from './ledger.repository.ts';
import { LIMIT_KINDS, windowOf, type LimitKind, type LimitScope } from './spend-guard.ts';

/** One limit with what is spent of it in its current window, as the API shows it. */
export interface LimitStatus {
  scope: LimitScope;
  /** The user, team, grant, token or bot the limit sits on. */
  id: string;
  /** Whose limit, in words: "you", "team Physics", "grant of openai-main (everyone)", "token ci", "bot support". */
  label: string;
  kind: LimitKind;
  amount: number;
  period: Period | 'minute';
  spent: number;
  resetsAt: string | null;
}

export interface LabelledHolder {
  scope: LimitScope;
  id: string;
  label: string;
  limits: Limits;
}

/**
 * What is spent of limits right now: settled in PostgreSQL by every node, plus what this node has
 * spent and not yet reported (at most a second old), so a user sees their own request at once.
 */
export class LimitStatusReader {
  readonly #repository: Pick<LedgerRepository, 'settled'>;
  readonly #ledger: Pick<AllowanceLedger, 'unreported' | 'steady'>;

  constructor(deps: {
    repository: Pick<LedgerRepository, 'settled'>;
    ledger: Pick<AllowanceLedger, 'unreported' | 'steady'>;
  }) {
    this.#repository = deps.repository;
    this.#ledger = deps.ledger;
  }

  async statusOf(holders: LabelledHolder[], now = new Date()): Promise<LimitStatus[]> {
    const found = holders.flatMap((holder) =>
      LIMIT_KINDS.flatMap((kind) => {
        const spec = windowOf(holder, kind, now);
        return spec ? [{ holder, kind, spec }] : [];
      }),
    );
    // Settled and unreported are read together, with no report moving one into the other meanwhile.
    const spent = await this.#ledger.steady(async () => {
      const settled = await this.#repository.settled(
        found.map(({ spec }) => ({ key: spec.key, windowStart: spec.start })),
      );
      return found.map(
        ({ spec }) =>
          (settled.get(windowId(spec.key, spec.start)) ?? 0) + this.#ledger.unreported(spec.key, spec.start),
      );
    });
    return found.map(({ holder, kind, spec }, index) => ({
      scope: holder.scope,
      id: holder.id,
      label: holder.label,
      kind,
      amount: spec.cap,
      period: periodOf(holder.limits, kind),
      spent: round(spent[index]!),
      resetsAt: spec.end?.toISOString() ?? null,
    }));
  }

  /**
   * What each holder has spent of its USD and token limits (null for a measure it has no limit on),
   * in holder order, with one read for all of them.
   */
  async spentOf(
    holders: Omit<LabelledHolder, 'label'>[],
    now = new Date(),
  ): Promise<{ usd: number | null; tokens: number | null }[]> {
    const statuses = await this.statusOf(
      holders.map((holder) => ({ ...holder, label: '' })),
      now,
    );
    return holders.map((holder) => {
      const of = (kind: LimitKind) =>
        statuses.find(
          (status) => status.scope === holder.scope && status.id === holder.id && status.kind === kind,
        )?.spent ?? null;
      return { usd: of('usd'), tokens: of('tokens') };
    });
  }
}

function periodOf(limits: Limits, kind: LimitKind): Period | 'minute' {
  if (kind === 'usd') return limits.usd!.period;
  if (kind === 'tokens') return limits.tokens!.period;
  return 'minute';
}

/** Money to a millionth of a dollar; token counts are whole anyway. */
const round = (value: number) => Math.round(value * 1e6) / 1e6;
