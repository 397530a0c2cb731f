import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { SettingsRepository } from '../db/settings.repository.ts';
import { KeywayError } from '../errors.ts';
import { UNKNOWN_USER_HASH, verifyPassword } from '../users/password.ts';
import type { UsersRepository } from '../users/users.repository.ts';
import { checkPassword, toUserView, type UsersService, type UserView } from '../users/users.service.ts';
import { resolveClientAddress, throttleBucket, TrustedProxies } from './client-address.ts';
import type { LoginThrottleRepository } from './login-throttle.repository.ts';
import type { Principal } from './principal.ts';
import type { SessionsRepository } from './sessions.repository.ts';

const SETUP_TOKEN_KEY = 'setup.token_hash';
const SESSION_IDLE_MS = 7 * 24 * 3600_000;
const SESSION_EXTEND_EVERY_MS = 60_000;
const THROTTLE_WINDOW_MS = 15 * 60_000;
/** Failed sign-ins per (account, address) in a window; a check under way counts until it succeeds. */
const ACCOUNT_ADDRESS_LIMIT = 5;
/** Failed password checks from one address, whatever the account, in a window. */
const ADDRESS_LIMIT = 20;

const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');

export interface SignedIn {
  /** The cookie value; only its hash is stored. */
  sessionToken: string;
  csrfToken: string;
  user: UserView;
  expiresAt: Date;
}

/** Where a sign-in came from, as the socket and the proxy header say; the service decides which to believe. */
export interface SignInOrigin {
  peer: string | undefined;
  forwardedFor: string | undefined;
}

/**
 * Sign-in for people: the one-time setup, password login with throttling per (account, address) and
 * per address (shared by every node), and server-side sessions that can be revoked.
 *
 * There is deliberately no account-wide lock: it would let anyone lock any user out by failing on
 * purpose from a few addresses. An account's owner can always sign in from an address that has not
 * failed; each attacking address gets 5 checks per account and 20 in all per 15 minutes.
 */
export class AuthService {
  readonly #users: UsersRepository;
  readonly #usersService: UsersService;
  readonly #sessions: SessionsRepository;
  readonly #throttle: LoginThrottleRepository;
  readonly #settings: SettingsRepository;
  readonly #trustedProxies: TrustedProxies;
  readonly #verifyPassword: typeof verifyPassword;

  constructor(deps: {
    users: UsersRepository;
    usersService: UsersService;
    sessions: SessionsRepository;
    throttle: LoginThrottleRepository;
    settings: SettingsRepository;
    /** Proxies whose X-Forwarded-For is believed (none by default). */
    trustedProxies?: readonly string[];
    /** The password check; tests count its calls. */
    verifyPassword?: typeof verifyPassword;
  }) {
    this.#users = deps.users;
    this.#usersService = deps.usersService;
    this.#sessions = deps.sessions;
    this.#throttle = deps.throttle;
    this.#settings = deps.settings;
    this.#trustedProxies = new TrustedProxies(deps.trustedProxies ?? []);
    this.#verifyPassword = deps.verifyPassword ?? verifyPassword;
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

  /**
   * Checks a password and opens a session. Each attempt is reserved in the database before the
   * password is checked, so concurrent guesses cannot outrun the limit; a success gives its
   * reservation back.
   */
  async login(input: { username: string; password: string; origin: SignInOrigin }): Promise<SignedIn> {
    const now = new Date();
    const address = throttleBucket(resolveClientAddress(input.origin, this.#trustedProxies));
    // The address never holds a space, so `address username` cannot be read two ways.
    const accountKey = `account:${address} ${input.username.toLowerCase()}`;
    const addressKey = `address:${address}`;
    await this.#reserve(accountKey, ACCOUNT_ADDRESS_LIMIT, now);
    try {
      await this.#reserve(addressKey, ADDRESS_LIMIT, now);
    } catch (error) {
      await this.#throttle.release(accountKey);
      throw error;
    }
    const user = await this.#users.findCredentials(input.username);
    // Verify against a dummy hash for unknown users, so the answer takes as long either way.
    const valid = await this.#verifyPassword(input.password, user?.passwordHash ?? UNKNOWN_USER_HASH);
    if (!user || !valid || user.disabledAt) {
      // The reservations stay: they are this failure's count.
      throw new KeywayError('invalid_login', 'Wrong username or password.');
    }
    await this.#throttle.clear(accountKey);
    await this.#throttle.release(addressKey);
    const sessionToken = randomBytes(32).toString('base64url');
    const csrfToken = randomBytes(24).toString('base64url');
    const expiresAt = new Date(now.getTime() + SESSION_IDLE_MS);
    await this.#sessions.insert({ id: sha256(sessionToken), userId: user.id, csrfToken, expiresAt });
    // Expired sessions and throttle counts are refused or ignored when met; sign-in is a rare moment
    // to also sweep them away.
    await this.#sessions.deleteExpired(now);
    await this.#throttle.deleteExpired(new Date(now.getTime() - THROTTLE_WINDOW_MS));
    return { sessionToken, csrfToken, user: toUserView(user), expiresAt };
  }

  async #reserve(key: string, limit: number, now: Date): Promise<void> {
    const reservation = await this.#throttle.reserve(key, { now, windowMs: THROTTLE_WINDOW_MS, limit });
    if (!reservation.granted) {
      throw new KeywayError('too_many_attempts', 'Too many failed sign-ins. Try again later.', {
        details: { retryAfterSeconds: Math.max(1, Math.ceil(reservation.retryAfterMs / 1000)) },
      });
    }
  }

  /**
   * A signed-in user's own password change: the current password is checked under its own throttle
   * (per account, as many tries as a sign-in gets), so a borrowed session cannot guess it; every other
   * web session of the user ends.
   */
  async changePassword(
    principal: Principal,
    input: { currentPassword: string; newPassword: string },
  ): Promise<void> {
    // A new password too short to be one is refused before a guess is counted.
    checkPassword(input.newPassword);
    const key = `password:${principal.userId}`;
    await this.#reserve(key, ACCOUNT_ADDRESS_LIMIT, new Date());
    const user = await this.#users.findCredentials(principal.username);
    const valid = await this.#verifyPassword(input.currentPassword, user?.passwordHash ?? UNKNOWN_USER_HASH);
    if (!user || user.id !== principal.userId || !valid) {
      throw new KeywayError('validation_failed', 'The current password is wrong.', {
        details: { field: 'currentPassword' },
      });
    }
    await this.#throttle.clear(key);
    await this.#usersService.changeOwnPassword(principal, input.newPassword);
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
