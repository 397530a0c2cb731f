/**
 * The sharing shapes (teams, grants, limits, cost), derived from the server's OpenAPI document like
 * everything in types.ts; only the refusal details of a 429 are written by hand (error details are
 * free-form in the document).
 */
import type { RequestBody, ResponseBody } from './types.ts';

type Item<T> = T extends readonly (infer I)[] ? I : never;

export type Team = Item<ResponseBody<'/api/teams', 'get'>['teams']>;
export type TeamMember = NonNullable<Team['members']>[number];
export type TeamRole = TeamMember['role'];

export type Grant = Item<ResponseBody<'/api/credentials/{id}/grants', 'get'>['grants']>;
export type GrantSubject = Grant['subject'];
export type GrantSubjectType = GrantSubject['type'];
/** `POST /api/credentials/:id/grants`. */
export type GrantInput = RequestBody<'/api/credentials/{id}/grants', 'post'>;
/** `PATCH /api/credentials/:id/grants/:grantId`: `null` clears models or expiry; `{}` clears limits. */
export type GrantPatch = RequestBody<'/api/credentials/{id}/grants/{grantId}', 'patch'>;

/** One shape on users, teams, API tokens, bots and grants. `{}`: no limit. */
export type Limits = Team['limits'];
export type LimitPeriod = NonNullable<Limits['usd']>['period'];

/** One limit that applies to the signed-in user, from `GET /api/me/limits`. */
export type MyLimit = Item<ResponseBody<'/api/me/limits', 'get'>['limits']>;
export type LimitKind = MyLimit['kind'];
export type LimitScope = MyLimit['scope'];

/** `details` of a 429 `budget_exceeded` or `rate_limited` answer on `/api`. */
export interface LimitRefusalDetails {
  limit: { scope: LimitScope; kind: LimitKind; amount: number; period?: LimitPeriod | 'minute' | null };
  resetsAt: string | null;
}
