import { randomUUID } from 'node:crypto';
import type { Principal } from '../auth/principal.ts';
import type { AssistantDirectory, AssistantProfile } from '../chat/chat-settings.ts';
import { KeywayError } from '../errors.ts';
import { isUuid } from '../ids.ts';
import {
  DuplicateAssistantName,
  type AssistantInput,
  type AssistantRecord,
  type AssistantsRepository,
} from './assistants.repository.ts';
import {
  checkAssistantModel,
  checkKnowledgeBases,
  type KnowledgeBaseAccess,
  type ModelCheck,
} from './model-check.ts';
import { shareableTeams, type TeamLookup } from '../sharing/shareable-teams.ts';
import { ownedBy } from './shared.ts';

/**
 * Assistants: a named model with instructions, settings, starter prompts, an avatar colour and
 * knowledge bases. Used by their owner and by the members of the teams they are shared with — in the
 * chat and as `assistant:<name>` on `/v1` — and changed by their owner only. Anyone else gets 404.
 */
export class AssistantsService implements AssistantDirectory {
  readonly #repository: AssistantsRepository;
  readonly #models: ModelCheck;
  readonly #bases: KnowledgeBaseAccess;
  readonly #teams: TeamLookup;

  constructor(deps: {
    repository: AssistantsRepository;
    /** The chat's model check: an assistant's model must be one its owner can use. */
    models: ModelCheck;
    /** Its knowledge bases must be ones its owner may read. */
    knowledgeBases: KnowledgeBaseAccess;
    teams: TeamLookup;
  }) {
    this.#repository = deps.repository;
    this.#models = deps.models;
    this.#bases = deps.knowledgeBases;
    this.#teams = deps.teams;
  }

  list(actor: Principal): Promise<AssistantRecord[]> {
    return this.#repository.list(actor.userId);
  }

  async get(actor: Principal, id: string): Promise<AssistantRecord> {
    const record = isUuid(id) ? await this.#repository.find(actor.userId, id) : undefined;
    if (!record) throw notFound();
    return record;
  }

  async byId(actor: Principal, id: string): Promise<AssistantProfile> {
    return profileOf(await this.get(actor, id));
  }

  async byName(actor: Principal, name: string): Promise<AssistantProfile> {
    const record = await this.#repository.findByName(actor.userId, name);
    if (!record) throw notFound();
    return profileOf(record);
  }

  async create(actor: Principal, input: AssistantInput): Promise<AssistantRecord> {
    await this.#check(actor, input, null);
    const id = randomUUID();
    try {
      await this.#repository.create(actor.userId, id, input);
    } catch (error) {
      throw error instanceof DuplicateAssistantName ? nameTaken(input.name) : error;
    }
    return this.get(actor, id);
  }

  async update(actor: Principal, id: string, changes: Partial<AssistantInput>): Promise<AssistantRecord> {
    const before = ownedBy(actor, await this.get(actor, id), 'assistant');
    const next: AssistantInput = {
      name: changes.name ?? before.name,
      description: changes.description ?? before.description,
      model: changes.model ?? before.model,
      instructions: changes.instructions ?? before.instructions,
      temperature: changes.temperature === undefined ? before.temperature : changes.temperature,
      maxTokens: changes.maxTokens === undefined ? before.maxTokens : changes.maxTokens,
      contextMessages:
        changes.contextMessages === undefined ? before.contextMessages : changes.contextMessages,
      contextTokens: changes.contextTokens === undefined ? before.contextTokens : changes.contextTokens,
      starterPrompts: changes.starterPrompts ?? before.starterPrompts,
      avatarColor: changes.avatarColor === undefined ? before.avatarColor : changes.avatarColor,
      knowledgeBaseIds: changes.knowledgeBaseIds ?? before.knowledgeBaseIds,
    };
    await this.#check(actor, next, before);
    try {
      if (!(await this.#repository.update(actor.userId, id, next))) throw notFound();
    } catch (error) {
      throw error instanceof DuplicateAssistantName ? nameTaken(next.name) : error;
    }
    return this.get(actor, id);
  }

  async delete(actor: Principal, id: string): Promise<void> {
    ownedBy(actor, await this.get(actor, id), 'assistant');
    if (!(await this.#repository.delete(actor.userId, id))) throw notFound();
  }

  /** Shares the actor's assistant with exactly these teams of theirs (none: private again). */
  async setTeams(actor: Principal, id: string, teamIds: string[]): Promise<AssistantRecord> {
    ownedBy(actor, await this.get(actor, id), 'assistant');
    const teams = await shareableTeams(this.#teams, actor, teamIds);
    if (!(await this.#repository.setTeams(actor.userId, id, teams))) throw notFound();
    return this.get(actor, id);
  }

  /** What is checked on save: only what changed (a model or base unchanged since is left alone). */
  async #check(actor: Principal, next: AssistantInput, before: AssistantRecord | null): Promise<void> {
    if (!before || next.model !== before.model) await checkAssistantModel(this.#models, actor, next.model);
    const added = next.knowledgeBaseIds.filter((id) => !before?.knowledgeBaseIds.includes(id));
    if (added.some((id) => !isUuid(id)))
      throw new KeywayError('not_found', 'No knowledge base you may read has this id.', {
        details: { field: 'knowledgeBaseIds' },
      });
    await checkKnowledgeBases(this.#bases, actor, added);
  }
}

function profileOf(record: AssistantRecord): AssistantProfile {
  return {
    id: record.id,
    name: record.name,
    model: record.model,
    instructions: record.instructions,
    temperature: record.temperature,
    maxTokens: record.maxTokens,
    contextMessages: record.contextMessages,
    contextTokens: record.contextTokens,
    knowledgeBaseIds: record.knowledgeBaseIds,
  };
}

const notFound = () => new KeywayError('not_found', 'No such assistant.');

const nameTaken = (name: string) =>
  new KeywayError('name_taken', `You already have an assistant named "${name}".`, {
    details: { field: 'name' },
  });
