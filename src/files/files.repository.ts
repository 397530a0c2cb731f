import type { Kysely } from 'kysely';
import type { DB, FileKind } from '../db/tables.ts';

export interface FileRecord {
  id: string;
  name: string;
  mediaType: string;
  kind: FileKind;
  sizeBytes: number;
  sha256: string;
  createdAt: Date;
}

export interface NewFile {
  id: string;
  name: string;
  mediaType: string;
  kind: FileKind;
  sha256: string;
  content: Uint8Array;
}

const FILE_COLUMNS = [
  'id',
  'name',
  'media_type as mediaType',
  'kind',
  'size_bytes as sizeBytes',
  'sha256',
  'created_at as createdAt',
] as const;

/**
 * Uploaded files: metadata in `files`, bytes in `file_contents`. Every method takes the owner's id
 * and every query is scoped by it: another user's file is simply not found.
 */
export class FilesRepository {
  readonly #db: Kysely<DB>;

  constructor(db: Kysely<DB>) {
    this.#db = db;
  }

  /**
   * Stores the metadata and the bytes in one transaction: a file is whole or absent. Inside a caller's
   * transaction (an import), that one.
   */
  async insert(ownerId: string, file: NewFile): Promise<FileRecord> {
    const write = async (trx: Kysely<DB>) => {
      const record = await trx
        .insertInto('files')
        .values({
          id: file.id,
          owner_id: ownerId,
          name: file.name,
          media_type: file.mediaType,
          kind: file.kind,
          size_bytes: file.content.byteLength,
          sha256: file.sha256,
        })
        .returning(FILE_COLUMNS)
        .executeTakeFirstOrThrow();
      await trx.insertInto('file_contents').values({ file_id: file.id, content: file.content }).execute();
      return record;
    };
    return this.#db.isTransaction ? write(this.#db) : this.#db.transaction().execute(write);
  }

  /** The owner's file of that name and content digest, if stored already. */
  async findByContent(ownerId: string, name: string, sha256: string): Promise<FileRecord | undefined> {
    return this.#db
      .selectFrom('files')
      .select(FILE_COLUMNS)
      .where('owner_id', '=', ownerId)
      .where('name', '=', name)
      .where('sha256', '=', sha256)
      .executeTakeFirst();
  }

  /** The owner's files, newest first; never reads their bytes. */
  async list(ownerId: string, options: { limit: number }): Promise<FileRecord[]> {
    return this.#db
      .selectFrom('files')
      .select(FILE_COLUMNS)
      .where('owner_id', '=', ownerId)
      .orderBy('created_at', 'desc')
      .orderBy('id')
      .limit(options.limit)
      .execute();
  }

  async find(ownerId: string, id: string): Promise<FileRecord | undefined> {
    return this.#db
      .selectFrom('files')
      .select(FILE_COLUMNS)
      .where('owner_id', '=', ownerId)
      .where('id', '=', id)
      .executeTakeFirst();
  }

  /** The file's metadata and bytes, when the owner has it. */
  async findWithContent(
    ownerId: string,
    id: string,
  ): Promise<(FileRecord & { content: Uint8Array }) | undefined> {
    const row = await this.#db
      .selectFrom('files as f')
      .innerJoin('file_contents as fc', 'fc.file_id', 'f.id')
      .select([
        'f.id',
        'f.name',
        'f.media_type as mediaType',
        'f.kind',
        'f.size_bytes as sizeBytes',
        'f.sha256',
        'f.created_at as createdAt',
        'fc.content',
      ])
      .where('f.owner_id', '=', ownerId)
      .where('f.id', '=', id)
      .executeTakeFirst();
    return row;
  }

  /** Deletes the file (its bytes, and later what was derived from it, cascade); undefined when not found. */
  async delete(ownerId: string, id: string): Promise<FileRecord | undefined> {
    return this.#db
      .deleteFrom('files')
      .where('owner_id', '=', ownerId)
      .where('id', '=', id)
      .returning(FILE_COLUMNS)
      .executeTakeFirst();
  }
}
