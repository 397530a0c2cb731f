import type { Hono } from 'hono';
import { z } from 'zod';
import type { ApiRegistry } from '../http/api-registry.ts';
import type { AppEnv } from '../http/app-env.ts';
import { limitsSchema } from '../limits/limits.ts';
import { addLimitsRoute } from '../limits/limits.routes.ts';
import type { GrantsService } from './grants.service.ts';
import type { TeamsService } from './teams.service.ts';

const teamName = z.string().trim().min(1).max(100);
const teamRole = z.enum(['member', 'admin']);

const memberSchema = z.object({ userId: z.string(), username: z.string(), role: teamRole });

const subjectSchema = z
  .object({
    type: z.enum(['everyone', 'team', 'user', 'bot', 'token']),
    id: z.string().optional(),
  })
  .strict();

/** Model patterns: `*` is the only wildcard, matched in linear time. */
const modelsSchema = z.array(z.string().min(1).max(300)).max(100);

export const grantSchema = z.object({
  id: z.string(),
  credentialId: z.string(),
  credentialName: z.string(),
  subject: z.object({
    type: subjectSchema.shape.type,
    id: z.string().optional(),
    name: z.string().optional(),
  }),
  models: z.array(z.string()).nullable(),
  limits: limitsSchema,
  expiresAt: z.string().nullable(),
  spent: z
    .object({ usd: z.number().nullable(), tokens: z.number().nullable() })
    .describe(
      "What the grant's requests used in the current window of its usd and tokens limits (null: no such limit).",
    ),
  createdAt: z.string(),
  updatedAt: z.string(),
});

export const teamSchema = z.object({
  id: z.string(),
  name: z.string(),
  limits: limitsSchema,
  myRole: teamRole.nullable(),
  memberCount: z.number(),
  members: z.array(memberSchema).optional(),
  grants: z.array(grantSchema).optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

const expiresAt = z.iso.datetime({ offset: true }).nullable().optional();

/** Teams, and grants of a credential's use. */
export function registerSharingRoutes(
  app: Hono<AppEnv>,
  api: ApiRegistry,
  services: { teams: TeamsService; grants: GrantsService },
): void {
  const { teams, grants } = services;
  api.add(
    app,
    {
      method: 'get',
      path: '/api/teams',
      summary: 'Every team (admins) or the teams you are in.',
      tag: 'teams',
      auth: 'user',
      response: z.object({ teams: z.array(teamSchema) }),
    },
    async ({ c, principal }) => c.json({ teams: await teams.list(principal) }),
  );
  api.add(
    app,
    {
      method: 'post',
      path: '/api/teams',
      summary: 'Create a team (admins).',
      tag: 'teams',
      auth: 'user',
      body: z.object({ name: teamName, limits: limitsSchema.optional() }).strict(),
      response: teamSchema,
      status: 201,
    },
    async ({ c, body, principal }) => c.json(await teams.create(principal, body), 201),
  );
  api.add(
    app,
    {
      method: 'get',
      path: '/api/teams/:id',
      summary: 'A team with its members and the grants made to it.',
      tag: 'teams',
      auth: 'user',
      response: teamSchema,
    },
    async ({ c, principal }) => c.json(await teams.get(principal, c.req.param('id')!)),
  );
  api.add(
    app,
    {
      method: 'patch',
      path: '/api/teams/:id',
      summary: "Rename a team (admins and the team's admins).",
      tag: 'teams',
      auth: 'user',
      body: z.object({ name: teamName }).strict(),
      response: teamSchema,
    },
    async ({ c, body, principal }) => c.json(await teams.rename(principal, c.req.param('id')!, body.name)),
  );
  api.add(
    app,
    {
      method: 'delete',
      path: '/api/teams/:id',
      summary: 'Delete a team with its memberships and the grants made to it (admins).',
      tag: 'teams',
      auth: 'user',
      status: 204,
    },
    async ({ c, principal }) => {
      await teams.delete(principal, c.req.param('id')!);
      return c.body(null, 204);
    },
  );
  api.add(
    app,
    {
      method: 'put',
      path: '/api/teams/:id/members/:userId',
      summary: "Add a member or change their role (admins and the team's admins).",
      tag: 'teams',
      auth: 'user',
      body: z.object({ role: teamRole.default('member') }).strict(),
      response: memberSchema,
    },
    async ({ c, body, principal }) =>
      c.json(await teams.putMember(principal, c.req.param('id')!, c.req.param('userId')!, body.role)),
  );
  api.add(
    app,
    {
      method: 'delete',
      path: '/api/teams/:id/members/:userId',
      summary: "Remove a member (admins and the team's admins).",
      tag: 'teams',
      auth: 'user',
      status: 204,
    },
    async ({ c, principal }) => {
      await teams.removeMember(principal, c.req.param('id')!, c.req.param('userId')!);
      return c.body(null, 204);
    },
  );
  addLimitsRoute(app, api, {
    path: '/api/teams/:id/limits',
    summary: "Replace a team's limits ({} removes them; admins).",
    tag: 'teams',
    auth: 'user',
    replace: (principal, id, body) => teams.setLimits(principal, id, body),
  });

  api.add(
    app,
    {
      method: 'get',
      path: '/api/credentials/:id/grants',
      summary: "Who may use a credential, for which models, within which limits (the credential's owner).",
      tag: 'credentials',
      auth: 'user',
      response: z.object({ grants: z.array(grantSchema) }),
    },
    async ({ c, principal }) => c.json({ grants: await grants.list(principal, c.req.param('id')!) }),
  );
  api.add(
    app,
    {
      method: 'post',
      path: '/api/credentials/:id/grants',
      summary: "Grant a credential's use to everyone, a team, a user, a bot or a token.",
      tag: 'credentials',
      auth: 'user',
      body: z
        .object({
          subject: subjectSchema,
          models: modelsSchema.nullable().optional(),
          limits: limitsSchema.optional(),
          expiresAt,
        })
        .strict(),
      response: grantSchema,
      status: 201,
    },
    async ({ c, body, principal }) => c.json(await grants.create(principal, c.req.param('id')!, body), 201),
  );
  api.add(
    app,
    {
      method: 'patch',
      path: '/api/credentials/:id/grants/:grantId',
      summary: "Change a grant's models, limits or expiry (null clears).",
      tag: 'credentials',
      auth: 'user',
      body: z
        .object({ models: modelsSchema.nullable().optional(), limits: limitsSchema.optional(), expiresAt })
        .strict(),
      response: grantSchema,
    },
    async ({ c, body, principal }) =>
      c.json(await grants.update(principal, c.req.param('id')!, c.req.param('grantId')!, body)),
  );
  api.add(
    app,
    {
      method: 'delete',
      path: '/api/credentials/:id/grants/:grantId',
      summary: "Revoke a grant (the credential's owner, or an admin of the team it was made to).",
      tag: 'credentials',
      auth: 'user',
      status: 204,
    },
    async ({ c, principal }) => {
      await grants.delete(principal, c.req.param('id')!, c.req.param('grantId')!);
      return c.body(null, 204);
    },
  );
}
