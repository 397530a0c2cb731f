import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context, Hono } from 'hono';
import { deleteCookie, setCookie } from 'hono/cookie';
import { z } from 'zod';
import type { ApiRegistry } from '../http/api-registry.ts';
import type { AppEnv } from '../http/app-env.ts';
import { SESSION_COOKIE } from '../http/authenticate.ts';
import { userSchema } from '../users/users.routes.ts';
import { USERNAME_PATTERN } from '../users/users.service.ts';
import type { AuthService } from './auth.service.ts';

const credentialsBody = z
  .object({ username: z.string().min(1).max(64), password: z.string().min(1).max(1024) })
  .strict();

const meSchema = z.object({
  user: z.object({ id: z.string(), username: z.string(), role: z.enum(['admin', 'member']) }),
  via: z.enum(['token', 'session']),
  csrfToken: z
    .string()
    .optional()
    .describe('Send it as x-csrf-token on writes made with the session cookie.'),
});

/** Setup, sign-in and sign-out for the web UI, and `GET /api/me` for everyone. */
export function registerAuthRoutes(app: Hono<AppEnv>, api: ApiRegistry, auth: AuthService): void {
  api.add(
    app,
    {
      method: 'get',
      path: '/api/setup',
      summary: 'Whether setup is open: true until the first admin exists. The setup token is never returned.',
      tag: 'auth',
      auth: 'public',
      response: z.object({ open: z.boolean() }),
    },
    async ({ c }) => c.json({ open: await auth.isSetupOpen() }),
  );

  api.add(
    app,
    {
      method: 'post',
      path: '/api/setup',
      summary:
        'Create the first admin with the one-time setup token printed at first start. Works only while no user exists.',
      tag: 'auth',
      auth: 'public',
      body: z
        .object({
          token: z.string().min(1).max(200),
          username: z
            .string()
            .regex(USERNAME_PATTERN, 'a username is 2–64 letters, digits, dots, dashes or underscores'),
          password: z.string().max(1024),
        })
        .strict(),
      response: userSchema,
      status: 201,
    },
    async ({ c, body }) => c.json(await auth.completeSetup(body), 201),
  );

  api.add(
    app,
    {
      method: 'post',
      path: '/api/auth/login',
      summary: 'Sign in; sets the HttpOnly session cookie and returns the CSRF token for writes.',
      tag: 'auth',
      auth: 'public',
      body: credentialsBody,
      response: meSchema,
    },
    async ({ c, body }) => {
      const signedIn = await auth.login({
        ...body,
        origin: { peer: peerAddress(c), forwardedFor: c.req.header('x-forwarded-for') },
      });
      setCookie(c, SESSION_COOKIE, signedIn.sessionToken, {
        httpOnly: true,
        sameSite: 'Lax',
        secure: isHttps(c),
        path: '/',
        expires: signedIn.expiresAt,
      });
      const { id, username, role } = signedIn.user;
      return c.json({ user: { id, username, role }, via: 'session', csrfToken: signedIn.csrfToken });
    },
  );

  api.add(
    app,
    {
      method: 'post',
      path: '/api/auth/logout',
      summary: 'End this web session.',
      tag: 'auth',
      auth: 'user',
      status: 204,
    },
    async ({ c, principal }) => {
      await auth.logout(principal);
      deleteCookie(c, SESSION_COOKIE, { path: '/' });
      return c.body(null, 204);
    },
  );

  api.add(
    app,
    {
      method: 'post',
      path: '/api/me/password',
      summary:
        'Change your own password with the current one (throttled like sign-in). Your other web sessions end; this one stays signed in.',
      tag: 'auth',
      auth: 'user',
      body: z
        .object({ currentPassword: z.string().min(1).max(1024), newPassword: z.string().max(1024) })
        .strict(),
      status: 204,
    },
    async ({ c, body, principal }) => {
      await auth.changePassword(principal, body);
      return c.body(null, 204);
    },
  );

  api.add(
    app,
    {
      method: 'get',
      path: '/api/me',
      summary: 'Who is signed in.',
      tag: 'auth',
      auth: 'user',
      response: meSchema,
    },
    ({ c, principal }) =>
      c.json({
        user: { id: principal.userId, username: principal.username, role: principal.role },
        via: principal.via,
        ...(c.get('csrfToken') ? { csrfToken: c.get('csrfToken') } : {}),
      }),
  );
}

/** The socket's peer; undefined when the app is called in-process, without a socket. */
function peerAddress(c: Context<AppEnv>): string | undefined {
  try {
    return getConnInfo(c).remote.address;
  } catch {
    return undefined;
  }
}

function isHttps(c: Context<AppEnv>): boolean {
  return new URL(c.req.url).protocol === 'https:' || c.req.header('x-forwarded-proto') === 'https';
}
