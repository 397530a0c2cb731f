/**
 * Hand-written, from docs/sharing.md (teams, grants, limits, cost): the server's OpenAPI document
 * does not describe these calls yet. Once it does, each of these becomes a `ResponseBody<…>` in
 * types.ts and this file goes away.
 */
import type { UsageGroup, UsageRow, User } from './types.ts';

/** UTC calendar windows; `total` never resets. */
export type LimitPeriod = 'day' | 'week' | 'month' | 'total';

/** One shape on users, teams, API tokens, bots and grants. `{}`: no limit. */
export interface Limits {
  usd?: { amount: number; period: LimitPeriod };
  tokens?: { amount: number; period: LimitPeriod };
  requestsPerMinute?: number;
  tokensPerMinute?: number;
}

export type LimitKind = 'usd' | 'tokens' | 'requestsPerMinute' | 'tokensPerMinute';

export type LimitScope = 'user' | 'team' | 'grant' | 'token' | 'bot';

export type TeamRole = 'member' | 'admin';

export interface TeamMember {
  userId: string;
  username: string;
  role: TeamRole;
}

export type GrantSubjectType = 'everyone' | 'team' | 'user' | 'bot' | 'token';

export interface GrantSubject {
  type: GrantSubjectType;
  id?: string;
  name?: string;
}

export interface Grant {
  id: string;
  credentialId: string;
  subject: GrantSubject;
  /** Model id patterns (`*` the only wildcard); null: every model. */
  models: string[] | null;
  limits: Limits;
  expiresAt: string | null;
  /** Spent in the current window of the grant's usd and tokens limits (in total without them). */
  spent: { usd: number; tokens: number };
  createdAt: string;
  updatedAt: string;
}

/** `POST /api/credentials/:id/grants`. */
export interface GrantInput {
  subject: { type: GrantSubjectType; id?: string };
  models?: string[];
  limits?: Limits;
  expiresAt?: string;
}

/** `PATCH /api/credentials/:id/grants/:grantId`: `null` clears; the subject stays. */
export interface GrantPatch {
  models?: string[] | null;
  limits?: Limits | null;
  expiresAt?: string | null;
}

export interface Team {
  id: string;
  name: string;
  limits: Limits;
  myRole: TeamRole | null;
  memberCount: number;
  /** Only on `GET /api/teams/:id`. */
  members?: TeamMember[];
  /** The grants made to the team; only on `GET /api/teams/:id`. */
  grants?: Grant[];
  createdAt: string;
  updatedAt: string;
}

/** One limit that applies to the signed-in user, from `GET /api/me/limits`. */
export interface MyLimit {
  scope: LimitScope;
  /** "you", "team <name>", "grant of <credential> (<subject>)", "token <name>", "bot <name>". */
  label: string;
  kind: LimitKind;
  amount: number;
  /** Per-minute limits have none in the contract's examples; the UI reads a missing one as a minute. */
  period?: LimitPeriod | null;
  spent: number;
  resetsAt: string | null;
}

/** `details` of a 429 `budget_exceeded` or `rate_limited` answer on `/api`. */
export interface LimitRefusalDetails {
  limit: { scope: LimitScope; kind: LimitKind; amount: number; period?: LimitPeriod | null };
  resetsAt: string | null;
}

/** `GET /api/usage?groupBy=`: the generated groups plus the sharing ones. */
export type UsageGroupBy = UsageGroup | 'user' | 'team';

/** A usage row with what it cost (USD). */
export type CostedUsageRow = UsageRow & { costUsd?: number };

/** A user as `GET /api/users` answers it once limits exist. */
export type UserWithLimits = User & { limits?: Limits };
