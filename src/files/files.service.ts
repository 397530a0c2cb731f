import { createHash, randomUUID } from 'node:crypto';
import type { AuditLog } from '../audit/audit-log.repository.ts';
import type { Principal } from '../auth/principal.ts';
import { KeywayError } from '../errors.ts';
import { isUuid } from '../ids.ts';
import { detectFileType } from './file-types.ts';
import type { FileRecord, FilesRepository } from './files.repository.ts';

export type FileView = FileRecord;

/** A file's bytes with what it is, to be served back. */
export interface FileContent {
  file: FileRecord;
  content: Uint8Array;
}

const MAX_NAME_LENGTH = 255;

/** Refuses (throws `file_unreadable`) bytes of a detected type that could never be read. */
export type ReadabilityCheck = (content: Uint8Array, mediaType: string) => Promise<void>;

/**
 * Files a user uploads, for later use by knowledge bases and chat: checked by their bytes, stored
 * whole or not at all, visible to their owner only (admins included: another user's file is not
 * found, as with conversations).
 */
export class FilesService {
  readonly #repository: FilesRepository;
  readonly #audit: AuditLog;
  readonly #maxBytes: number;

  readonly #checkReadable: ReadabilityCheck;

  constructor(deps: {
    repository: FilesRepository;
    audit: AuditLog;
    maxBytes: number;
    /** The knowledge capability's cheap look inside a document (password, zip bomb); none by default. */
    checkReadable?: ReadabilityCheck;
  }) {
    this.#repository = deps.repository;
    this.#audit = deps.audit;
    this.#maxBytes = deps.maxBytes;
    this.#checkReadable = deps.checkReadable ?? (async () => {});
  }

  /** The largest file accepted, in bytes. */
  get maxBytes(): number {
    return this.#maxBytes;
  }

  async create(actor: Principal, input: { name: string; content: Uint8Array }): Promise<FileView> {
    if (input.content.byteLength > this.#maxBytes) {
      throw new KeywayError(
        'payload_too_large',
        `The file is larger than the limit of ${this.#maxBytes} bytes.`,
      );
    }
    const name = cleanName(input.name);
    if (input.content.byteLength === 0) {
      throw new KeywayError('validation_failed', `"${name}" is empty.`, { details: { field: 'file' } });
    }
    const type = detectFileType(input.content, name);
    await this.#checkReadable(input.content, type.mediaType);
    const record = await this.#repository.insert(actor.userId, {
      id: randomUUID(),
      name,
      mediaType: type.mediaType,
      kind: type.kind,
      sha256: createHash('sha256').update(input.content).digest('hex'),
      content: input.content,
    });
    await this.#audit.record({
      actorId: actor.userId,
      action: 'file.create',
      targetType: 'file',
      targetId: record.id,
      details: { name: record.name, mediaType: record.mediaType, sizeBytes: record.sizeBytes },
    });
    return record;
  }

  async list(actor: Principal, options: { limit: number }): Promise<FileView[]> {
    return this.#repository.list(actor.userId, options);
  }

  async get(actor: Principal, id: string): Promise<FileView> {
    const record = isUuid(id) ? await this.#repository.find(actor.userId, id) : undefined;
    if (!record) throw notFound();
    return record;
  }

  async content(actor: Principal, id: string): Promise<FileContent> {
    const row = isUuid(id) ? await this.#repository.findWithContent(actor.userId, id) : undefined;
    if (!row) throw notFound();
    const { content, ...file } = row;
    return { file, content };
  }

  async delete(actor: Principal, id: string): Promise<void> {
    const record = isUuid(id) ? await this.#repository.delete(actor.userId, id) : undefined;
    if (!record) throw notFound();
    await this.#audit.record({
      actorId: actor.userId,
      action: 'file.delete',
      targetType: 'file',
      targetId: record.id,
      details: { name: record.name },
    });
  }
}

const notFound = () => new KeywayError('not_found', 'No such file.');

/**
 * A display name: the last path segment (a browser may send `C:\\…\\a.pdf`), control characters
 * removed, trimmed; never used as a path.
 */
export function cleanName(raw: string): string {
  const lastSegment = raw.split(/[\\/]/).pop() ?? '';
  // eslint-disable-next-line no-control-regex
  const name = lastSegment.replace(/[\u0000-\u001f\u007f]/g, '').trim();
  if (!name) {
    throw new KeywayError('validation_failed', 'The file needs a name.', { details: { field: 'name' } });
  }
  if (name.length > MAX_NAME_LENGTH) {
    throw new KeywayError(
      'validation_failed',
      `The file name is longer than ${MAX_NAME_LENGTH} characters.`,
      {
        details: { field: 'name' },
      },
    );
  }
  return name;
}
