import type { Principal } from '../auth/principal.ts';
import type { ChangeFeed } from '../db/change-feed.ts';
import type { CallerLimits, LimitsRepository } from './limits.repository.ts';

/** How long a caller's limits are trusted without a change notice. */
const TTL_MS = 60_000;

/**
 * Callers' limits, cached per user and token so the warm request path reads none of them from the
 * database; dropped on any change to a user, token or team (on every node, through the change feed).
 */
export class LimitsDirectory {
  readonly #repository: Pick<LimitsRepository, 'callerLimits'>;
  readonly #cache = new Map<string, { limits: CallerLimits; expiresAt: number }>();
  readonly #unsubscribe: () => void;

  constructor(deps: { repository: Pick<LimitsRepository, 'callerLimits'>; changes: ChangeFeed }) {
    this.#repository = deps.repository;
    this.#unsubscribe = deps.changes.subscribe((topic) => {
      if (
        topic === '*' ||
        topic.startsWith('user:') ||
        topic.startsWith('token:') ||
        topic.startsWith('team:')
      )
        this.#cache.clear();
    });
  }

  async of(principal: Principal): Promise<CallerLimits> {
    const key = `${principal.userId}\u0000${principal.tokenId ?? ''}`;
    const cached = this.#cache.get(key);
    if (cached && cached.expiresAt > Date.now()) return cached.limits;
    const limits = await this.#load(principal);
    this.#cache.set(key, { limits, expiresAt: Date.now() + TTL_MS });
    return limits;
  }

  close(): void {
    this.#unsubscribe();
  }

  #load(principal: Principal): Promise<CallerLimits> {
    return this.#repository.callerLimits(principal.userId, principal.tokenId);
  }
}
