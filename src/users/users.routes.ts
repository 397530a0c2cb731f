import type { Hono } from 'hono';
import { z } from 'zod';
import type { ApiRegistry } from '../http/api-registry.ts';
import type { AppEnv } from '../http/app-env.ts';
import { limitsSchema } from '../limits/limits.ts';
import { USERNAME_PATTERN, type UsersService } from './users.service.ts';

export const userSchema = z.object({
  id: z.string(),
  username: z.string(),
  role: z.enum(['admin', 'member']),
  disabled: z.boolean(),
  limits: limitsSchema,
  createdAt: z.string(),
});

const username = z
  .string()
  .regex(USERNAME_PATTERN, 'a username is 2–64 letters, digits, dots, dashes or underscores');
const password = z.string().max(1024);

/** Admin-only user management. */
export function registerUsersRoutes(app: Hono<AppEnv>, api: ApiRegistry, users: UsersService): void {
  api.add(
    app,
    {
      method: 'get',
      path: '/api/users',
      summary: 'List users.',
      tag: 'users',
      auth: 'admin',
      response: z.array(userSchema),
    },
    async ({ c, principal }) => c.json(await users.list(principal)),
  );

  api.add(
    app,
    {
      method: 'post',
      path: '/api/users',
      summary: 'Create a user.',
      tag: 'users',
      auth: 'admin',
      body: z.object({ username, password, role: z.enum(['admin', 'member']).default('member') }).strict(),
      response: userSchema,
      status: 201,
    },
    async ({ c, body, principal }) => c.json(await users.create(principal, body), 201),
  );

  api.add(
    app,
    {
      method: 'patch',
      path: '/api/users/:id',
      summary: 'Reset a password, change the role, disable or enable a user.',
      tag: 'users',
      auth: 'admin',
      body: z
        .object({
          password: password.optional(),
          role: z.enum(['admin', 'member']).optional(),
          disabled: z.boolean().optional(),
        })
        .strict(),
      response: userSchema,
    },
    async ({ c, body, principal }) => c.json(await users.update(principal, c.req.param('id')!, body)),
  );
}
