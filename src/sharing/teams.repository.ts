import { inTransaction } from '../db/in-transaction.ts';
import { sql, type Kysely } from 'kysely';
import type { DB, TeamRole } from '../db/tables.ts';
import { isUniqueViolation } from '../db/unique-violation.ts';
import { limitsFrom, type Limits } from '../limits/limits.ts';

export interface TeamRecord {
  id: string;
  name: string;
  limits: Limits;
  memberCount: number;
  createdAt: Date;
  updatedAt: Date;
}

export interface TeamMember {
  userId: string;
  username: string;
  role: TeamRole;
}

const TEAM_COLUMNS = [
  'teams.id',
  'teams.name',
  'teams.limits',
  sql<number>`(SELECT count(*)::int FROM team_members m WHERE m.team_id = teams.id)`.as('memberCount'),
  'teams.created_at as createdAt',
  'teams.updated_at as updatedAt',
] as const;

const toRecord = (row: {
  id: string;
  name: string;
  limits: unknown;
  memberCount: number;
  createdAt: Date;
  updatedAt: Date;
}): TeamRecord => ({ ...row, limits: limitsFrom(row.limits) });

/** Teams and their members. Who may see or change which team is the service's rule, on these reads. */
export class TeamsRepository {
  readonly #db: Kysely<DB>;

  constructor(db: Kysely<DB>) {
    this.#db = db;
  }

  /** Every team (for admins), or those `userId` is in, with the caller's role in each. */
  async list(userId: string, all: boolean): Promise<(TeamRecord & { myRole: TeamRole | null })[]> {
    let query = this.#db
      .selectFrom('teams')
      .leftJoin('team_members as mine', (join) =>
        join.onRef('mine.team_id', '=', 'teams.id').on('mine.user_id', '=', userId),
      )
      .select([...TEAM_COLUMNS, 'mine.role as myRole'])
      .orderBy(sql`lower(teams.name)`);
    if (!all) query = query.where('mine.user_id', 'is not', null);
    const rows = await query.execute();
    return rows.map((row) => ({ ...toRecord(row), myRole: row.myRole ?? null }));
  }

  async find(id: string): Promise<TeamRecord | undefined> {
    const row = await this.#db
      .selectFrom('teams')
      .select(TEAM_COLUMNS)
      .where('id', '=', id)
      .executeTakeFirst();
    return row && toRecord(row);
  }

  async roleOf(teamId: string, userId: string): Promise<TeamRole | null> {
    const row = await this.#db
      .selectFrom('team_members')
      .select('role')
      .where('team_id', '=', teamId)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return row?.role ?? null;
  }

  /** Null when the name is taken. */
  async insert(row: { id: string; name: string; limits: Limits }): Promise<TeamRecord | null> {
    try {
      await this.#db
        .insertInto('teams')
        .values({ id: row.id, name: row.name, limits: JSON.stringify(row.limits) })
        .execute();
    } catch (error) {
      if (isUniqueViolation(error)) return null;
      throw error;
    }
    return (await this.find(row.id))!;
  }

  /** Undefined when there is no such team; null when the name is taken. */
  async update(
    id: string,
    changes: { name?: string; limits?: Limits },
  ): Promise<TeamRecord | undefined | null> {
    try {
      const result = await this.#db
        .updateTable('teams')
        .set({
          ...(changes.name !== undefined ? { name: changes.name } : {}),
          ...(changes.limits !== undefined ? { limits: JSON.stringify(changes.limits) } : {}),
          updated_at: new Date(),
        })
        .where('id', '=', id)
        .executeTakeFirst();
      if (result.numUpdatedRows === 0n) return undefined;
    } catch (error) {
      if (isUniqueViolation(error)) return null;
      throw error;
    }
    return this.find(id);
  }

  /** Deletes the team with its memberships and the grants made to it. */
  async delete(id: string): Promise<boolean> {
    return inTransaction(this.#db, async (trx) => {
      await trx
        .deleteFrom('credential_grants')
        .where('subject_type', '=', 'team')
        .where('subject_id', '=', id)
        .execute();
      const result = await trx.deleteFrom('teams').where('id', '=', id).executeTakeFirst();
      return result.numDeletedRows > 0n;
    });
  }

  async members(teamId: string): Promise<TeamMember[]> {
    return this.#db
      .selectFrom('team_members as m')
      .innerJoin('users as u', 'u.id', 'm.user_id')
      .select(['m.user_id as userId', 'u.username', 'm.role'])
      .where('m.team_id', '=', teamId)
      .orderBy(sql`lower(u.username)`)
      .execute();
  }

  async putMember(teamId: string, userId: string, role: TeamRole): Promise<void> {
    await this.#db
      .insertInto('team_members')
      .values({ team_id: teamId, user_id: userId, role })
      .onConflict((conflict) => conflict.columns(['team_id', 'user_id']).doUpdateSet({ role }))
      .execute();
  }

  async removeMember(teamId: string, userId: string): Promise<boolean> {
    const result = await this.#db
      .deleteFrom('team_members')
      .where('team_id', '=', teamId)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }
}
