import type { Principal } from '../auth/principal.ts';
import { KeywayError } from '../errors.ts';
import { isUuid } from '../ids.ts';

/** The teams something may be shared with: the sharing module's repository, by these two questions. */
export interface TeamLookup {
  find(id: string): Promise<{ id: string } | undefined>;
  roleOf(teamId: string, userId: string): Promise<string | null>;
}

/**
 * The team ids an owner may share with, once each: teams they are in (an admin: any team). The one
 * rule for knowledge bases, presets and assistants; anything else is `not_found` (a team that is not
 * yours does not exist).
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
