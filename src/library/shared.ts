import type { Principal } from '../auth/principal.ts';
import { KeywayError } from '../errors.ts';
import { isUuid } from '../ids.ts';

/** Who owns a preset or an assistant, and the teams it is shared with (as the reader may see them). */
export interface Shared {
  ownerId: string;
  ownerName: string;
  /** All of them for the owner; for a team member, only the teams through which they read it. */
  teamIds: string[];
}

/** The teams something may be shared with: the sharing module's repository, by these two questions. */
export interface TeamLookup {
  find(id: string): Promise<{ id: string } | undefined>;
  roleOf(teamId: string, userId: string): Promise<string | null>;
}

/**
 * The team ids an owner may share with, once each: teams they are in (an admin: any team), as
 * knowledge bases are shared. Anything else is `not_found` (a team that is not yours does not exist).
 */
export async function shareableTeams(
  teams: TeamLookup,
  actor: Principal,
  teamIds: string[],
): Promise<string[]> {
  const unique = [...new Set(teamIds)];
  for (const teamId of unique) {
    const team = isUuid(teamId) ? await teams.find(teamId) : undefined;
    const reachable = team && (actor.role === 'admin' || (await teams.roleOf(teamId, actor.userId)) !== null);
    if (!reachable)
      throw new KeywayError('not_found', 'No such team among yours.', { details: { field: 'teamIds' } });
  }
  return unique;
}

/** Refuses a change to something a team member only reads: it is shared with them, not theirs. */
export function ownedBy<T extends Shared & { name: string }>(actor: Principal, record: T, what: string): T {
  if (record.ownerId !== actor.userId)
    throw new KeywayError(
      'forbidden',
      `The ${what} "${record.name}" is shared with you by ${record.ownerName}: only its owner changes it.`,
    );
  return record;
}
