import { sql, type Kysely } from 'kysely';
import type { DB, GrantSubjectType } from '../db/tables.ts';
import { limitsFrom, type Limits } from '../limits/limits.ts';

export interface GrantRecord {
  id: string;
  credentialId: string;
  credentialName: string;
  subjectType: GrantSubjectType;
  subjectId: string | null;
  /** The subject's name (team, username, bot or token name), when it still exists. */
  subjectName: string | null;
  models: string[] | null;
  limits: Limits;
  expiresAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface GrantInput {
  models: string[] | null;
  limits: Limits;
  expiresAt: Date | null;
}

const COLUMNS = [
  'g.id',
  'g.credential_id as credentialId',
  'c.name as credentialName',
  'g.subject_type as subjectType',
  'g.subject_id as subjectId',
  sql<string | null>`CASE g.subject_type
    WHEN 'team' THEN (SELECT t.name FROM teams t WHERE t.id = g.subject_id)
    WHEN 'user' THEN (SELECT u.username FROM users u WHERE u.id = g.subject_id)
    WHEN 'bot' THEN (SELECT b.name FROM bots b WHERE b.id = g.subject_id)
    WHEN 'token' THEN (SELECT k.name FROM api_tokens k WHERE k.id = g.subject_id)
  END`.as('subjectName'),
  'g.models',
  'g.limits',
  'g.expires_at as expiresAt',
  'g.created_at as createdAt',
  'g.updated_at as updatedAt',
] as const;

const toRecord = (row: Omit<GrantRecord, 'limits'> & { limits: unknown }): GrantRecord => ({
  ...row,
  limits: limitsFrom(row.limits),
});

/** Grants of a credential's use. The service decides who may read or change which; every read names its credential or team. */
export class GrantsRepository {
  readonly #db: Kysely<DB>;

  constructor(db: Kysely<DB>) {
    this.#db = db;
  }

  #select() {
    return this.#db
      .selectFrom('credential_grants as g')
      .innerJoin('credentials as c', 'c.id', 'g.credential_id')
      .select(COLUMNS);
  }

  async listForCredential(credentialId: string): Promise<GrantRecord[]> {
    const rows = await this.#select()
      .where('g.credential_id', '=', credentialId)
      .orderBy('g.created_at')
      .execute();
    return rows.map(toRecord);
  }

  async listForTeam(teamId: string): Promise<GrantRecord[]> {
    const rows = await this.#select()
      .where('g.subject_type', '=', 'team')
      .where('g.subject_id', '=', teamId)
      .orderBy('g.created_at')
      .execute();
    return rows.map(toRecord);
  }

  async find(credentialId: string, id: string): Promise<GrantRecord | undefined> {
    const row = await this.#select()
      .where('g.credential_id', '=', credentialId)
      .where('g.id', '=', id)
      .executeTakeFirst();
    return row && toRecord(row);
  }

  async findById(id: string): Promise<GrantRecord | undefined> {
    const row = await this.#select().where('g.id', '=', id).executeTakeFirst();
    return row && toRecord(row);
  }

  async insert(
    row: {
      id: string;
      credentialId: string;
      subjectType: GrantSubjectType;
      subjectId: string | null;
      createdBy: string;
    } & GrantInput,
  ): Promise<GrantRecord> {
    await this.#db
      .insertInto('credential_grants')
      .values({
        id: row.id,
        credential_id: row.credentialId,
        subject_type: row.subjectType,
        subject_id: row.subjectId,
        models: row.models,
        limits: JSON.stringify(row.limits),
        expires_at: row.expiresAt,
        created_by: row.createdBy,
      })
      .execute();
    return (await this.find(row.credentialId, row.id))!;
  }

  async update(
    credentialId: string,
    id: string,
    changes: Partial<GrantInput>,
  ): Promise<GrantRecord | undefined> {
    const result = await this.#db
      .updateTable('credential_grants')
      .set({
        ...(changes.models !== undefined ? { models: changes.models } : {}),
        ...(changes.limits !== undefined ? { limits: JSON.stringify(changes.limits) } : {}),
        ...(changes.expiresAt !== undefined ? { expires_at: changes.expiresAt } : {}),
        updated_at: new Date(),
      })
      .where('credential_id', '=', credentialId)
      .where('id', '=', id)
      .executeTakeFirst();
    if (result.numUpdatedRows === 0n) return undefined;
    return this.find(credentialId, id);
  }

  async delete(credentialId: string, id: string): Promise<boolean> {
    const result = await this.#db
      .deleteFrom('credential_grants')
      .where('credential_id', '=', credentialId)
      .where('id', '=', id)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  /** Whether a subject exists; bots and tokens only when `ownerId` owns them (null: anyone's, for admins). */
  async subjectExists(
    type: Exclude<GrantSubjectType, 'everyone'>,
    id: string,
    ownerId: string | null,
  ): Promise<boolean> {
    const query =
      type === 'team'
        ? sql`SELECT 1 FROM teams WHERE id = ${id}::uuid`
        : type === 'user'
          ? sql`SELECT 1 FROM users WHERE id = ${id}::uuid`
          : type === 'bot'
            ? sql`SELECT 1 FROM bots WHERE id = ${id}::uuid AND (${ownerId}::uuid IS NULL OR owner_id = ${ownerId}::uuid)`
            : sql`SELECT 1 FROM api_tokens WHERE id = ${id}::uuid AND revoked_at IS NULL AND (${ownerId}::uuid IS NULL OR user_id = ${ownerId}::uuid)`;
    const { rows } = await query.execute(this.#db);
    return rows.length > 0;
  }
}
