import { randomUUID } from 'node:crypto';
import type { AuditLog } from '../audit/audit-log.repository.ts';
import type { Principal } from '../auth/principal.ts';
import type { ChangeFeed } from '../db/change-feed.ts';
import { KeywayError } from '../errors.ts';
import { listModels } from '../providers/model-listing.ts';
import type { ModelInfo, ProviderDefinition } from '../providers/provider.ts';
import type { ProviderRegistry } from '../providers/registry.ts';
import type { UpstreamClient } from '../providers/upstream-client.ts';
import { policyForOwner, type UpstreamPolicies } from '../providers/upstream-url-guard.ts';
import { checkedSettings, saveWarnings, secretToStore } from './credential-input.ts';
import { credentialNotFound, findVisible, providerOf, scopeOf } from './credential-lookup.ts';
import type { CredentialSecrets } from './credential-secrets.ts';
import type { CredentialUsage } from './credential-usage.ts';
import { credentialView, type CredentialView } from './credential-view.ts';
import type {
  CredentialRecord,
  CredentialsRepository,
  Scope,
  UsableCredential,
} from './credentials.repository.ts';
import type { Price } from '../usage/prices.ts';

export interface CreateCredentialInput {
  name: string;
  provider: string;
  secret?: string | undefined;
  settings?: Record<string, unknown> | undefined;
  shared?: boolean | undefined;
  prices?: Record<string, Price> | undefined;
}

/**
 * The vault's API: a secret is stored once, encrypted and bound to its row; duplicates are found
 * (by fingerprint, among what the caller can see) and reported, never forbidden; secrets are
 * write-only; shared credentials are created and changed by admins and used by everyone. Every change
 * is audited and published on the change feed, so each node's caches drop what they held.
 */
export class CredentialsService {
  readonly #repository: CredentialsRepository;
  readonly #secrets: Pick<CredentialSecrets, 'seal' | 'callWith'>;
  readonly #providers: ProviderRegistry;
  readonly #upstream: Pick<UpstreamClient, 'request'>;
  readonly #policies: UpstreamPolicies;
  readonly #usage: CredentialUsage;
  readonly #audit: AuditLog;
  readonly #changes: ChangeFeed;

  constructor(deps: {
    repository: CredentialsRepository;
    secrets: Pick<CredentialSecrets, 'seal' | 'callWith'>;
    providers: ProviderRegistry;
    upstream: Pick<UpstreamClient, 'request'>;
    policies: UpstreamPolicies;
    usage: CredentialUsage;
    audit: AuditLog;
    changes: ChangeFeed;
  }) {
    this.#repository = deps.repository;
    this.#secrets = deps.secrets;
    this.#providers = deps.providers;
    this.#upstream = deps.upstream;
    this.#policies = deps.policies;
    this.#usage = deps.usage;
    this.#audit = deps.audit;
    this.#changes = deps.changes;
  }

  async list(actor: Principal): Promise<CredentialView[]> {
    const scope = scopeOf(actor);
    const rows = await this.#repository.listVisible(scope);
    return this.#views(scope, rows);
  }

