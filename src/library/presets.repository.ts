import type { Kysely } from 'kysely';
import { jsonArrayFrom } from 'kysely/helpers/postgres';
import type { DB } from '../db/tables.ts';
import type { ChatSettings } from '../chat/chat-settings.ts';
import type { Shared } from './shared.ts';

/** A saved set of chat settings, with who owns it and the teams it is shared with. */
export interface PresetRecord extends Shared {
  id: string;
  name: string;
  model: string | null;
  settings: ChatSettings;
  createdAt: Date;
  updatedAt: Date;
}

export interface PresetInput {
  name: string;
  model: string | null;
  settings: ChatSettings;
}

/**
 * Presets. Read by their owner and by the members of the teams they are shared with; every write is
 * scoped by `owner_id`, so another user's preset cannot be changed even through a team.
 */
export class PresetsRepository {
  readonly #db: Kysely<DB>;

  constructor(db: Kysely<DB>) {
    this.#db = db;
  }

  #readable(userId: string) {
    return this.#db
      .selectFrom('chat_presets as p')
      .innerJoin('users as owner', 'owner.id', 'p.owner_id')
      .where((eb) =>
        eb.or([
          eb('p.owner_id', '=', userId),
          eb.exists(
            eb
              .selectFrom('chat_preset_teams as pt')
              .innerJoin('team_members as tm', 'tm.team_id', 'pt.team_id')
              .whereRef('pt.preset_id', '=', 'p.id')
              .where('tm.user_id', '=', userId)
              .select('pt.team_id'),
          ),
        ]),
      )
      .select((eb) => [
        'p.id',
        'p.name',
        'p.model',
        'p.system_prompt',
        'p.temperature',
        'p.max_tokens',
        'p.context_messages',
        'p.context_tokens',
        'p.owner_id',
        'owner.username as owner_name',
        'p.created_at',
        'p.updated_at',
        // All of them for the owner; for a member, only the teams through which they read it.
        jsonArrayFrom(
          eb
            .selectFrom('chat_preset_teams as pt')
            .whereRef('pt.preset_id', '=', 'p.id')
            .where((inner) =>
              inner.or([
                inner('p.owner_id', '=', userId),
                inner.exists(
                  inner
                    .selectFrom('team_members as tm')
                    .whereRef('tm.team_id', '=', 'pt.team_id')
                    .where('tm.user_id', '=', userId)
                    .select('tm.user_id'),
                ),
              ]),
            )
            .select('pt.team_id as id')
            .orderBy('pt.team_id'),
        ).as('teams'),
      ]);
  }

  /** The presets `userId` may use: their own, then those shared with them, by name. */
  async list(userId: string): Promise<PresetRecord[]> {
    const rows = await this.#readable(userId).orderBy('p.name').orderBy('p.id').execute();
    return rows.map(toRecord);
  }

  async find(userId: string, id: string): Promise<PresetRecord | undefined> {
    const row = await this.#readable(userId).where('p.id', '=', id).executeTakeFirst();
    return row && toRecord(row);
  }

  async create(ownerId: string, id: string, input: PresetInput): Promise<void> {
    await this.#db
      .insertInto('chat_presets')
      .values({ id, owner_id: ownerId, name: input.name, model: input.model, ...columnsOf(input.settings) })
      .execute();
  }

  /** False when the owner has no such preset. */
  async update(ownerId: string, id: string, input: PresetInput): Promise<boolean> {
    const result = await this.#db
      .updateTable('chat_presets')
      .set({ name: input.name, model: input.model, ...columnsOf(input.settings), updated_at: new Date() })
      .where('owner_id', '=', ownerId)
      .where('id', '=', id)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  async delete(ownerId: string, id: string): Promise<boolean> {
    const result = await this.#db
      .deleteFrom('chat_presets')
      .where('owner_id', '=', ownerId)
      .where('id', '=', id)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  /** Shares the owner's preset with exactly these teams; false when the owner has no such preset. */
  async setTeams(ownerId: string, id: string, teamIds: readonly string[]): Promise<boolean> {
    return this.#db.transaction().execute(async (trx) => {
      const preset = await trx
        .selectFrom('chat_presets')
        .select('id')
        .where('owner_id', '=', ownerId)
        .where('id', '=', id)
        .forUpdate()
        .executeTakeFirst();
      if (!preset) return false;
      await trx.deleteFrom('chat_preset_teams').where('preset_id', '=', id).execute();
      if (teamIds.length > 0)
        await trx
          .insertInto('chat_preset_teams')
          .values(teamIds.map((teamId) => ({ preset_id: id, team_id: teamId })))
          .execute();
      await trx.updateTable('chat_presets').set({ updated_at: new Date() }).where('id', '=', id).execute();
      return true;
    });
  }
}

function columnsOf(settings: ChatSettings) {
  return {
    system_prompt: settings.systemPrompt,
    temperature: settings.temperature,
    max_tokens: settings.maxTokens,
    context_messages: settings.contextMessages,
    context_tokens: settings.contextTokens,
  };
}

function toRecord(row: {
  id: string;
  name: string;
  model: string | null;
  system_prompt: string | null;
  temperature: number | null;
  max_tokens: number | null;
  context_messages: number | null;
  context_tokens: number | null;
  owner_id: string;
  owner_name: string;
  created_at: Date;
  updated_at: Date;
  teams: { id: string }[];
}): PresetRecord {
  return {
    id: row.id,
    name: row.name,
    model: row.model,
    settings: {
      systemPrompt: row.system_prompt,
      temperature: row.temperature,
      maxTokens: row.max_tokens,
      contextMessages: row.context_messages,
      contextTokens: row.context_tokens,
    },
    ownerId: row.owner_id,
    ownerName: row.owner_name,
    teamIds: row.teams.map((team) => team.id),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
