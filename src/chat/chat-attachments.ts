import type { Principal } from '../auth/principal.ts';
import type { FileKind } from '../db/tables.ts';
import { KeywayError } from '../errors.ts';
import type { AttachmentIds, AttachmentRecord } from './conversations.repository.ts';

/** The files a chat may attach (`FilesService`): the caller's own, else `not_found`. */
export interface ChatFiles {
  get(actor: Principal, id: string): Promise<{ id: string; name: string; mediaType: string; kind: FileKind }>;
  content(actor: Principal, id: string): Promise<{ file: { mediaType: string }; content: Uint8Array }>;
}

/** The knowledge bases a chat may attach (`KnowledgeService`): those the caller may read, else `not_found`. */
export interface ChatKnowledgeBases {
  get(actor: Principal, id: string): Promise<{ id: string; name: string }>;
}

/** Attachments as a request names them: either list may be missing. */
export interface AttachmentInput {
  fileIds?: string[] | undefined;
  knowledgeBaseIds?: string[] | undefined;
}

/** Checked attachments: every id exists for the caller; files split into images and documents. */
export interface CheckedAttachments extends AttachmentIds {
  files: { id: string; name: string; mediaType: string; kind: FileKind }[];
  knowledgeBases: { id: string; name: string }[];
}

/**
 * What a conversation or a message may have attached, checked against the files and knowledge
 * services (so their owner rules are the only ones), and the images' bytes as `data:` URLs.
 */
export class ChatAttachments {
  readonly #files: ChatFiles;
  readonly #knowledgeBases: ChatKnowledgeBases;

  constructor(deps: { files: ChatFiles; knowledgeBases: ChatKnowledgeBases }) {
    this.#files = deps.files;
    this.#knowledgeBases = deps.knowledgeBases;
  }

  /**
   * Each id must be the caller's file or a knowledge base the caller may read: `not_found` (naming
   * the field) otherwise, before anything is stored. Duplicates are dropped, order kept.
   */
  async check(actor: Principal, input: AttachmentInput | undefined): Promise<CheckedAttachments> {
    const fileIds = [...new Set(input?.fileIds ?? [])];
    const knowledgeBaseIds = [...new Set(input?.knowledgeBaseIds ?? [])];
    const [files, knowledgeBases] = await Promise.all([
      Promise.all(fileIds.map((id) => this.#files.get(actor, id).catch(naming('fileIds', id)))),
      Promise.all(
        knowledgeBaseIds.map((id) =>
          this.#knowledgeBases.get(actor, id).catch(naming('knowledgeBaseIds', id)),
        ),
      ),
    ]);
    return {
      fileIds,
      knowledgeBaseIds,
      files: files.map(({ id, name, mediaType, kind }) => ({ id, name, mediaType, kind })),
      knowledgeBases: knowledgeBases.map(({ id, name }) => ({ id, name })),
    };
  }

  /**
   * Those of the ids the caller may still read: a knowledge base shared with a team the caller has
   * left since it was attached is skipped, not a 404 on every later message.
   */
  async readableKnowledgeBases(actor: Principal, ids: string[]): Promise<string[]> {
    const readable = await Promise.all(
      ids.map((id) =>
        this.#knowledgeBases.get(actor, id).then(
          () => true,
          (error: unknown) => {
            if (error instanceof KeywayError && error.code === 'not_found') return false;
            throw error;
          },
        ),
      ),
    );
    return ids.filter((_, index) => readable[index]);
  }

  /**
   * Each image as a `data:` URL, by id; an image deleted meanwhile is left out (the conversation goes
   * on without it).
   */
  async imageUrls(actor: Principal, ids: Iterable<string>): Promise<Map<string, string>> {
    const urls = new Map<string, string>();
    await Promise.all(
      [...new Set(ids)].map(async (id) => {
        const found = await this.#files.content(actor, id).catch((error: unknown) => {
          if (error instanceof KeywayError && error.code === 'not_found') return undefined;
          throw error;
        });
        if (found)
          urls.set(
            id,
            `data:${found.file.mediaType};base64,${Buffer.from(found.content).toString('base64')}`,
          );
      }),
    );
    return urls;
  }
}

/** A `not_found` that says which attachment was not found. */
const naming =
  (field: string, id: string) =>
  (error: unknown): never => {
    if (error instanceof KeywayError && error.code === 'not_found')
      throw new KeywayError('not_found', error.message, { details: { field, id } });
    throw error;
  };

/** What is attached to a message, as the API shows it (deleted files and knowledge bases are gone). */
export interface AttachmentsView {
  files: { id: string; name: string; mediaType: string }[];
  knowledgeBases: { id: string; name: string }[];
}

/** The attachments of one message (`null`: the conversation's own). */
export function attachmentsOf(records: AttachmentRecord[], messageId: string | null): AttachmentsView {
  const own = records.filter((record) => record.messageId === messageId);
  return {
    files: own.flatMap((record) =>
      record.type === 'file' ? [{ id: record.id, name: record.name, mediaType: record.mediaType }] : [],
    ),
    knowledgeBases: own.flatMap((record) =>
      record.type === 'knowledge_base' ? [{ id: record.id, name: record.name }] : [],
    ),
  };
}

export const imagesOf = (records: AttachmentRecord[], messageId: string | null): string[] =>
  records.flatMap((record) =>
    record.messageId === messageId && record.type === 'file' && record.kind === 'image' ? [record.id] : [],
  );
export const documentsOf = (records: AttachmentRecord[], messageId: string | null): string[] =>
  records.flatMap((record) =>
    record.messageId === messageId && record.type === 'file' && record.kind !== 'image' ? [record.id] : [],
  );
export const knowledgeBasesOf = (records: AttachmentRecord[], messageId: string | null): string[] =>
  records.flatMap((record) =>
    record.messageId === messageId && record.type === 'knowledge_base' ? [record.id] : [],
  );

/** A checked message attachment as stored rows would read it back. */
export const asRecords = (checked: CheckedAttachments, messageId: string): AttachmentRecord[] => [
  ...checked.files.map((file) => ({ messageId, type: 'file' as const, ...file })),
  ...checked.knowledgeBases.map((base) => ({ messageId, type: 'knowledge_base' as const, ...base })),
];
