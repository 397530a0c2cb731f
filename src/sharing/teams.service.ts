import { randomUUID } from 'node:crypto';
import type { AuditLog } from '../audit/audit-log.repository.ts';
import { isAdmin, type Principal } from '../auth/principal.ts';
import type { ChangeFeed } from '../db/change-feed.ts';
import type { TeamRole } from '../db/tables.ts';
import { KeywayError } from '../errors.ts';
import { isUuid } from '../ids.ts';
import type { Limits } from '../limits/limits.ts';
import type { UsersRepository } from '../users/users.repository.ts';
import type { GrantsService, GrantView } from './grants.service.ts';
import type { GrantsRepository } from './grants.repository.ts';
import type { TeamMember, TeamRecord, TeamsRepository } from './teams.repository.ts';

export interface TeamView {
  id: string;
  name: string;
  limits: Limits;
  myRole: TeamRole | null;
  memberCount: number;
  members?: TeamMember[];
  grants?: GrantView[];
  createdAt: string;
  updatedAt: string;
}

/**
 * Teams. Admins create, rename, limit and delete them; a team's admins manage its members (and may
 * rename it). A member sees the teams they are in; any other team does not exist for them (404).
 */
export class TeamsService {
  readonly #teams: TeamsRepository;
  readonly #grants: Pick<GrantsRepository, 'listForTeam'>;
  readonly #grantViews: Pick<GrantsService, 'views'>;
  readonly #users: Pick<UsersRepository, 'findById'>;
  readonly #audit: AuditLog;
  readonly #changes: ChangeFeed;

  constructor(deps: {
    teams: TeamsRepository;
    grants: Pick<GrantsRepository, 'listForTeam'>;
    grantViews: Pick<GrantsService, 'views'>;
    users: Pick<UsersRepository, 'findById'>;
    audit: AuditLog;
    changes: ChangeFeed;
  }) {
    this.#teams = deps.teams;
    this.#grants = deps.grants;
    this.#grantViews = deps.grantViews;
    this.#users = deps.users;
    this.#audit = deps.audit;
    this.#changes = deps.changes;
  }

  async list(actor: Principal): Promise<TeamView[]> {
    return (await this.#teams.list(actor.userId, isAdmin(actor))).map((team) => view(team, team.myRole));
  }

  async get(actor: Principal, id: string): Promise<TeamView> {
    const { team, myRole } = await this.#visible(actor, id);
    return {
      ...view(team, myRole),
      members: await this.#teams.members(team.id),
      grants: await this.#grantViews.views(await this.#grants.listForTeam(team.id)),
    };
  }

  async create(actor: Principal, input: { name: string; limits?: Limits | undefined }): Promise<TeamView> {
    requireAdmin(actor, 'create teams');
    const team = await this.#teams.insert({ id: randomUUID(), name: input.name, limits: input.limits ?? {} });
    if (!team) throw nameTaken(input.name);
    await this.#changed(actor, 'team.create', team.id, { name: team.name, limits: team.limits });
    return view(team, null);
  }

  async rename(actor: Principal, id: string, name: string): Promise<TeamView> {
    const { myRole } = await this.#managed(actor, id);
    const team = await this.#teams.update(id, { name });
    if (team === null) throw nameTaken(name);
    if (!team) throw teamNotFound();
    await this.#changed(actor, 'team.update', id, { name });
    return view(team, myRole);
  }

  async setLimits(actor: Principal, id: string, limits: Limits): Promise<{ limits: Limits }> {
    await this.#requireAdmin(actor, id, "set a team's limits");
    const team = await this.#teams.update(id, { limits });
    if (!team) throw teamNotFound();
    await this.#changed(actor, 'limits.update', id, { limits }, 'team');
    return { limits: team.limits };
  }

  async delete(actor: Principal, id: string): Promise<void> {
    await this.#requireAdmin(actor, id, 'delete teams');
    if (!(await this.#teams.delete(id))) throw teamNotFound();
    // Grants to the team went with it: `team:` drops every node's resolutions.
    await this.#changed(actor, 'team.delete', id, {});
  }

  async putMember(actor: Principal, id: string, userId: string, role: TeamRole): Promise<TeamMember> {
    const { myRole } = await this.#managed(actor, id);
    const user = isUuid(userId) ? await this.#users.findById(userId) : undefined;
    if (!user) throw new KeywayError('not_found', 'No such user.');
    if (!isAdmin(actor) && myRole === 'admin' && userId === actor.userId && role !== 'admin')
      throw new KeywayError('forbidden', 'A team admin cannot step down themselves; ask another admin.');
    await this.#teams.putMember(id, userId, role);
    await this.#changed(actor, 'team.member.put', id, { userId, role });
    return { userId, username: user.username, role };
  }

  async removeMember(actor: Principal, id: string, userId: string): Promise<void> {
    await this.#managed(actor, id);
    if (!isUuid(userId) || !(await this.#teams.removeMember(id, userId)))
      throw new KeywayError('not_found', 'That user is not in the team.');
    await this.#changed(actor, 'team.member.delete', id, { userId });
  }

  /**
   * Only admins pass; anyone else learns nothing of a team they are not in (404, as the contract says of
   * any team that is not yours) and is refused one they are in (403). A malformed id is 404 for all.
   */
  async #requireAdmin(actor: Principal, id: string, what: string): Promise<void> {
    if (!isUuid(id)) throw teamNotFound();
    if (isAdmin(actor)) return;
    await this.#visible(actor, id);
    requireAdmin(actor, what);
  }

  /** The team, when the caller is an admin or in it; 404 otherwise. */
  async #visible(actor: Principal, id: string): Promise<{ team: TeamRecord; myRole: TeamRole | null }> {
    if (!isUuid(id)) throw teamNotFound();
    const [team, myRole] = await Promise.all([this.#teams.find(id), this.#teams.roleOf(id, actor.userId)]);
    if (!team || (!isAdmin(actor) && myRole === null)) throw teamNotFound();
    return { team, myRole };
  }

  /** The team, when the caller may manage it (an admin, or the team's admin); 403 for its members. */
  async #managed(actor: Principal, id: string): Promise<{ team: TeamRecord; myRole: TeamRole | null }> {
    const found = await this.#visible(actor, id);
    if (!isAdmin(actor) && found.myRole !== 'admin')
      throw new KeywayError('forbidden', "Only the team's admins manage its members.");
    return found;
  }

  async #changed(
    actor: Principal,
    action: string,
    teamId: string,
    details: Record<string, unknown>,
    targetType = 'team',
  ): Promise<void> {
    await this.#audit.record({ actorId: actor.userId, action, targetType, targetId: teamId, details });
    await this.#changes.publish(`team:${teamId}`);
  }
}

function view(team: TeamRecord, myRole: TeamRole | null): TeamView {
  return {
    id: team.id,
    name: team.name,
    limits: team.limits,
    myRole,
    memberCount: team.memberCount,
    createdAt: team.createdAt.toISOString(),
    updatedAt: team.updatedAt.toISOString(),
  };
}

function requireAdmin(actor: Principal, what: string): void {
  if (!isAdmin(actor)) throw new KeywayError('forbidden', `Only an admin may ${what}.`);
}

const teamNotFound = () => new KeywayError('not_found', 'No such team.');
const nameTaken = (name: string) => new KeywayError('name_taken', `A team named "${name}" exists.`);
