import type { Logger } from 'pino';
import type { Principal } from '../auth/principal.ts';

/** What middleware puts on the Hono context for the rest of a request. */
export interface AppEnv {
  Variables: {
    requestId: string;
    /** performance.now() when the request reached Keyway's first middleware. */
    startedAt: number;
    /** The request's logger: carries the request id. */
    log: Logger;
    /** Who is calling, resolved once by the authentication middleware; null when nobody signed in. */
    principal: Principal | null;
    /** The web session's CSRF token, when the principal came from the session cookie. */
    csrfToken: string | undefined;
  };
}
