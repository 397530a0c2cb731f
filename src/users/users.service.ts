import type { Limits } from '../limits/limits.ts';
import { randomUUID } from 'node:crypto';
import type { AuditLog } from '../audit/audit-log.repository.ts';
import type { ChangeFeed } from '../db/change-feed.ts';
import { KeywayError } from '../errors.ts';
import { isUuid } from '../ids.ts';
import { isAdmin, type Principal, type Role } from '../auth/principal.ts';
import { hashPassword } from './password.ts';
import type { UserRecord, UsersRepository } from './users.repository.ts';

export const USERNAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$/;
export const MIN_PASSWORD_LENGTH = 10;

/** What the API shows of a user. */
export interface UserView {
  id: string;
  username: string;
  role: Role;
  disabled: boolean;
  limits: Limits;
  createdAt: Date;
}

export const toUserView = (user: UserRecord): UserView => ({
  id: user.id,
  username: user.username,
  role: user.role,
  disabled: user.disabledAt !== null,
  limits: user.limits,
  createdAt: user.createdAt,
});

/** Accounts: created and managed by admins (the first one by the setup step or the offline CLI). */
export class UsersService {
  readonly #users: UsersRepository;
  readonly #audit: AuditLog;
  readonly #changes: ChangeFeed;

  constructor(deps: { users: UsersRepository; audit: AuditLog; changes: ChangeFeed }) {
    this.#users = deps.users;
    this.#audit = deps.audit;
    this.#changes = deps.changes;
  }

  async create(
    actor: Principal,
    input: { username: string; password: string; role: Role },
  ): Promise<UserView> {
    requireAdmin(actor);
    return this.createUnchecked(input, actor.userId);
  }

  /** For the setup step and the offline CLI, which have no signed-in admin. */
  async createUnchecked(
    input: { username: string; password: string; role: Role },
    actorId: string | null,
  ): Promise<UserView> {
    checkPassword(input.password);
    const user = await this.#users.insert({
      id: randomUUID(),
      username: input.username,
      passwordHash: await hashPassword(input.password),
      role: input.role,
    });
    if (!user) throw new KeywayError('name_taken', `The username "${input.username}" is taken.`);
    await this.#audit.record({
      actorId,
      action: 'user.create',
      targetType: 'user',
      targetId: user.id,
      details: { username: user.username, role: user.role },
    });
    return toUserView(user);
  }

  async list(actor: Principal): Promise<UserView[]> {
    requireAdmin(actor);
    return (await this.#users.list()).map(toUserView);
  }

  async update(
    actor: Principal,
    id: string,
    changes: { password?: string; role?: Role; disabled?: boolean },
  ): Promise<UserView> {
    requireAdmin(actor);
    if (!isUuid(id)) throw new KeywayError('not_found', 'No such user.');
    if (id === actor.userId && (changes.disabled === true || changes.role === 'member')) {
      throw new KeywayError('forbidden', 'You cannot disable or demote yourself; ask another admin.');
    }
    if (changes.password !== undefined) checkPassword(changes.password);
    const user = await this.#users.update(
      id,
      {
        ...(changes.password !== undefined ? { passwordHash: await hashPassword(changes.password) } : {}),
        ...(changes.role ? { role: changes.role } : {}),
        ...(changes.disabled !== undefined ? { disabled: changes.disabled } : {}),
      },
      // A reset password or a disabled account signs the user out of every browser at once. API
      // tokens are separate credentials: a disabled user's are refused; a reset leaves them be.
      { endSessions: changes.password !== undefined || changes.disabled === true },
    );
    if (!user) throw new KeywayError('not_found', 'No such user.');
    await this.#audit.record({
      actorId: actor.userId,
      action: 'user.update',
      targetType: 'user',
      targetId: id,
      details: {
        role: changes.role,
        disabled: changes.disabled,
        passwordReset: changes.password !== undefined,
      },
    });
    // Cached tokens and sessions of this user must see the change at once, on every node.
    await this.#changes.publish(`user:${id}`);
    return toUserView(user);
  }
  /**
   * A user's own new password, once the caller (AuthService) has checked the current one. Every other
   * web session of the user ends; the one it was changed from (if any) stays signed in.
   */
  async changeOwnPassword(actor: Principal, newPassword: string): Promise<void> {
    checkPassword(newPassword);
    const user = await this.#users.update(
      actor.userId,
      { passwordHash: await hashPassword(newPassword) },
      { endSessions: true, ...(actor.sessionId ? { keepSessionId: actor.sessionId } : {}) },
    );
    if (!user) throw new KeywayError('not_found', 'No such user.');
    await this.#audit.record({
      actorId: actor.userId,
      action: 'user.password_change',
      targetType: 'user',
      targetId: actor.userId,
      details: { sessionsEnded: 'others' },
    });
    await this.#changes.publish(`user:${actor.userId}`);
  }
}

export function requireAdmin(actor: Principal): void {
  if (!isAdmin(actor)) throw new KeywayError('forbidden', 'Only an admin may do this.');
}

/** Refuses a password too short to be one; checked before anything is consumed or written. */
export function checkPassword(password: string): void {
  if (password.length < MIN_PASSWORD_LENGTH) {
    throw new KeywayError(
      'validation_failed',
      `A password needs at least ${MIN_PASSWORD_LENGTH} characters.`,
      { details: { field: 'password' } },
    );
  }
}
