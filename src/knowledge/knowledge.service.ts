import { randomUUID } from 'node:crypto';
import type { Principal } from '../auth/principal.ts';
import { shareableTeams, type TeamLookup } from '../sharing/shareable-teams.ts';
import { KeywayError } from '../errors.ts';
import { isUuid } from '../ids.ts';
import type { ProviderDefinition } from '../providers/provider.ts';
import { documentTypeOf } from './ingestion-worker.ts';
import {
  DuplicateNameError,
  type KnowledgeBaseRecord,
  type KnowledgeFileRecord,
  type KnowledgeRepository,
} from './knowledge.repository.ts';

/** The change-feed topic that wakes the ingestion workers of every node. */
export const KNOWLEDGE_QUEUED_TOPIC = 'knowledge:queued';

/** Wires whose providers have an embeddings endpoint (src/gateway/exchanges/embeddings.ts). */
const EMBEDDING_WIRES = new Set(['openai', 'ollama', 'azure-openai', 'google']);

/** The ports the service needs: which provider a model reaches for a caller, and the caller's files. */
export interface KnowledgeServiceDeps {
  repository: KnowledgeRepository;
  /** Throws `model_not_found` (or similar) when the caller cannot use the model. */
  providerOf(principal: Principal, model: string): Promise<ProviderDefinition | null>;
  files: { find(ownerId: string, id: string): Promise<{ mediaType: string } | undefined> };
  /** Something was queued: wake the workers. */
  queued(): void;
  /** The teams a knowledge base may be shared with. */
  teams: TeamLookup;
}

/**
 * Knowledge bases: a user's named set of files, embedded with one model through the gateway as the
 * owner. Read by its owner and by the members of the teams it is shared with; changed by its owner
 * only. Anyone else gets 404 (admins included, as with files and conversations).
 */
export class KnowledgeService {
  readonly #deps: KnowledgeServiceDeps;

  constructor(deps: KnowledgeServiceDeps) {
    this.#deps = deps;
  }

  async list(actor: Principal): Promise<KnowledgeBaseRecord[]> {
    return this.#deps.repository.listBases(actor.userId);
  }

  /** A knowledge base the actor may read: their own or one shared with a team of theirs. */
  async get(actor: Principal, id: string): Promise<KnowledgeBaseRecord> {
    const record = isUuid(id) ? await this.#deps.repository.findBase(actor.userId, id) : undefined;
    if (!record) throw notFound();
    return record;
  }

  /** A knowledge base the actor owns; a team member who only reads it is refused (403), saying whose it is. */
  async #owned(actor: Principal, id: string): Promise<KnowledgeBaseRecord> {
    const record = await this.get(actor, id);
    if (record.ownerId !== actor.userId) {
      throw new KeywayError(
        'forbidden',
        `"${record.name}" is shared with you by ${record.ownerName}: only its owner changes it.`,
      );
    }
    return record;
  }

  /**
   * Shares the actor's knowledge base with exactly these teams (none: private again). The actor must
   * be in each team (an admin may pick any team); an unknown team is `not_found`.
   */
  async setTeams(actor: Principal, id: string, teamIds: string[]): Promise<KnowledgeBaseRecord> {
    await this.#owned(actor, id);
    const unique = await shareableTeams(this.#deps.teams, actor, teamIds);
    if (!(await this.#deps.repository.setTeams(actor.userId, id, unique))) throw notFound();
    return this.get(actor, id);
  }

  async create(
    actor: Principal,
    input: { name: string; embeddingModel: string },
  ): Promise<KnowledgeBaseRecord> {
    await this.#checkModel(actor, input.embeddingModel);
    try {
      return await this.#deps.repository.createBase(actor.userId, { id: randomUUID(), ...input });
    } catch (error) {
      throw error instanceof DuplicateNameError ? duplicate(input.name) : error;
    }
  }

  /** Renames it and/or changes its model; a new model queues every file to be embedded again. */
  async update(
    actor: Principal,
    id: string,
    changes: { name?: string; embeddingModel?: string },
  ): Promise<KnowledgeBaseRecord> {
    const before = await this.#owned(actor, id);
    if (changes.embeddingModel !== undefined && changes.embeddingModel !== before.embeddingModel)
      await this.#checkModel(actor, changes.embeddingModel);
    try {
      if (!(await this.#deps.repository.updateBase(actor.userId, id, changes))) throw notFound();
    } catch (error) {
      throw error instanceof DuplicateNameError ? duplicate(changes.name ?? '') : error;
    }
    if (changes.embeddingModel !== undefined && changes.embeddingModel !== before.embeddingModel)
      this.#deps.queued();
    return this.get(actor, id);
  }

  async delete(actor: Principal, id: string): Promise<void> {
    await this.#owned(actor, id);
    if (!(await this.#deps.repository.deleteBase(actor.userId, id))) throw notFound();
  }

  /** Adds one of the caller's files and queues its ingestion (a failed one is queued again). */
  async addFile(actor: Principal, id: string, fileId: string): Promise<KnowledgeFileRecord> {
    await this.#owned(actor, id);
    const file = isUuid(fileId) ? await this.#deps.files.find(actor.userId, fileId) : undefined;
    if (!file) throw new KeywayError('not_found', 'No such file.', { details: { field: 'fileId' } });
    if (!documentTypeOf(file.mediaType)) {
      throw new KeywayError(
        'unsupported_media_type',
        `A knowledge base takes documents (PDF, DOCX, Markdown, HTML, CSV, text, code), not ${file.mediaType}.`,
        { details: { field: 'fileId' } },
      );
    }
    const record = await this.#deps.repository.addFile(actor.userId, id, fileId);
    // Deleted between the checks and the insert.
    if (!record) throw notFound();
    if (record.status === 'queued') this.#deps.queued();
    return record;
  }

  async removeFile(actor: Principal, id: string, fileId: string): Promise<void> {
    await this.#owned(actor, id);
    if (!isUuid(fileId) || !(await this.#deps.repository.removeFile(actor.userId, id, fileId)))
      throw new KeywayError('not_found', 'That file is not in this knowledge base.');
  }

  async listFiles(actor: Principal, id: string): Promise<KnowledgeFileRecord[]> {
    await this.get(actor, id);
    return this.#deps.repository.listFiles(actor.userId, id);
  }

  /** The caller must reach the model now, on a provider that embeds. */
  async #checkModel(actor: Principal, model: string): Promise<void> {
    const provider = await this.#deps.providerOf(actor, model);
    if (!provider || !EMBEDDING_WIRES.has(provider.wire)) {
      throw new KeywayError(
        'validation_failed',
        `${model} cannot make embeddings: pick a model of OpenAI, Azure OpenAI, Mistral, Ollama, Google Gemini or an OpenAI-compatible server.`,
        { details: { field: 'embeddingModel' } },
      );
    }
  }
}

const notFound = () => new KeywayError('not_found', 'No such knowledge base.');

const duplicate = (name: string) =>
  new KeywayError('conflict', `You already have a knowledge base named "${name}".`, {
    details: { field: 'name' },
  });
