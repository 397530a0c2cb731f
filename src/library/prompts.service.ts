import { randomUUID } from 'node:crypto';
import type { Principal } from '../auth/principal.ts';
import { KeywayError } from '../errors.ts';
import { isUuid } from '../ids.ts';
import type { PromptRecord, PromptsRepository } from './prompts.repository.ts';

/** The prompt library: each user's own saved prompts (never shared; anyone else gets 404). */
export class PromptsService {
  readonly #repository: PromptsRepository;

  constructor(deps: { repository: PromptsRepository }) {
    this.#repository = deps.repository;
  }

  list(actor: Principal): Promise<PromptRecord[]> {
    return this.#repository.list(actor.userId);
  }

  async get(actor: Principal, id: string): Promise<PromptRecord> {
    const record = isUuid(id) ? await this.#repository.find(actor.userId, id) : undefined;
    if (!record) throw notFound();
    return record;
  }

  async create(actor: Principal, input: { name: string; content: string }): Promise<PromptRecord> {
    const id = randomUUID();
    await this.#repository.create(actor.userId, id, input);
    return this.get(actor, id);
  }

  async update(
    actor: Principal,
    id: string,
    changes: { name?: string; content?: string },
  ): Promise<PromptRecord> {
    if (!isUuid(id) || !(await this.#repository.update(actor.userId, id, changes))) throw notFound();
    return this.get(actor, id);
  }

  async delete(actor: Principal, id: string): Promise<void> {
    if (!isUuid(id) || !(await this.#repository.delete(actor.userId, id))) throw notFound();
  }
}

const notFound = () => new KeywayError('not_found', 'No such prompt.');
