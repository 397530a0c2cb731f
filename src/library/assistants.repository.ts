import { sql, type Kysely } from 'kysely';
import { jsonArrayFrom } from 'kysely/helpers/postgres';
import type { DB } from '../db/tables.ts';
import { isUniqueViolation } from '../db/unique-violation.ts';
import type { Shared } from './shared.ts';

/** An assistant as stored, with who owns it and the teams it is shared with. */
export interface AssistantRecord extends Shared {
  id: string;
  name: string;
  description: string;
  model: string;
  instructions: string;
  temperature: number | null;
  maxTokens: number | null;
  contextMessages: number | null;
  contextTokens: number | null;
  starterPrompts: string[];
  avatarColor: string | null;
  knowledgeBaseIds: string[];
  createdAt: Date;
  updatedAt: Date;
}

export type AssistantInput = Omit<AssistantRecord, keyof Shared | 'id' | 'createdAt' | 'updatedAt'>;

/** Raised by `create`/`update` when the owner already has an assistant of that name (any case). */
export class DuplicateAssistantName extends Error {}

/**
 * Assistants and their knowledge bases. Read by their owner and by the members of the teams they
 * are shared with; every write is scoped by `owner_id`.
 */
export class AssistantsRepository {
  readonly #db: Kysely<DB>;

  constructor(db: Kysely<DB>) {
    this.#db = db;
  }

  #readable(userId: string) {
    return this.#db
      .selectFrom('chat_assistants as a')
      .innerJoin('users as owner', 'owner.id', 'a.owner_id')
      .where((eb) =>
        eb.or([
          eb('a.owner_id', '=', userId),
          eb.exists(
            eb
              .selectFrom('chat_assistant_teams as at')
              .innerJoin('team_members as tm', 'tm.team_id', 'at.team_id')
              .whereRef('at.assistant_id', '=', 'a.id')
              .where('tm.user_id', '=', userId)
              .select('at.team_id'),
          ),
        ]),
      )
      .select((eb) => [
        'a.id',
        'a.name',
        'a.description',
        'a.model',
        'a.instructions',
        'a.temperature',
        'a.max_tokens',
        'a.context_messages',
        'a.context_tokens',
        'a.starter_prompts',
        'a.avatar_color',
        'a.owner_id',
        'owner.username as owner_name',
        'a.created_at',
        'a.updated_at',
        jsonArrayFrom(
          eb
            .selectFrom('chat_assistant_knowledge_bases as ak')
            .whereRef('ak.assistant_id', '=', 'a.id')
            .select('ak.kb_id as id')
            .orderBy('ak.kb_id'),
        ).as('bases'),
        // All of them for the owner; for a member, only the teams through which they read it.
        jsonArrayFrom(
          eb
            .selectFrom('chat_assistant_teams as at')
            .whereRef('at.assistant_id', '=', 'a.id')
            .where((inner) =>
              inner.or([
                inner('a.owner_id', '=', userId),
                inner.exists(
                  inner
                    .selectFrom('team_members as tm')
                    .whereRef('tm.team_id', '=', 'at.team_id')
                    .where('tm.user_id', '=', userId)
                    .select('tm.user_id'),
                ),
              ]),
            )
            .select('at.team_id as id')
            .orderBy('at.team_id'),
        ).as('teams'),
      ]);
  }

  /** The assistants `userId` may use: their own and those shared with them, by name. */
  async list(userId: string): Promise<AssistantRecord[]> {
    const rows = await this.#readable(userId).orderBy('a.name').orderBy('a.id').execute();
    return rows.map(toRecord);
  }

  async find(userId: string, id: string): Promise<AssistantRecord | undefined> {
    const row = await this.#readable(userId).where('a.id', '=', id).executeTakeFirst();
    return row && toRecord(row);
  }

  /** By name, case-insensitively: the user's own first, then the oldest one shared with them. */
  async findByName(userId: string, name: string): Promise<AssistantRecord | undefined> {
    const row = await this.#readable(userId)
      .where(sql`lower(a.name)`, '=', name.toLowerCase())
      .orderBy(sql`CASE WHEN a.owner_id = ${userId}::uuid THEN 0 ELSE 1 END`)
      .orderBy('a.created_at')
      .orderBy('a.id')
      .executeTakeFirst();
    return row && toRecord(row);
  }

  async create(ownerId: string, id: string, input: AssistantInput): Promise<void> {
    try {
      await this.#db.transaction().execute(async (trx) => {
        await trx
          .insertInto('chat_assistants')
          .values({ id, owner_id: ownerId, ...columnsOf(input) })
          .execute();
        await setBases(trx, id, input.knowledgeBaseIds);
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw new DuplicateAssistantName();
      throw error;
    }
  }

  /** False when the owner has no such assistant. */
  async update(ownerId: string, id: string, input: AssistantInput): Promise<boolean> {
    try {
      return await this.#db.transaction().execute(async (trx) => {
        const result = await trx
          .updateTable('chat_assistants')
          .set({ ...columnsOf(input), updated_at: new Date() })
          .where('owner_id', '=', ownerId)
          .where('id', '=', id)
          .executeTakeFirst();
        if (result.numUpdatedRows === 0n) return false;
        await trx.deleteFrom('chat_assistant_knowledge_bases').where('assistant_id', '=', id).execute();
        await setBases(trx, id, input.knowledgeBaseIds);
        return true;
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw new DuplicateAssistantName();
      throw error;
    }
  }

  async delete(ownerId: string, id: string): Promise<boolean> {
    const result = await this.#db
      .deleteFrom('chat_assistants')
      .where('owner_id', '=', ownerId)
      .where('id', '=', id)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  /** Shares the owner's assistant with exactly these teams; false when the owner has no such assistant. */
  async setTeams(ownerId: string, id: string, teamIds: readonly string[]): Promise<boolean> {
    return this.#db.transaction().execute(async (trx) => {
      const assistant = await trx
        .selectFrom('chat_assistants')
        .select('id')
        .where('owner_id', '=', ownerId)
        .where('id', '=', id)
        .forUpdate()
        .executeTakeFirst();
      if (!assistant) return false;
      await trx.deleteFrom('chat_assistant_teams').where('assistant_id', '=', id).execute();
      if (teamIds.length > 0)
        await trx
          .insertInto('chat_assistant_teams')
          .values(teamIds.map((teamId) => ({ assistant_id: id, team_id: teamId })))
          .execute();
      await trx.updateTable('chat_assistants').set({ updated_at: new Date() }).where('id', '=', id).execute();
      return true;
    });
  }
}

