import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { ChangeFeed } from '../db/change-feed.ts';
import type { Limits } from '../limits/limits.ts';
import { KeywayError } from '../errors.ts';
import { isUuid } from '../ids.ts';
import type { Principal } from '../auth/principal.ts';
import type { TokenRecord, TokensRepository } from './tokens.repository.ts';
import type { AuditLog } from '../audit/audit-log.repository.ts';

export const TOKEN_PREFIX = 'kw_';
const CACHE_TTL_MS = 30_000;
const TOUCH_EVERY_MS = 60_000;

interface CachedPrincipal {
  principal: Principal | null;
  /** Kept for refused tokens too, so re-enabling a user or a token clears the refusal at once. */
  userId: string | null;
  tokenId: string | null;
  expiresAt: number;
  tokenExpiresAt: number | null;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/**
 * API tokens: `kw_` + 32 random bytes, shown once, stored as a sha256 hash (a token is random, so a
 * fast hash is enough). Authentication is cached per token for 30 s; revocation reaches every node at
 * once through the change feed, and the TTL is the backstop. `last_used_at` is written at most once a
 * minute per token, off the request path.
 */
export class TokensService {
  readonly #repository: TokensRepository;
  readonly #changes: ChangeFeed;
  readonly #audit: AuditLog;
  readonly #logger: Logger;
  readonly #cache = new Map<string, CachedPrincipal>();
  readonly #lastTouched = new Map<string, number>();
  readonly #unsubscribe: () => void;

  constructor(deps: { repository: TokensRepository; changes: ChangeFeed; audit: AuditLog; logger: Logger }) {
    this.#repository = deps.repository;
    this.#changes = deps.changes;
    this.#audit = deps.audit;
    this.#logger = deps.logger;
    this.#unsubscribe = deps.changes.subscribe((topic) => this.#invalidate(topic));
  }

  async create(
    actor: Principal,
    input: { name: string; expiresAt?: Date | null; limits?: Limits },
  ): Promise<TokenRecord & { token: string }> {
    return this.createFor(actor.userId, input, actor.userId);
  }

  /** Creates a token for a user (also used by the offline `keyway admin create-token`). */
  async createFor(
    userId: string,
    input: { name: string; expiresAt?: Date | null; limits?: Limits },
    actorId: string | null,
  ): Promise<TokenRecord & { token: string }> {
    if (input.expiresAt && input.expiresAt.getTime() <= Date.now()) {
      throw new KeywayError('validation_failed', 'The expiry must be in the future.', {
        details: { field: 'expiresAt' },
      });
    }
    const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
    const record = await this.#repository.insert({
      id: randomUUID(),
      userId,
      name: input.name,
      hash: hashToken(token),
      prefix: token.slice(0, 7),
      expiresAt: input.expiresAt ?? null,
      limits: input.limits ?? {},
    });
    if (!record) {
      throw new KeywayError('name_taken', `You already have an active token named "${input.name}".`, {
        fix: 'Choose another name, or revoke that token first.',
      });
    }
    await this.#audit.record({
      actorId,
      action: 'token.create',
      targetType: 'token',
      targetId: record.id,
      details: { name: input.name },
    });
    return { ...record, token };
  }

  list(actor: Principal): Promise<TokenRecord[]> {
    return this.#repository.listActive(actor.userId);
  }

  /** Replaces the limits of one of the caller's tokens (on every node at once). */
  async setLimits(actor: Principal, id: string, limits: Limits): Promise<{ limits: Limits }> {
    if (!isUuid(id) || !(await this.#repository.setLimits(actor.userId, id, limits))) {
      throw new KeywayError('not_found', 'No such token.');
    }
    await this.#audit.record({
      actorId: actor.userId,
      action: 'limits.update',
      targetType: 'token',
      targetId: id,
      details: { limits },
    });
    await this.#changes.publish(`token:${id}`);
    return { limits };
  }

  async revoke(actor: Principal, id: string): Promise<void> {
    if (!isUuid(id) || !(await this.#repository.revoke(actor.userId, id))) {
      throw new KeywayError('not_found', 'No such token.');
    }
    await this.#audit.record({
      actorId: actor.userId,
      action: 'token.revoke',
      targetType: 'token',
      targetId: id,
    });
    await this.#changes.publish(`token:${id}`);
  }

  /** The principal a bearer token stands for, or null. */
  async authenticate(token: string): Promise<Principal | null> {
    if (!token.startsWith(TOKEN_PREFIX) || token.length > 200) return null;
    const hash = hashToken(token);
    const now = Date.now();
    let entry = this.#cache.get(hash);
    if (!entry || entry.expiresAt <= now) {
      const row = await this.#repository.findForAuthentication(hash);
      entry = {
        principal:
          row && !row.disabledAt
            ? {
                userId: row.userId,
                username: row.username,
                role: row.role,
                via: 'token',
                tokenId: row.tokenId,
              }
            : null,
        userId: row?.userId ?? null,
        tokenId: row?.tokenId ?? null,
        expiresAt: now + CACHE_TTL_MS,
        tokenExpiresAt: row?.expiresAt ? row.expiresAt.getTime() : null,
      };
      this.#cache.set(hash, entry);
    }
    if (!entry.principal || (entry.tokenExpiresAt !== null && entry.tokenExpiresAt <= now)) return null;
    this.#touch(entry.principal.tokenId!, now);
    return entry.principal;
  }

  close(): void {
    this.#unsubscribe();
  }

  #touch(tokenId: string, now: number): void {
    if ((this.#lastTouched.get(tokenId) ?? 0) + TOUCH_EVERY_MS > now) return;
    this.#lastTouched.set(tokenId, now);
    this.#repository
      .touch([tokenId], new Date(now))
      .catch((error: unknown) => this.#logger.warn({ err: error }, 'could not record token use'));
  }

  #invalidate(topic: string): void {
    if (topic === '*') {
      this.#cache.clear();
      return;
    }
    const [kind, id] = topic.split(':');
    if (kind !== 'token' && kind !== 'user') return;
    for (const [hash, entry] of this.#cache) {
      if ((kind === 'token' ? entry.tokenId : entry.userId) === id) this.#cache.delete(hash);
    }
  }
}
