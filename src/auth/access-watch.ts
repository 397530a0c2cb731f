import type { Logger } from 'pino';
import type { ChangeFeed } from '../db/change-feed.ts';
import { KeywayError } from '../errors.ts';
import type { Principal } from './principal.ts';

/** What a watched piece of work is aborted with when its principal loses access. */
export class AccessRevoked extends KeywayError {
  constructor() {
    super(
      'access_revoked',
      'Your access was revoked while this was running (the account was disabled, or the token or session ended).',
    );
  }
}

export interface WatchedAccess {
  /** Aborts (with `AccessRevoked`) the moment the principal loses access. */
  readonly signal: AbortSignal;
  /** The work is over: stop watching. Idempotent. */
  release(): void;
}

/**
 * Ends long-running work — streams, provider calls, bot turns — the moment its principal loses
 * access, on every node: a user disabled, a token revoked, a web session ended. The change feed says
 * which user or token changed (`user:<id>`, `token:<id>`, `*` after a missed notification); each
 * piece of work of that principal then asks the database whether it still has access.
 */
export class AccessWatch {
  readonly #live = new Set<{ principal: Principal; controller: AbortController }>();
  readonly #stillHasAccess: (principal: Principal) => Promise<boolean>;
  readonly #logger: Logger;
  readonly #unsubscribe: () => void;

  constructor(deps: {
    changes: ChangeFeed;
    stillHasAccess: (principal: Principal) => Promise<boolean>;
    logger: Logger;
  }) {
    this.#stillHasAccess = deps.stillHasAccess;
    this.#logger = deps.logger;
    this.#unsubscribe = deps.changes.subscribe((topic) => this.#recheck(topic));
  }

  watch(principal: Principal): WatchedAccess {
    const entry = { principal, controller: new AbortController() };
    this.#live.add(entry);
    return {
      signal: entry.controller.signal,
      release: () => {
        this.#live.delete(entry);
      },
    };
  }

  /** How many pieces of work are watched (for tests and metrics). */
  get size(): number {
    return this.#live.size;
  }

  close(): void {
    this.#unsubscribe();
  }

  #recheck(topic: string): void {
    const [kind, id] = topic === '*' ? ['*', ''] : topic.split(':', 2);
    const affected = [...this.#live].filter(
      ({ principal }) =>
        kind === '*' ||
        (kind === 'user' && principal.userId === id) ||
        (kind === 'token' && principal.tokenId === id),
    );
    // One question per principal, however many streams it has open.
    const verdicts = new Map<string, Promise<boolean>>();
    for (const entry of affected) {
      const { principal } = entry;
      const key = `${principal.userId}/${principal.tokenId ?? ''}/${principal.sessionId ?? ''}`;
      let verdict = verdicts.get(key);
      if (!verdict) {
        verdict = this.#stillHasAccess(principal).catch((error: unknown) => {
          // The database is away: keep the work going; the next change asks again.
          this.#logger.warn({ err: error }, 'could not re-check access for running work');
          return true;
        });
        verdicts.set(key, verdict);
      }
      void verdict.then((allowed) => {
        if (allowed || !this.#live.has(entry)) return;
        this.#live.delete(entry);
        entry.controller.abort(new AccessRevoked());
      });
    }
  }
}
