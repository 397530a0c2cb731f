import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Principal } from '../../auth/principal.ts';
import { KeywayError } from '../../errors.ts';
import { isUuid } from '../../ids.ts';
import { branchOnShow } from '../transfer/branch-on-show.ts';
import type { ConversationTreesRepository } from '../transfer/conversation-trees.repository.ts';
import type { SharedSnapshot, ShareRecord, SharesRepository } from './shares.repository.ts';

/** Where a share link's page is served; the token follows. */
export const SHARE_PAGE_PREFIX = '/s/';

/** A new link: the only time its token (in `url`) is ever seen. */
export interface CreatedShare extends ShareRecord {
  url: string;
}

/** 32 random bytes, base64url: 43 characters. Anything else cannot be a token and is not looked up. */
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

const hashToken = (token: string) => createHash('sha256').update(token, 'utf8').digest('hex');

/**
 * Read-only share links to a snapshot of a conversation's branch on show: the text of its messages
 * and nothing else (no attachments, settings or other branches). Only the token's SHA-256 is stored;
 * the link works until revoked, until it expires, or until the conversation is deleted (cascade).
 */
export class SharesService {
  readonly #shares: SharesRepository;
  readonly #trees: ConversationTreesRepository;
  readonly #now: () => Date;

  constructor(deps: { shares: SharesRepository; trees: ConversationTreesRepository; now?: () => Date }) {
    this.#shares = deps.shares;
    this.#trees = deps.trees;
    this.#now = deps.now ?? (() => new Date());
  }

  async create(actor: Principal, conversationId: string, expiresAt: Date | null): Promise<CreatedShare> {
    if (expiresAt !== null && expiresAt.getTime() <= this.#now().getTime())
      throw new KeywayError('validation_failed', 'expiresAt must be in the future.', {
        details: { issues: [{ path: 'expiresAt', message: 'must be in the future' }] },
      });
    const tree = isUuid(conversationId)
      ? (await this.#trees.read(actor.userId, conversationId))[0]
      : undefined;
    if (!tree) throw new KeywayError('not_found', 'No such conversation.');
    const token = randomBytes(32).toString('base64url');
    const share = await this.#shares.insert(actor.userId, {
      id: randomUUID(),
      conversationId: tree.id,
      tokenHash: hashToken(token),
      title: tree.title,
      messages: branchOnShow(tree.messages, tree.currentLeafId).map((message) => ({
        role: message.role,
        content: message.content,
        model: message.model,
        createdAt: message.createdAt.toISOString(),
      })),
      expiresAt,
    });
    return { ...share, url: `${SHARE_PAGE_PREFIX}${token}` };
  }

  list(actor: Principal): Promise<ShareRecord[]> {
    return this.#shares.list(actor.userId);
  }

  async revoke(actor: Principal, id: string): Promise<void> {
    if (!isUuid(id) || !(await this.#shares.delete(actor.userId, id)))
      throw new KeywayError('not_found', 'No such share link.');
  }

  /** The snapshot a token opens, to anyone holding it; 404 `not_found` when unknown, revoked or expired. */
  async open(token: string): Promise<SharedSnapshot> {
    const snapshot = TOKEN_SHAPE.test(token)
      ? await this.#shares.findLive(hashToken(token), this.#now())
      : undefined;
    if (!snapshot)
      throw new KeywayError('not_found', 'This link does not exist, was revoked, or has expired.');
    return snapshot;
  }
}