async function setBases(trx: Kysely<DB>, assistantId: string, kbIds: readonly string[]): Promise<void> {
  if (kbIds.length === 0) return;
  await trx
    .insertInto('chat_assistant_knowledge_bases')
    .values(kbIds.map((kbId) => ({ assistant_id: assistantId, kb_id: kbId })))
    .execute();
}

function columnsOf(input: AssistantInput) {
  return {
    name: input.name,
    description: input.description,
    model: input.model,
    instructions: input.instructions,
    temperature: input.temperature,
    max_tokens: input.maxTokens,
    context_messages: input.contextMessages,
    context_tokens: input.contextTokens,
    starter_prompts: JSON.stringify(input.starterPrompts),
    avatar_color: input.avatarColor,
  };
}

function toRecord(row: {
  id: string;
  name: string;
  description: string;
  model: string;
  instructions: string;
  temperature: number | null;
  max_tokens: number | null;
  context_messages: number | null;
  context_tokens: number | null;
  starter_prompts: unknown[];
  avatar_color: string | null;
  owner_id: string;
  owner_name: string;
  created_at: Date;
  updated_at: Date;
  bases: { id: string }[];
  teams: { id: string }[];
}): AssistantRecord {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    model: row.model,
    instructions: row.instructions,
    temperature: row.temperature,
    maxTokens: row.max_tokens,
    contextMessages: row.context_messages,
    contextTokens: row.context_tokens,
    starterPrompts: row.starter_prompts.filter((prompt): prompt is string => typeof prompt === 'string'),
    avatarColor: row.avatar_color,
    knowledgeBaseIds: row.bases.map((base) => base.id),
    ownerId: row.owner_id,
    ownerName: row.owner_name,
    teamIds: row.teams.map((team) => team.id),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
