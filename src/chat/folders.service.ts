import { randomUUID } from 'node:crypto';
import type { Principal } from '../auth/principal.ts';
import { KeywayError } from '../errors.ts';
import { isUuid } from '../ids.ts';
import type { FolderRecord, FoldersRepository } from './folders.repository.ts';

/** A folder's name: whitespace collapsed at the ends, never empty. */
const folderName = (name: string) => {
  const trimmed = name.trim();
  if (trimmed === '')
    throw new KeywayError('validation_failed', 'A folder needs a name.', { details: { field: 'name' } });
  return trimmed;
};

const notFound = () => new KeywayError('not_found', 'No such folder.');

/** The caller's folders of conversations. Deleting one keeps its conversations (moved out of it). */
export class FoldersService {
  readonly #repository: FoldersRepository;

  constructor(deps: { repository: FoldersRepository }) {
    this.#repository = deps.repository;
  }

  list(actor: Principal): Promise<FolderRecord[]> {
    return this.#repository.list(actor.userId);
  }

  create(actor: Principal, input: { name: string }): Promise<FolderRecord> {
    return this.#repository.insert(actor.userId, { id: randomUUID(), name: folderName(input.name) });
  }

  async rename(actor: Principal, id: string, input: { name: string }): Promise<FolderRecord> {
    const name = folderName(input.name);
    const renamed = isUuid(id) ? await this.#repository.rename(actor.userId, id, name) : undefined;
    if (!renamed) throw notFound();
    return renamed;
  }

  async delete(actor: Principal, id: string): Promise<void> {
    if (!isUuid(id) || !(await this.#repository.delete(actor.userId, id))) throw notFound();
  }
}
