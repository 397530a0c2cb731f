import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { SettingsRepository } from '../db/settings.repository.ts';
import { KeywayError } from '../errors.ts';
import { UNKNOWN_USER_HASH, verifyPassword } from '../users/password.ts';
import type { UsersRepository } from '../users/users.repository.ts';
import { checkPassword, toUserView, type UsersService, type UserView } from '../users/users.service.ts';
import type { LoginThrottleRepository } from './login-throttle.repository.ts';
import type { Principal } from './principal.ts';
import type { SessionsRepository } from './sessions.repository.ts';

const SETUP_TOKEN_KEY = 'setup.token_hash';
const SESSION_IDLE_MS = 7 * 24 * 3600_000;
const SESSION_EXTEND_EVERY_MS = 60_000;
const THROTTLE_WINDOW_MS = 15 * 60_000;
const ACCOUNT_LIMIT = 5;
const ADDRESS_LIMIT = 20;
const BLOCK_MS = 15 * 60_000;

const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');

export interface SignedIn {
  /** The cookie value; only its hash is stored. */
  sessionToken: string;
  csrfToken: string;
  user: UserView;
  expiresAt: Date;
}

/**
 * Sign-in for people: the one-time setup, password login with throttling per account and per
 * address (shared by every node), and server-side sessions that can be revoked.
 */
export class AuthService {
  readonly #users: UsersRepository;
  readonly #usersService: UsersService;
  readonly #sessions: SessionsRepository;
  readonly #throttle: LoginThrottleRepository;
  readonly #settings: SettingsRepository;

  constructor(deps: {
    users: UsersRepository;
    usersService: UsersService;
    sessions: SessionsRepository;
    throttle: LoginThrottleRepository;
    settings: SettingsRepository;
  }) {
    this.#users = deps.users;
    this.#usersService = deps.usersService;
    this.#sessions = deps.sessions;
    this.#throttle = deps.throttle;
    this.#settings = deps.settings;
  }

  /**
   * While no user exists, makes a new one-time setup token (replacing any earlier one) and returns
   * it for the operator; null once setup is done.
   */
  async openSetup(): Promise<string | null> {
    if ((await this.#users.count()) > 0) {
      await this.#settings.delete(SETUP_TOKEN_KEY);
      return null;
    }
    const token = randomBytes(24).toString('base64url');
    await this.#settings.put(SETUP_TOKEN_KEY, sha256(token));
    return token;
  }

  /** Whether setup is still open (no user yet): lets the web UI send a first visitor to the setup page. */
  async isSetupOpen(): Promise<boolean> {
    return (await this.#users.count()) === 0;
  }

  /** Creates the first admin. Works once: the token is consumed atomically, so two racing calls cannot both win. */
  async completeSetup(input: { token: string; username: string; password: string }): Promise<UserView> {
    // A bad password must not burn the token.
    checkPassword(input.password);
    if (!(await this.#settings.takeIfEquals(SETUP_TOKEN_KEY, sha256(input.token)))) {
      const done = (await this.#users.count()) > 0;
      throw new KeywayError(
        done ? 'setup_closed' : 'invalid_setup_token',
        done
          ? 'Setup is already done: an admin exists.'
          : 'The setup token is wrong or was replaced by a newer one (see the server log).',
      );
    }
    return this.#usersService.createUnchecked({ ...input, role: 'admin' }, null);
  }

  async login(input: { username: string; password: string; address: string }): Promise<SignedIn> {
    const now = new Date();
    const keys = [`user:${input.username.toLowerCase()}`, `addr:${input.address}`];
    const blocked = await this.#throttle.blockedUntil(keys, now);
    if (blocked) {
      throw new KeywayError('too_many_attempts', 'Too many failed sign-ins. Try again later.', {
        details: { retryAfterSeconds: Math.ceil((blocked.getTime() - now.getTime()) / 1000) },
      });
    }
    const user = await this.#users.findCredentials(input.username);
    // Verify against a dummy hash for unknown users, so the answer takes as long either way.
    const valid = await verifyPassword(input.password, user?.passwordHash ?? UNKNOWN_USER_HASH);
    if (!user || !valid || user.disabledAt) {
      await this.#throttle.recordFailure(keys[0]!, {
        now,
        windowMs: THROTTLE_WINDOW_MS,
        limit: ACCOUNT_LIMIT,
        blockMs: BLOCK_MS,
      });
      await this.#throttle.recordFailure(keys[1]!, {
        now,
        windowMs: THROTTLE_WINDOW_MS,
        limit: ADDRESS_LIMIT,
        blockMs: BLOCK_MS,
      });
      throw new KeywayError('invalid_login', 'Wrong username or password.');
    }
    await this.#throttle.clear(keys[0]!);
    const sessionToken = randomBytes(32).toString('base64url');
    const csrfToken = randomBytes(24).toString('base64url');
    const expiresAt = new Date(now.getTime() + SESSION_IDLE_MS);
    await this.#sessions.insert({ id: sha256(sessionToken), userId: user.id, csrfToken, expiresAt });
    // Expired sessions are refused when presented; sign-in is a rare moment to also sweep them away.
    await this.#sessions.deleteExpired(now);
    return { sessionToken, csrfToken, user: toUserView(user), expiresAt };
  }

  async logout(principal: Principal): Promise<void> {
    if (principal.sessionId) await this.#sessions.delete(principal.sessionId);
  }

  /**
   * The principal of a session cookie, and the session's CSRF token; null when the session is
   * unknown, expired or its user disabled. Sliding expiry, extended at most once a minute.
   */
  async resolveSession(sessionToken: string): Promise<{ principal: Principal; csrfToken: string } | null> {
    if (sessionToken.length > 200) return null;
    const session = await this.#sessions.find(sha256(sessionToken));
    const now = Date.now();
    if (!session || session.disabledAt || session.expiresAt.getTime() <= now) {
      if (session) await this.#sessions.delete(session.id);
      return null;
    }
    if (session.lastSeenAt.getTime() + SESSION_EXTEND_EVERY_MS < now) {
      await this.#sessions.extend(session.id, new Date(now), new Date(now + SESSION_IDLE_MS));
    }
    return {
      principal: {
        userId: session.userId,
        username: session.username,
        role: session.role,
        via: 'session',
        sessionId: session.id,
      },
      csrfToken: session.csrfToken,
    };
  }
}

/** Constant-time comparison of two secrets of any length. */
export function secretsEqual(a: string, b: string): boolean {
  const left = createHash('sha256').update(a).digest();
  const right = createHash('sha256').update(b).digest();
  return timingSafeEqual(left, right) && a.length === b.length;
}
