import { randomUUID } from 'node:crypto';
import type { AuditLog } from '../audit/audit-log.repository.ts';
import { isAdmin, type Principal } from '../auth/principal.ts';
import { findVisible, scopeOf } from '../credentials/credential-lookup.ts';
import type { CredentialRecord, CredentialsRepository } from '../credentials/credentials.repository.ts';
import type { ChangeFeed } from '../db/change-feed.ts';
import type { GrantSubjectType } from '../db/tables.ts';
import { KeywayError } from '../errors.ts';
import { isUuid } from '../ids.ts';
import type { LimitStatusReader } from '../limits/limit-status.ts';
import type { Limits } from '../limits/limits.ts';
import type { GrantRecord, GrantsRepository } from './grants.repository.ts';
import type { TeamsRepository } from './teams.repository.ts';

export interface GrantSubject {
  type: GrantSubjectType;
  id?: string | undefined;
}

export interface GrantView {
  id: string;
  credentialId: string;
  credentialName: string;
  subject: { type: GrantSubjectType; id?: string; name?: string };
  models: string[] | null;
  limits: Limits;
  expiresAt: string | null;
  spent: { usd: number | null; tokens: number | null };
  createdAt: string;
  updatedAt: string;
}

export interface CreateGrantInput {
  subject: GrantSubject;
  models?: string[] | null | undefined;
  limits?: Limits | undefined;
  expiresAt?: string | null | undefined;
}

export type UpdateGrantInput = Omit<CreateGrantInput, 'subject'>;

/**
 * Grants of a credential's use. Only whoever may change the credential (its owner; any admin for the
 * admins' credentials) grants, changes or revokes; a team's admins may also revoke what was granted to
 * their team. Every change tells every node at once (model resolution drops what it cached).
 */
export class GrantsService {
  readonly #grants: GrantsRepository;
  readonly #credentials: Pick<CredentialsRepository, 'findVisible'>;
  readonly #teams: Pick<TeamsRepository, 'roleOf'>;
  readonly #status: Pick<LimitStatusReader, 'spentOf'>;
  readonly #audit: AuditLog;
  readonly #changes: ChangeFeed;

  constructor(deps: {
    grants: GrantsRepository;
    credentials: Pick<CredentialsRepository, 'findVisible'>;
    teams: Pick<TeamsRepository, 'roleOf'>;
    status: Pick<LimitStatusReader, 'spentOf'>;
    audit: AuditLog;
    changes: ChangeFeed;
  }) {
    this.#grants = deps.grants;
    this.#credentials = deps.credentials;
    this.#teams = deps.teams;
    this.#status = deps.status;
    this.#audit = deps.audit;
    this.#changes = deps.changes;
  }

