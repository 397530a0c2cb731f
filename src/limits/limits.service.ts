import type { AuditLog } from '../audit/audit-log.repository.ts';
import { isAdmin, type Principal } from '../auth/principal.ts';
import { scopeOf } from '../credentials/credential-lookup.ts';
import type { CredentialsRepository } from '../credentials/credentials.repository.ts';
import type { ChangeFeed } from '../db/change-feed.ts';
import { KeywayError } from '../errors.ts';
import { isUuid } from '../ids.ts';
import type { LabelledHolder, LimitStatus, LimitStatusReader } from './limit-status.ts';
import { hasLimits, type Limits } from './limits.ts';
import type { LimitsRepository } from './limits.repository.ts';

/**
 * Limits on people (set by admins) and what a caller can see of every limit that applies to them:
 * their own, their teams', the grants they hold, their tokens' and their bots'.
 */
export class LimitsService {
  readonly #repository: Pick<LimitsRepository, 'holdersOf' | 'setUserLimits'>;
  readonly #credentials: Pick<CredentialsRepository, 'listVisible'>;
  readonly #status: Pick<LimitStatusReader, 'statusOf'>;
  readonly #audit: AuditLog;
  readonly #changes: ChangeFeed;

  constructor(deps: {
    repository: Pick<LimitsRepository, 'holdersOf' | 'setUserLimits'>;
    credentials: Pick<CredentialsRepository, 'listVisible'>;
    status: Pick<LimitStatusReader, 'statusOf'>;
    audit: AuditLog;
    changes: ChangeFeed;
  }) {
    this.#repository = deps.repository;
    this.#credentials = deps.credentials;
    this.#status = deps.status;
    this.#audit = deps.audit;
    this.#changes = deps.changes;
  }

  async setUserLimits(actor: Principal, userId: string, limits: Limits): Promise<{ limits: Limits }> {
    if (!isAdmin(actor)) throw new KeywayError('forbidden', "Only an admin may set a user's limits.");
    if (!isUuid(userId) || !(await this.#repository.setUserLimits(userId, limits)))
      throw new KeywayError('not_found', 'No such user.');
    await this.#audit.record({
      actorId: actor.userId,
      action: 'limits.update',
      targetType: 'user',
      targetId: userId,
      details: { limits },
    });
    await this.#changes.publish(`user:${userId}`);
    return { limits };
  }

  /** Every limit that applies to the caller, with what is spent of it and when it resets. */
  async mine(actor: Principal): Promise<Omit<LimitStatus, 'id'>[]> {
    const holders: LabelledHolder[] = (await this.#repository.holdersOf(actor.userId)).map((holder) => ({
      scope: holder.scope,
      id: holder.id,
      label: holder.scope === 'user' ? 'you' : `${holder.scope} ${holder.name}`,
      limits: holder.limits,
    }));
    for (const credential of await this.#credentials.listVisible(scopeOf(actor))) {
      for (const grant of credential.access.grants) {
        holders.push({
          scope: 'grant',
          id: grant.id,
          label: `grant of ${credential.name} (${grant.subjectType})`,
          limits: grant.limits,
        });
      }
    }
    const statuses = await this.#status.statusOf(holders.filter((holder) => hasLimits(holder.limits)));
    return statuses.map(({ id: _id, ...status }) => status);
  }
}
