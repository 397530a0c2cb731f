import type { Kysely } from 'kysely';
import type { AuditEvent, AuditLog } from '../audit/audit-log.repository.ts';
import type { DB } from '../db/tables.ts';

const ROWS_PER_STATEMENT = 1_000;

/**
 * The audit log of one import: the same entries `AuditLogRepository` writes, collected while the
 * import runs and written at its end in a few multi-row statements, inside the same transaction (an
 * import of a thousand keys would otherwise spend half its round trips on audit rows).
 */
export class ImportAuditLog implements AuditLog {
  readonly #db: Kysely<DB>;
  readonly #pending: AuditEvent[] = [];

  constructor(db: Kysely<DB>) {
    this.#db = db;
  }

  async record(event: AuditEvent): Promise<void> {
    this.#pending.push(event);
  }

  /** Writes what was recorded; call it before the transaction commits. */
  async flush(): Promise<void> {
    const events = this.#pending.splice(0);
    for (let start = 0; start < events.length; start += ROWS_PER_STATEMENT) {
      await this.#db
        .insertInto('audit_log')
        .values(
          events.slice(start, start + ROWS_PER_STATEMENT).map((event) => ({
            actor: event.actorId,
            action: event.action,
            target_type: event.targetType ?? null,
            target_id: event.targetId ?? null,
            details: JSON.stringify(event.details ?? {}),
          })),
        )
        .execute();
    }
  }
}
