import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Principal } from '../../auth/principal.ts';
import { withoutNul } from '../../db/storable-text.ts';
import { KeywayError } from '../../errors.ts';
import { isUuid } from '../../ids.ts';
import { branchOnShow, parentsFirst } from './branch-on-show.ts';
import { chatGptExportSchema, fromChatGpt, looksLikeChatGpt } from './chatgpt-export.ts';
import type { ConversationTree, ConversationTreesRepository } from './conversation-trees.repository.ts';
import {
  KEYWAY_EXPORT_FORMAT,
  KEYWAY_EXPORT_VERSION,
  keywayExportSchema,
  type ExportedConversation,
  type KeywayExport,
} from './keyway-export.ts';
import { conversationMarkdown } from './markdown.ts';

export type ExportFormat = 'json' | 'markdown';

/** A file to download: its name and its text. */
export interface ExportFile {
  fileName: string;
  contentType: string;
  body: string;
}

export interface ImportResult {
  imported: number;
  conversationIds: string[];
}

/**
 * Export and import of whole conversations: Keyway's own JSON (every branch, settings, folder name)
 * and Markdown (the branch on show); import of Keyway's JSON and of ChatGPT's `conversations.json`.
 * Imported conversations are the caller's, with new ids.
 */
export class TransferService {
  readonly #trees: ConversationTreesRepository;
  readonly #now: () => Date;

  constructor(deps: { trees: ConversationTreesRepository; now?: () => Date }) {
    this.#trees = deps.trees;
    this.#now = deps.now ?? (() => new Date());
  }

  /** One of the caller's conversations; 404 `not_found` when it is not theirs. */
  async exportOne(actor: Principal, conversationId: string, format: ExportFormat): Promise<ExportFile> {
    const trees = isUuid(conversationId) ? await this.#trees.read(actor.userId, conversationId) : [];
    const tree = trees[0];
    if (!tree) throw new KeywayError('not_found', 'No such conversation.');
    return this.#file(trees, format, fileStem(tree.title));
  }

  /** All of the caller's conversations. */
  async exportAll(actor: Principal, format: ExportFormat): Promise<ExportFile> {
    const trees = await this.#trees.read(actor.userId);
    return this.#file(trees, format, `keyway-conversations-${this.#now().toISOString().slice(0, 10)}`);
  }

  /**
   * Stores the conversations of a Keyway export or of ChatGPT's `conversations.json` as the caller's.
   * NUL characters are dropped from every text. 400 `source_not_recognised` for anything else,
   * `validation_failed` for a recognised file of the wrong shape.
   */
  async import(actor: Principal, body: unknown): Promise<ImportResult> {
    const now = this.#now().toISOString();
    const clean = withoutNulDeep(body);
    let conversations: ExportedConversation[];
    if (
      typeof clean === 'object' &&
      clean !== null &&
      (clean as { format?: unknown }).format === KEYWAY_EXPORT_FORMAT
    ) {
      conversations = parse(keywayExportSchema, clean).conversations;
    } else if (looksLikeChatGpt(clean)) {
      conversations = parse(chatGptExportSchema, Array.isArray(clean) ? clean : [clean]).map((conversation) =>
        fromChatGpt(conversation, now),
      );
    } else {
      throw new KeywayError(
        'source_not_recognised',
        `Send a Keyway export (format "${KEYWAY_EXPORT_FORMAT}") or ChatGPT's conversations.json.`,
      );
    }
    const trees = conversations.map((conversation) => withNewIds(conversation));
    await this.#trees.insert(actor.userId, trees, randomUUID);
    return { imported: trees.length, conversationIds: trees.map((tree) => tree.id) };
  }

  #file(trees: ConversationTree[], format: ExportFormat, stem: string): ExportFile {
    if (format === 'markdown') {
      return {
        fileName: `${stem}.md`,
        contentType: 'text/markdown; charset=utf-8',
        body: trees
          .map((tree) => conversationMarkdown(tree.title, branchOnShow(tree.messages, tree.currentLeafId)))
          .join('\n\n---\n\n'),
      };
    }
    const document: KeywayExport = {
      format: KEYWAY_EXPORT_FORMAT,
      version: KEYWAY_EXPORT_VERSION,
      exportedAt: this.#now().toISOString(),
      conversations: trees.map(toExported),
    };
    return {
      fileName: `${stem}.json`,
      contentType: 'application/json; charset=utf-8',
      body: JSON.stringify(document, null, 2),
    };
  }
}

