import { randomUUID } from 'node:crypto';
import type { Principal } from '../auth/principal.ts';
import type { ChatSettings } from '../chat/chat-settings.ts';
import { KeywayError } from '../errors.ts';
import { isUuid } from '../ids.ts';
import type { ModelCheck } from './model-check.ts';
import type { PresetInput, PresetRecord, PresetsRepository } from './presets.repository.ts';
import { shareableTeams, type TeamLookup } from '../sharing/shareable-teams.ts';
import { ownedBy } from './shared.ts';

export interface PresetChanges {
  name?: string;
  model?: string | null;
  settings?: Partial<ChatSettings>;
}

/**
 * Presets: a named model and set of chat settings. Used by their owner and by the members of the
 * teams they are shared with; changed by their owner only. Anyone else gets 404.
 */
export class PresetsService {
  readonly #repository: PresetsRepository;
  readonly #models: ModelCheck;
  readonly #teams: TeamLookup;

  constructor(deps: { repository: PresetsRepository; models: ModelCheck; teams: TeamLookup }) {
    this.#repository = deps.repository;
    this.#models = deps.models;
    this.#teams = deps.teams;
  }

  list(actor: Principal): Promise<PresetRecord[]> {
    return this.#repository.list(actor.userId);
  }

  async get(actor: Principal, id: string): Promise<PresetRecord> {
    const record = isUuid(id) ? await this.#repository.find(actor.userId, id) : undefined;
    if (!record) throw notFound();
    return record;
  }

  async create(actor: Principal, input: PresetInput): Promise<PresetRecord> {
    if (input.model !== null) await this.#models.check(actor, input.model);
    const id = randomUUID();
    await this.#repository.create(actor.userId, id, input);
    return this.get(actor, id);
  }

  async update(actor: Principal, id: string, changes: PresetChanges): Promise<PresetRecord> {
    const before = ownedBy(actor, await this.get(actor, id), 'preset');
    const next: PresetInput = {
      name: changes.name ?? before.name,
      model: changes.model === undefined ? before.model : changes.model,
      settings: { ...before.settings, ...changes.settings },
    };
    if (next.model !== null && next.model !== before.model) await this.#models.check(actor, next.model);
    if (!(await this.#repository.update(actor.userId, id, next))) throw notFound();
    return this.get(actor, id);
  }

  async delete(actor: Principal, id: string): Promise<void> {
    ownedBy(actor, await this.get(actor, id), 'preset');
    if (!(await this.#repository.delete(actor.userId, id))) throw notFound();
  }

  /** Shares the actor's preset with exactly these teams of theirs (none: private again). */
  async setTeams(actor: Principal, id: string, teamIds: string[]): Promise<PresetRecord> {
    ownedBy(actor, await this.get(actor, id), 'preset');
    const teams = await shareableTeams(this.#teams, actor, teamIds);
    if (!(await this.#repository.setTeams(actor.userId, id, teams))) throw notFound();
    return this.get(actor, id);
  }
}

const notFound = () => new KeywayError('not_found', 'No such preset.');
