import { sql, type Kysely } from 'kysely';
import type { AuditLog } from '../audit/audit-log.repository.ts';
import { isAdmin, type Principal } from '../auth/principal.ts';
import { scopeOf } from '../credentials/credential-lookup.ts';
import type { CredentialsRepository } from '../credentials/credentials.repository.ts';
import type { ChangeFeed } from '../db/change-feed.ts';
import type { DB } from '../db/tables.ts';
import { KeywayError } from '../errors.ts';
import { isUuid } from '../ids.ts';
import type { LabelledHolder, LimitStatus, LimitStatusReader } from './limit-status.ts';
import { hasLimits, limitsFrom, type Limits } from './limits.ts';

/**
 * Limits on people (set by admins) and what a caller can see of every limit that applies to them:
 * their own, their teams', the grants they hold, their tokens' and their bots'.
 */
export class LimitsService {
  readonly #db: Kysely<DB>;
  readonly #credentials: Pick<CredentialsRepository, 'listVisible'>;
  readonly #status: Pick<LimitStatusReader, 'statusOf'>;
  readonly #audit: AuditLog;
  readonly #changes: ChangeFeed;

  constructor(deps: {
    db: Kysely<DB>;
    credentials: Pick<CredentialsRepository, 'listVisible'>;
    status: Pick<LimitStatusReader, 'statusOf'>;
    audit: AuditLog;
    changes: ChangeFeed;
  }) {
    this.#db = deps.db;
    this.#credentials = deps.credentials;
    this.#status = deps.status;
    this.#audit = deps.audit;
    this.#changes = deps.changes;
  }

  async setUserLimits(actor: Principal, userId: string, limits: Limits): Promise<{ limits: Limits }> {
    if (!isAdmin(actor)) throw new KeywayError('forbidden', "Only an admin may set a user's limits.");
    const result = isUuid(userId)
      ? await this.#db
          .updateTable('users')
          .set({ limits: JSON.stringify(limits), updated_at: new Date() })
          .where('id', '=', userId)
          .executeTakeFirst()
      : undefined;
    if (!result || result.numUpdatedRows === 0n) throw new KeywayError('not_found', 'No such user.');
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
  async mine(actor: Principal): Promise<LimitStatus[]> {
    const { rows } = await sql<{
      scope: 'user' | 'team' | 'token' | 'bot';
      id: string;
      name: string;
      limits: unknown;
    }>`
      SELECT 'user' AS scope, u.id, u.username AS name, u.limits FROM users u WHERE u.id = ${actor.userId}::uuid
      UNION ALL
      SELECT 'team', t.id, t.name, t.limits FROM team_members m JOIN teams t ON t.id = m.team_id
       WHERE m.user_id = ${actor.userId}::uuid
      UNION ALL
      SELECT 'token', k.id, k.name, k.limits FROM api_tokens k
       WHERE k.user_id = ${actor.userId}::uuid AND k.revoked_at IS NULL
      UNION ALL
      SELECT 'bot', b.id, b.name, b.limits FROM bots b WHERE b.owner_id = ${actor.userId}::uuid`.execute(
      this.#db,
    );
    const holders: LabelledHolder[] = rows.map((row) => ({
      scope: row.scope,
      id: row.id,
      label: row.scope === 'user' ? 'you' : `${row.scope} ${row.name}`,
      limits: limitsFrom(row.limits),
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
    return this.#status.statusOf(holders.filter((holder) => hasLimits(holder.limits)));
  }
}
