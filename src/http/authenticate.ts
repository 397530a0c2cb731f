import type { MiddlewareHandler } from 'hono';
import { deleteCookie, getCookie } from 'hono/cookie';
import type { AuthService } from '../auth/auth.service.ts';
import type { Principal } from '../auth/principal.ts';
import { secretsEqual } from '../auth/auth.service.ts';
import type { TokensService } from '../tokens/tokens.service.ts';
import { KeywayError } from '../errors.ts';
import type { AppEnv } from './app-env.ts';

export const SESSION_COOKIE = 'kw_session';
export const CSRF_HEADER = 'x-csrf-token';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Resolves who is calling, once per request: a bearer token (`kw_…`) or the web session cookie.
 * A bearer token that does not authenticate is a 401 at once (no falling back to the cookie). A
 * cookie-authenticated write must carry the session's CSRF token in `x-csrf-token`.
 */
/** The principal of an `Authorization: Bearer kw_…` header; null when it is missing or not valid. */
export async function bearerPrincipal(
  authorization: string | undefined,
  tokens: TokensService,
): Promise<Principal | null> {
  const match = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
  return match ? tokens.authenticate(match[1]!) : null;
}

export function authenticate(deps: { auth: AuthService; tokens: TokensService }): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    c.set('principal', null);
    const authorization = c.req.header('authorization');
    if (authorization !== undefined) {
      const principal = await bearerPrincipal(authorization, deps.tokens);
      if (!principal)
        throw new KeywayError('unauthenticated', 'The API token is not valid: unknown, revoked or expired.');
      c.set('principal', principal);
      return next();
    }
    const cookie = getCookie(c, SESSION_COOKIE);
    if (cookie) {
      const session = await deps.auth.resolveSession(cookie);
      if (session) {
        if (!SAFE_METHODS.has(c.req.method)) {
          const sent = c.req.header(CSRF_HEADER) ?? '';
          if (!secretsEqual(sent, session.csrfToken)) {
            throw new KeywayError(
              'csrf_failed',
              `A signed-in browser write needs the session's CSRF token in the ${CSRF_HEADER} header.`,
            );
          }
        }
        c.set('principal', session.principal);
        c.set('csrfToken', session.csrfToken);
      } else {
        // Signed out, expired, reset or disabled: the browser drops the dead cookie, and any route
        // that needs a user answers 401 `unauthenticated`, which the web UI takes as "sign in again".
        deleteCookie(c, SESSION_COOKIE, { path: '/' });
      }
    }
    return next();
  };
}
