import type { Kysely } from 'kysely';
import type { DB } from '../db/tables.ts';

export interface AuditEvent {
  actorId: string | null;
  action: string;
  targetType?: string;
  targetId?: string;
  /** Never a secret: names, providers, outcomes. */
  details?: Record<string, unknown>;
}

/** The audit trail: who did what to which object, and when. */
export interface AuditLog {
  record(event: AuditEvent): Promise<void>;
}

export class AuditLogRepository implements AuditLog {
  readonly #db: Kysely<DB>;

  constructor(db: Kysely<DB>) {
    this.#db = db;
  }

  async record(event: AuditEvent): Promise<void> {
    await this.#db
      .insertInto('audit_log')
      .values({
        actor: event.actorId,
        action: event.action,
        target_type: event.targetType ?? null,
        target_id: event.targetId ?? null,
        details: JSON.stringify(event.details ?? {}),
      })
      .execute();
  }
}