  async get(actor: Principal, id: string): Promise<CredentialView> {
    const scope = scopeOf(actor);
    return (await this.#views(scope, [await this.#find(scope, id)]))[0]!;
  }

  async create(
    actor: Principal,
    input: CreateCredentialInput,
  ): Promise<CredentialView & { warnings: string[] }> {
    const scope = scopeOf(actor);
    if (input.shared && !scope.admin)
      throw new KeywayError('forbidden', 'Only an admin may create a shared credential.');
    const provider = this.#provider(input.provider);
    const settings = checkedSettings(
      provider,
      input.settings ?? {},
      policyForOwner(this.#policies, scope.admin),
    );
    const secret = secretToStore(provider, input.secret);
    const id = randomUUID();
    const ownerId = input.shared ? null : actor.userId;
    const row = await this.#repository.insert({
      id,
      ownerId,
      createdBy: actor.userId,
      provider: provider.id,
      name: input.name,
      settings,
      prices: input.prices ?? {},
      // What `shared` has always meant: every member may use it (narrowed later with grants).
      grantToEveryone: ownerId === null,
      ...this.#secrets.seal(secret, { id, ownerId, provider: provider.id, version: 1 }),
    });
    if (!row) throw nameTaken(input.name, ownerId === null);
    await this.#recordChange(actor, 'credential.create', id, {
      name: input.name,
      provider: provider.id,
      shared: ownerId === null,
    });
    const [view] = await this.#views(scope, [row]);
    return { ...view!, warnings: saveWarnings(provider, secret, view!.duplicates) };
  }

  async update(
    actor: Principal,
    id: string,
    changes: {
      name?: string | undefined;
      settings?: Record<string, unknown> | undefined;
      prices?: Record<string, Price> | undefined;
    },
  ): Promise<CredentialView> {
    const scope = scopeOf(actor);
    const current = await this.#findWritable(scope, id);
    const settings =
      changes.settings === undefined
        ? undefined
        : checkedSettings(
            this.#provider(current.provider),
            changes.settings,
            policyForOwner(this.#policies, current.ownerIsAdmin),
          );
    const row = await this.#repository.update(scope, id, {
      ...(changes.name !== undefined ? { name: changes.name } : {}),
      ...(settings ? { settings } : {}),
      ...(changes.prices !== undefined ? { prices: changes.prices } : {}),
    });
    if (row === null) throw nameTaken(changes.name ?? current.name, current.ownerId === null);
    if (!row) throw credentialNotFound();
    await this.#recordChange(actor, 'credential.update', id, {
      renamed: changes.name !== undefined,
      settingsChanged: settings !== undefined,
      ...(changes.prices !== undefined ? { prices: changes.prices } : {}),
    });
    return (await this.#views(scope, [row]))[0]!;
  }

  /** Replaces the secret in place (version + 1): every consumer uses the new one at once, on every node. */
  async rotate(
    actor: Principal,
    id: string,
    newSecret: string | undefined,
  ): Promise<CredentialView & { warnings: string[] }> {
    const scope = scopeOf(actor);
    const current = await this.#findWritable(scope, id);
    const provider = this.#provider(current.provider);
    const secret = secretToStore(provider, newSecret);
    const row = await this.#repository.replaceSecret(
      scope,
      id,
      current.version,
      this.#secrets.seal(secret, { ...current, version: current.version + 1 }),
    );
    if (!row) throw new KeywayError('conflict', 'The credential changed while rotating it; try again.');
    await this.#recordChange(actor, 'credential.rotate', id, { version: row.version });
    const [view] = await this.#views(scope, [row]);
    return { ...view!, warnings: saveWarnings(provider, secret, view!.duplicates) };
  }

  async delete(actor: Principal, id: string, options: { detach: boolean }): Promise<void> {
    const scope = scopeOf(actor);
    await this.#findWritable(scope, id);
    const bots = (await this.#usage.botsUsing([id])).get(id) ?? [];
    if (bots.length > 0 && !options.detach) {
      throw new KeywayError(
        'credential_in_use',
        `The credential is used by ${bots.length} bot(s): ${bots.map((bot) => bot.name).join(', ')}.`,
        {
          fix: 'Point those bots at another credential first, or delete with ?detach=true to detach them.',
          details: { bots },
        },
      );
    }
    if (bots.length > 0) await this.#usage.detach(id);
    if (!(await this.#repository.delete(scope, id))) throw credentialNotFound();
    await this.#recordChange(actor, 'credential.delete', id, { detachedBots: bots.length });
  }

  /** Calls the provider's cheapest authenticated endpoint and records whether the key works. */
  async test(
    actor: Principal,
    id: string,
  ): Promise<{
    status: 'valid' | 'invalid';
    message: string | null;
    models: number | null;
    credential: CredentialView;
  }> {
    const scope = scopeOf(actor);
    const row = await this.#findWritable(scope, id);
    const result = await listModels(this.#call(row), this.#upstream);
    const at = new Date();
    if (result.ok) {
      await this.#repository.recordCheck(id, { status: 'valid', message: null, at });
    } else if (result.reason === 'unauthorized') {
      await this.#repository.recordCheck(id, { status: 'invalid', message: result.message, at });
    }
    await this.#audit.record({
      actorId: actor.userId,
      action: 'credential.test',
      targetType: 'credential',
      targetId: id,
      details: {
        outcome: result.ok ? 'valid' : result.reason,
        status: result.ok ? undefined : result.status,
      },
    });
    if (!result.ok && result.reason !== 'unauthorized') {
      // The provider could not be asked: that says nothing about the key, so its status stays.
      throw new KeywayError(
        result.reason === 'blocked_url' ? 'blocked_url' : 'upstream_error',
        `Could not reach the provider to test the key: ${result.message}`,
      );
    }
    const credential = await this.get(actor, id);
    return {
      status: result.ok ? 'valid' : 'invalid',
      message: result.ok ? null : result.message,
      models: result.ok ? result.models.length : null,
      credential,
    };
  }

  /** The models the credential's provider offers to this key. Shared credentials may be used by anyone. */
  async models(actor: Principal, id: string): Promise<ModelInfo[]> {
    const row = await this.#find(scopeOf(actor), id);
    const result = await listModels(this.#call(row), this.#upstream);
    if (result.ok) return result.models;
    if (result.reason === 'unauthorized')
      throw new KeywayError('credential_rejected', `The provider rejected the key: ${result.message}`);
    throw new KeywayError(
      result.reason === 'blocked_url' ? 'blocked_url' : 'upstream_error',
      `Could not list the provider's models: ${result.message}`,
    );
  }

  // ── internals ──

  /** Audits a change and tells every node to drop what it cached about the credential (and model names). */
  async #recordChange(
    actor: Principal,
    action: string,
    id: string,
    details: Record<string, unknown>,
  ): Promise<void> {
    await this.#audit.record({
      actorId: actor.userId,
      action,
      targetType: 'credential',
      targetId: id,
      details,
    });
    await this.#changes.publish(`credential:${id}`);
  }

  #find(scope: Scope, id: string): Promise<UsableCredential> {
    return findVisible(this.#repository, scope, id);
  }

  /** Visible and writable: a credential granted to the caller is theirs to use, not to change. */
  async #findWritable(scope: Scope, id: string): Promise<CredentialRecord> {
    const row = await this.#find(scope, id);
    if (!row.access.direct)
      throw new KeywayError(
        'forbidden',
        row.ownerId === null
          ? 'A shared credential can be used by everyone but changed only by an admin.'
          : 'A credential granted to you can be used, but only its owner changes it.',
      );
    return row;
  }

  #provider(id: string): ProviderDefinition {
    return providerOf(this.#providers, id);
  }

  #call(row: CredentialRecord) {
    return this.#secrets.callWith(row, this.#provider(row.provider));
  }

  async #views(scope: Scope, rows: CredentialRecord[]): Promise<CredentialView[]> {
    const fingerprints = [
      ...new Set(rows.map((row) => row.fingerprint).filter((value): value is string => value !== null)),
    ];
    const [duplicates, usage] = await Promise.all([
      this.#repository.findDuplicates(scope, fingerprints),
      this.#usage.botsUsing(rows.map((row) => row.id)),
    ]);
    return rows.map((row) =>
      credentialView(row, {
        duplicates,
        usage,
        manageable: row.ownerId === scope.userId || (scope.admin && row.ownerId === null),
      }),
    );
  }
}

const nameTaken = (name: string, shared: boolean) =>
  new KeywayError(
    'name_taken',
    `${shared ? 'A shared credential' : 'You already have a credential'} named "${name}"${shared ? ' exists' : ''}.`,
    {
      fix: 'Choose another name.',
    },
  );