/** A stored conversation in the export format. */
function toExported(tree: ConversationTree): ExportedConversation {
  return {
    id: tree.id,
    title: tree.title,
    titleSource: tree.titleSource,
    model: tree.model,
    folder: tree.folderName,
    pinned: tree.pinned,
    archivedAt: tree.archivedAt?.toISOString() ?? null,
    settings: tree.settings,
    currentLeafId: tree.currentLeafId,
    createdAt: tree.createdAt.toISOString(),
    updatedAt: tree.updatedAt.toISOString(),
    messages: tree.messages.map((message) => ({
      id: message.id,
      parentId: message.parentId,
      role: message.role,
      content: message.content,
      model: message.model,
      status: message.status,
      error:
        message.errorCode !== null ? { code: message.errorCode, message: message.errorMessage ?? '' } : null,
      createdAt: message.createdAt.toISOString(),
    })),
  };
}

/**
 * An imported conversation as a new one of the caller's: fresh ids for it and every message (so an
 * import never meets an existing id, and importing twice makes two copies), parents before replies.
 */
function withNewIds(conversation: ExportedConversation): ConversationTree {
  const ordered = parentsFirst(conversation.messages);
  const newIds = new Map(ordered.map((message) => [message.id, randomUUID()]));
  const newId = (id: string | null) => (id === null ? null : (newIds.get(id) ?? null));
  return {
    id: randomUUID(),
    title: conversation.title.trim().slice(0, 200) || 'Imported conversation',
    titleSource: conversation.titleSource,
    model: conversation.model || 'unknown',
    folderName: conversation.folder?.trim().slice(0, 200) || null,
    pinned: conversation.pinned,
    archivedAt: conversation.archivedAt === null ? null : new Date(conversation.archivedAt),
    settings: conversation.settings,
    currentLeafId: newId(conversation.currentLeafId),
    createdAt: new Date(conversation.createdAt),
    updatedAt: new Date(conversation.updatedAt),
    messages: ordered.map((message) => ({
      id: newIds.get(message.id)!,
      parentId: newId(message.parentId),
      role: message.role,
      content: message.content,
      model: message.model,
      status: message.status,
      errorCode: message.error?.code ?? null,
      errorMessage: message.error?.message ?? null,
      createdAt: new Date(message.createdAt),
    })),
  };
}

function parse<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues
    .slice(0, 20)
    .map((issue) => ({ path: issue.path.join('.'), message: issue.message }));
  const first = issues[0]!;
  throw new KeywayError(
    'validation_failed',
    `Not a readable export: ${first.path ? `${first.path}: ` : ''}${first.message}`,
    {
      details: { issues },
    },
  );
}

/** Every string (and key) of parsed JSON without NUL characters. Iterative: any depth, no stack overflow. */
function withoutNulDeep(value: unknown): unknown {
  const root = { value };
  const pending: { holder: Record<string, unknown> | unknown[]; key: string | number }[] = [
    { holder: root as never, key: 'value' },
  ];
  for (let item = pending.pop(); item; item = pending.pop()) {
    const holder = item.holder as Record<string | number, unknown>;
    const current = holder[item.key];
    if (typeof current === 'string') {
      holder[item.key] = withoutNul(current);
    } else if (Array.isArray(current)) {
      for (let index = 0; index < current.length; index++) pending.push({ holder: current, key: index });
    } else if (typeof current === 'object' && current !== null) {
      const object = current as Record<string, unknown>;
      for (const key of Object.keys(object)) {
        if (key.includes('\u0000')) {
          object[withoutNul(key)] = object[key];
          delete object[key];
          pending.push({ holder: object, key: withoutNul(key) });
        } else pending.push({ holder: object, key });
      }
    }
  }
  return root.value;
}

/** A file name from a title: letters, digits and dashes, never empty. */
function fileStem(title: string): string {
  const stem = title
    .normalize('NFKD')
    .replace(/[^\p{L}\p{N}]+/gu, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 80)
    .toLowerCase();
  return stem || 'conversation';
}