  async list(actor: Principal, credentialId: string): Promise<GrantView[]> {
    const credential = await this.#manageable(actor, credentialId);
    return this.views(await this.#grants.listForCredential(credential.id));
  }

  async create(actor: Principal, credentialId: string, input: CreateGrantInput): Promise<GrantView> {
    const credential = await this.#manageable(actor, credentialId);
    const { subject } = input;
    if (subject.type === 'everyone') {
      if (subject.id !== undefined) throw invalidSubject('A grant to everyone names no id.');
    } else if (
      !subject.id ||
      !isUuid(subject.id) ||
      !(await this.#grants.subjectExists(subject.type, subject.id, isAdmin(actor) ? null : actor.userId))
    ) {
      throw invalidSubject(
        subject.type === 'bot' || subject.type === 'token'
          ? `No ${subject.type} of yours has that id.`
          : `No ${subject.type} has that id.`,
      );
    }
    const grant = await this.#grants.insert({
      id: randomUUID(),
      credentialId: credential.id,
      subjectType: subject.type,
      subjectId: subject.type === 'everyone' ? null : subject.id!,
      createdBy: actor.userId,
      models: normalizedModels(input.models),
      limits: input.limits ?? {},
      expiresAt: input.expiresAt ? new Date(input.expiresAt) : null,
    });
    await this.#changed(actor, 'grant.create', grant, {
      subject: subject.type,
      models: grant.models,
      limits: grant.limits,
      expiresAt: grant.expiresAt,
    });
    return (await this.views([grant]))[0]!;
  }

  async update(
    actor: Principal,
    credentialId: string,
    grantId: string,
    input: UpdateGrantInput,
  ): Promise<GrantView> {
    const credential = await this.#manageable(actor, credentialId);
    if (!isUuid(grantId)) throw grantNotFound();
    const grant = await this.#grants.update(credential.id, grantId, {
      ...(input.models !== undefined ? { models: normalizedModels(input.models) } : {}),
      ...(input.limits !== undefined ? { limits: input.limits } : {}),
      ...(input.expiresAt !== undefined
        ? { expiresAt: input.expiresAt ? new Date(input.expiresAt) : null }
        : {}),
    });
    if (!grant) throw grantNotFound();
    await this.#changed(actor, 'grant.update', grant, { fields: Object.keys(input) });
    return (await this.views([grant]))[0]!;
  }

  /** Revokes: the credential's managers, or an admin of the team it was granted to. */
  async delete(actor: Principal, credentialId: string, grantId: string): Promise<void> {
    if (!isUuid(credentialId) || !isUuid(grantId)) throw grantNotFound();
    const grant = await this.#grants.find(credentialId, grantId);
    const teamAdmin =
      grant?.subjectType === 'team' && (await this.#teams.roleOf(grant.subjectId!, actor.userId)) === 'admin';
    if (!teamAdmin) await this.#manageable(actor, credentialId);
    if (!grant || !(await this.#grants.delete(credentialId, grantId))) throw grantNotFound();
    await this.#changed(actor, 'grant.delete', grant, { subject: grant.subjectType });
  }

  async views(grants: GrantRecord[]): Promise<GrantView[]> {
    const spent = await this.#status.spentOf(
      grants.map((grant) => ({ scope: 'grant' as const, id: grant.id, limits: grant.limits })),
    );
    return grants.map((grant, index) => ({
      id: grant.id,
      credentialId: grant.credentialId,
      credentialName: grant.credentialName,
      subject: {
        type: grant.subjectType,
        ...(grant.subjectId ? { id: grant.subjectId } : {}),
        ...(grant.subjectName ? { name: grant.subjectName } : {}),
      },
      models: grant.models,
      limits: grant.limits,
      expiresAt: grant.expiresAt?.toISOString() ?? null,
      spent: spent[index]!,
      createdAt: grant.createdAt.toISOString(),
      updatedAt: grant.updatedAt.toISOString(),
    }));
  }

  /** The credential, when the caller may grant it; 404 when they cannot see it, 403 when they only use it. */
  async #manageable(actor: Principal, credentialId: string): Promise<CredentialRecord> {
    const credential = await findVisible(this.#credentials, scopeOf(actor), credentialId);
    if (!credential.access.direct) {
      throw new KeywayError(
        'forbidden',
        'Only the owner of a credential grants its use (an admin, for the admins’ credentials).',
      );
    }
    return credential;
  }

  async #changed(actor: Principal, action: string, grant: GrantRecord, details: Record<string, unknown>) {
    await this.#audit.record({
      actorId: actor.userId,
      action,
      targetType: 'credential',
      targetId: grant.credentialId,
      details: { grantId: grant.id, ...details },
    });
    await this.#changes.publish(`credential:${grant.credentialId}`);
  }
}

/** Patterns trimmed, empty ones dropped, duplicates once; none at all means every model. */
function normalizedModels(models: string[] | null | undefined): string[] | null {
  if (!models) return null;
  const cleaned = [...new Set(models.map((model) => model.trim()).filter((model) => model.length > 0))];
  return cleaned.length > 0 ? cleaned : null;
}

const invalidSubject = (message: string) =>
  new KeywayError('invalid_subject', message, { details: { param: 'subject' } });
const grantNotFound = () => new KeywayError('not_found', 'No such grant.');
