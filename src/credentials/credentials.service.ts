import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { AuditLog } from '../audit/audit-log.repository.ts';
import { isAdmin, type Principal } from '../auth/principal.ts';
import type { ChangeFeed } from '../db/change-feed.ts';
import { KeywayError } from '../errors.ts';
import { isUuid } from '../ids.ts';
import type { SecretRedactor } from '../observability/secret-redactor.ts';
import { listModels } from '../providers/model-listing.ts';
import type { ModelInfo, ProviderDefinition } from '../providers/provider.ts';
import { checkKeyFormat, parseSettings, type ProviderRegistry } from '../providers/registry.ts';
import type { UpstreamClient } from '../providers/upstream-client.ts';
import {
  checkUpstreamUrl,
  policyForOwner,
  type UpstreamPolicies,
  type UpstreamPolicy,
} from '../providers/upstream-url-guard.ts';
import { hintFor, type Cipher } from '../vault/cipher.ts';
import type { CredentialUsage } from './credential-usage.ts';
import type {
  CredentialRecord,
  CredentialsRepository,
  Scope,
  SealedColumns,
} from './credentials.repository.ts';

/** Where a `/v1` model name leads. */
export interface ModelTarget {
  credential: CredentialRecord;
  provider: ProviderDefinition;
  /** The provider's own model id. */
  model: string;
}

/** A credential as the API shows it: everything but the secret. */
export interface CredentialView {
  id: string;
  name: string;
  provider: string;
  shared: boolean;
  settings: Record<string, unknown>;
  hint: string;
  fingerprint: string | null;
  status: 'unchecked' | 'valid' | 'invalid';
  statusMessage: string | null;
  lastCheckedAt: Date | null;
  lastUsedAt: Date | null;
  usedBy: { bots: number };
  duplicates: { id: string; name: string }[];
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

export interface CreateCredentialInput {
  name: string;
  provider: string;
  secret?: string | undefined;
  settings?: Record<string, unknown> | undefined;
  shared?: boolean | undefined;
}

/** Binds a ciphertext to its row: copied onto another row (another owner, another version), it does not open. */
export function credentialAad(row: {
  id: string;
  ownerId: string | null;
  provider: string;
  version: number;
}): string {
  return ['keyway:credential:v1', row.id, row.ownerId ?? 'shared', row.provider, String(row.version)].join(
    '\u0000',
  );
}

/**
 * The stored columns of a credential's secret: AES-256-GCM bound to the row (see `credentialAad`), the
 * fingerprint that finds duplicates, and the hint people see. Everything that writes a credential
 * (this service, the importers) seals through here, so rows look the same whoever wrote them.
 */
export function sealSecret(
  cipher: Cipher,
  secret: string | null,
  row: { id: string; ownerId: string | null; provider: string; version: number },
): SealedColumns {
  if (secret === null)
    return {
      secretKeyId: null,
      secretNonce: null,
      secretCiphertext: null,
      fingerprint: null,
      hint: '(no key)',
    };
  const sealed = cipher.seal(secret, credentialAad(row));
  return {
    secretKeyId: sealed.keyId,
    secretNonce: sealed.nonce,
    secretCiphertext: sealed.ciphertext,
    fingerprint: cipher.fingerprint(secret),
    hint: hintFor(secret),
  };
}

const scopeOf = (actor: Principal): Scope => ({ userId: actor.userId, admin: isAdmin(actor) });

/**
 * The vault's rules: a secret is stored once, encrypted and bound to its row; duplicates are found
 * (by fingerprint, among what the caller can see) and reported, never forbidden; secrets are
 * write-only; shared credentials are created and changed by admins and used by everyone.
 */
export class CredentialsService {
  readonly #repository: CredentialsRepository;
  readonly #cipher: Cipher;
  readonly #providers: ProviderRegistry;
  readonly #upstream: UpstreamClient;
  readonly #policies: UpstreamPolicies;
  readonly #usage: CredentialUsage;
  readonly #audit: AuditLog;
  readonly #changes: ChangeFeed;
  readonly #redactor: SecretRedactor;
  readonly #logger: Logger;
  /** Decrypted secrets by `id:version`: the request path decrypts each secret once. */
  readonly #secrets = new Map<string, string>();
  /** Model-name prefix resolutions by caller: dropped whenever any credential changes. */
  readonly #resolutions = new Map<string, { rows: CredentialRecord[]; expiresAt: number }>();
  readonly #modelLists = new Map<string, { models: ModelInfo[]; expiresAt: number }>();
  readonly #unsubscribe: () => void;

  constructor(deps: {
    repository: CredentialsRepository;
    cipher: Cipher;
    providers: ProviderRegistry;
    upstream: UpstreamClient;
    policies: UpstreamPolicies;
    usage: CredentialUsage;
    audit: AuditLog;
    changes: ChangeFeed;
    redactor: SecretRedactor;
    logger: Logger;
  }) {
    this.#repository = deps.repository;
    this.#cipher = deps.cipher;
    this.#providers = deps.providers;
    this.#upstream = deps.upstream;
    this.#policies = deps.policies;
    this.#usage = deps.usage;
    this.#audit = deps.audit;
    this.#changes = deps.changes;
    this.#redactor = deps.redactor;
    this.#logger = deps.logger;
    this.#unsubscribe = deps.changes.subscribe((topic) => this.#invalidate(topic));
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
    const settings = this.#settings(provider, input.settings ?? {}, scope.admin);
    const secret = this.#secretFor(provider, input.secret);
    const id = randomUUID();
    const ownerId = input.shared ? null : actor.userId;
    const row = await this.#repository.insert({
      id,
      ownerId,
      createdBy: actor.userId,
      provider: provider.id,
      name: input.name,
      settings,
      ...this.#seal(secret, { id, ownerId, provider: provider.id, version: 1 }),
    });
    if (!row) throw nameTaken(input.name, ownerId === null);
    await this.#recordChange(actor, 'credential.create', id, {
      name: input.name,
      provider: provider.id,
      shared: ownerId === null,
    });
    const [view] = await this.#views(scope, [row]);
    return { ...view!, warnings: this.#warnings(provider, secret, view!) };
  }

  async update(
    actor: Principal,
    id: string,
    changes: { name?: string | undefined; settings?: Record<string, unknown> | undefined },
  ): Promise<CredentialView> {
    const scope = scopeOf(actor);
    const current = await this.#findWritable(scope, id);
    const settings =
      changes.settings === undefined
        ? undefined
        : this.#settings(this.#provider(current.provider), changes.settings, current.ownerIsAdmin);
    const row = await this.#repository.update(scope, id, {
      ...(changes.name !== undefined ? { name: changes.name } : {}),
      ...(settings ? { settings } : {}),
    });
    if (row === null) throw nameTaken(changes.name ?? current.name, current.ownerId === null);
    if (!row) throw notFound();
    await this.#recordChange(actor, 'credential.update', id, {
      renamed: changes.name !== undefined,
      settingsChanged: settings !== undefined,
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
    const secret = this.#secretFor(provider, newSecret);
    const row = await this.#repository.replaceSecret(
      scope,
      id,
      current.version,
      this.#seal(secret, { ...current, version: current.version + 1 }),
    );
    if (!row) throw new KeywayError('conflict', 'The credential changed while rotating it; try again.');
    await this.#recordChange(actor, 'credential.rotate', id, { version: row.version });
    const [view] = await this.#views(scope, [row]);
    return { ...view!, warnings: this.#warnings(provider, secret, view!) };
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
    if (!(await this.#repository.delete(scope, id))) throw notFound();
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

  /**
   * Which credential a `/v1` model name reaches: `<credential-name>/<model>`, else
   * `<provider>/<model>` (the caller's own credential for that provider first, then a shared one; more
   * than one is ambiguous). Split at the first `/`. Cached per caller and prefix until any credential
   * changes, so the request path makes no database round trip once warm.
   */
  async resolveModel(actor: Principal, modelName: string): Promise<ModelTarget> {
    const slash = modelName.indexOf('/');
    if (slash <= 0 || slash === modelName.length - 1) {
      throw new KeywayError(
        'model_not_found',
        `The model "${modelName}" does not name a credential or provider: use <credential>/<model> or <provider>/<model>.`,
      );
    }
    const prefix = modelName.slice(0, slash);
    const model = modelName.slice(slash + 1);
    const key = `${actor.userId}\u0000${prefix.toLowerCase()}`;
    let candidates = this.#resolutions.get(key);
    if (!candidates || candidates.expiresAt <= Date.now()) {
      candidates = {
        rows: await this.#repository.findByNameOrProvider(scopeOf(actor), prefix),
        expiresAt: Date.now() + 60_000,
      };
      this.#resolutions.set(key, candidates);
    }
    const rows = candidates.rows;
    const byName = rows.filter((row) => row.name.toLowerCase() === prefix.toLowerCase());
    const named = byName.find((row) => row.ownerId !== null) ?? byName[0];
    if (named) return { credential: named, provider: this.#provider(named.provider), model };
    const forProvider = rows.filter((row) => row.provider === prefix);
    const own = forProvider.filter((row) => row.ownerId !== null);
    const pool = own.length > 0 ? own : forProvider;
    if (pool.length === 1)
      return { credential: pool[0]!, provider: this.#provider(pool[0]!.provider), model };
    if (pool.length > 1) {
      throw new KeywayError(
        'ambiguous_model',
        `"${prefix}" matches ${pool.length} credentials for that provider: ${pool.map((row) => row.name).join(', ')}. Name one: <credential>/${model}.`,
        {
          details: { candidates: pool.map((row) => row.name) },
        },
      );
    }
    throw new KeywayError(
      'model_not_found',
      this.#providers.get(prefix)
        ? `You have no credential for ${prefix}; add one first.`
        : `No credential or provider is named "${prefix}".`,
    );
  }

  /**
   * A credential the caller may use, by id, for a bot's requests: cached like `resolveModel`, so a
   * warm bot makes no database round trip either.
   */
  async resolveById(actor: Principal, credentialId: string, model: string): Promise<ModelTarget> {
    const key = `${actor.userId}\u0000#${credentialId}`;
    let cached = this.#resolutions.get(key);
    if (!cached || cached.expiresAt <= Date.now()) {
      cached = { rows: [await this.#find(scopeOf(actor), credentialId)], expiresAt: Date.now() + 60_000 };
      this.#resolutions.set(key, cached);
    }
    const row = cached.rows[0]!;
    return { credential: row, provider: this.#provider(row.provider), model };
  }

  /** Credentials the caller may use, for `/v1/models`. */
  async usable(actor: Principal): Promise<CredentialRecord[]> {
    return this.#repository.listVisible(scopeOf(actor));
  }

  /** A credential's models, cached a few minutes (for `/v1/models`). */
  async cachedModels(row: CredentialRecord): Promise<ModelInfo[]> {
    const key = `${row.id}:${row.version}`;
    const cached = this.#modelLists.get(key);
    if (cached && cached.expiresAt > Date.now()) return cached.models;
    const result = await listModels(this.#call(row), this.#upstream);
    const models = result.ok ? result.models : [];
    this.#modelLists.set(key, { models, expiresAt: Date.now() + (result.ok ? 300_000 : 30_000) });
    return models;
  }

  /** Which upstream addresses calls with this credential may reach (by its owner's role). */
  upstreamPolicy(row: CredentialRecord): UpstreamPolicy {
    return policyForOwner(this.#policies, row.ownerIsAdmin);
  }

  /** Called by the usage recorder, in batches: keeps `lastUsedAt` without a write per request. */
  recordUse(uses: { id: string; at: Date }[]): Promise<void> {
    return this.#repository.touchLastUsed(uses);
  }

  close(): void {
    this.#unsubscribe();
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

  async #find(scope: Scope, id: string): Promise<CredentialRecord> {
    if (!isUuid(id)) throw notFound();
    const row = await this.#repository.findVisible(scope, id);
    if (!row) throw notFound();
    return row;
  }

  /** Visible and writable: a member sees a shared credential but may not change it. */
  async #findWritable(scope: Scope, id: string): Promise<CredentialRecord> {
    const row = await this.#find(scope, id);
    if (row.ownerId === null && !scope.admin)
      throw new KeywayError(
        'forbidden',
        'A shared credential can be used by everyone but changed only by an admin.',
      );
    return row;
  }

  #provider(id: string): ProviderDefinition {
    const provider = this.#providers.get(id);
    if (!provider) {
      throw new KeywayError('unknown_provider', `Unknown provider "${id}".`, {
        details: { known: this.#providers.list().map((entry) => entry.id) },
        fix: 'GET /api/providers lists the providers.',
      });
    }
    return provider;
  }

  /** Parsed settings whose URLs the owner's upstream policy allows (a member's: public addresses only). */
  #settings(
    provider: ProviderDefinition,
    input: Record<string, unknown>,
    ownerIsAdmin: boolean,
  ): Record<string, unknown> {
    const parsed = parseSettings(provider, input);
    if (!parsed.ok) {
      throw new KeywayError(
        'invalid_settings',
        `Invalid settings for ${provider.label}: ${parsed.issues.map((issue) => `${issue.path ? issue.path + ': ' : ''}${issue.message}`).join('; ')}`,
        {
          details: { issues: parsed.issues },
        },
      );
    }
    for (const field of ['baseUrl', 'endpoint']) {
      const url = parsed.settings[field];
      if (typeof url !== 'string') continue;
      const check = checkUpstreamUrl(url, policyForOwner(this.#policies, ownerIsAdmin));
      if (!check.ok)
        throw new KeywayError('blocked_url', `settings.${field} is not allowed: ${check.message}`, {
          details: { field },
        });
    }
    return parsed.settings;
  }

  #secretFor(provider: ProviderDefinition, secret: string | undefined): string | null {
    const trimmed = secret?.trim();
    if (trimmed) return trimmed;
    if (provider.secret === 'required') {
      throw new KeywayError('validation_failed', `${provider.label} needs an API key: send it as "secret".`, {
        details: { field: 'secret' },
      });
    }
    return null;
  }

  #seal(
    secret: string | null,
    row: { id: string; ownerId: string | null; provider: string; version: number },
  ): SealedColumns {
    if (secret !== null) this.#redactor.register(secret);
    return sealSecret(this.#cipher, secret, row);
  }

  /** The decrypted secret of a row, from the cache after the first use. */
  revealSecret(row: CredentialRecord): string | null {
    if (!row.secretCiphertext || !row.secretNonce || !row.secretKeyId) return null;
    const key = `${row.id}:${row.version}`;
    const cached = this.#secrets.get(key);
    if (cached !== undefined) return cached;
    let secret: string;
    try {
      secret = this.#cipher.open(
        { keyId: row.secretKeyId, nonce: row.secretNonce, ciphertext: row.secretCiphertext },
        credentialAad(row),
      );
    } catch (error) {
      this.#logger.error(
        { credentialId: row.id, code: (error as KeywayError).code },
        'a stored secret could not be decrypted',
      );
      void this.#audit
        .record({
          actorId: null,
          action: 'credential.use_failure',
          targetType: 'credential',
          targetId: row.id,
          details: { reason: (error as KeywayError).code },
        })
        .catch(() => {});
      throw new KeywayError(
        'secret_unreadable',
        `The stored secret of credential "${row.name}" cannot be decrypted: it was altered or copied from another row.`,
        {
          fix: 'Rotate the credential to store its secret again.',
        },
      );
    }
    this.#redactor.register(secret);
    this.#secrets.set(key, secret);
    return secret;
  }

  #call(row: CredentialRecord) {
    return {
      provider: this.#provider(row.provider),
      secret: this.revealSecret(row),
      settings: row.settings,
      policy: this.upstreamPolicy(row),
    };
  }

  #warnings(provider: ProviderDefinition, secret: string | null, view: CredentialView): string[] {
    const warnings: string[] = [];
    const format = secret === null ? null : checkKeyFormat(provider, secret);
    if (format) warnings.push(format);
    if (view.duplicates.length > 0) {
      warnings.push(
        `The same key is also stored as ${view.duplicates.map((duplicate) => `"${duplicate.name}"`).join(', ')}. Saved anyway; consider using one credential for both.`,
      );
    }
    return warnings;
  }

  async #views(scope: Scope, rows: CredentialRecord[]): Promise<CredentialView[]> {
    const fingerprints = [
      ...new Set(rows.map((row) => row.fingerprint).filter((value): value is string => value !== null)),
    ];
    const [duplicates, usage] = await Promise.all([
      this.#repository.findDuplicates(scope, fingerprints),
      this.#usage.botsUsing(rows.map((row) => row.id)),
    ]);
    return rows.map((row) => ({
      id: row.id,
      name: row.name,
      provider: row.provider,
      shared: row.ownerId === null,
      settings: row.settings,
      hint: row.hint,
      fingerprint: row.fingerprint,
      status: row.status,
      statusMessage: row.statusMessage,
      lastCheckedAt: row.lastCheckedAt,
      lastUsedAt: row.lastUsedAt,
      usedBy: { bots: usage.get(row.id)?.length ?? 0 },
      duplicates: duplicates
        .filter((other) => other.fingerprint === row.fingerprint && other.id !== row.id)
        .map(({ id, name }) => ({ id, name })),
      version: row.version,
      createdAt: row.createdAt,
      updatedAt: row.updatedAt,
    }));
  }

  #invalidate(topic: string): void {
    if (topic === '*') {
      this.#secrets.clear();
      this.#resolutions.clear();
      return;
    }
    // A user changed (role, disabled): resolutions carry the owner's role, which decides what a
    // credential may reach; they are rebuilt.
    if (topic.startsWith('user:')) {
      this.#resolutions.clear();
      return;
    }
    if (!topic.startsWith('credential:')) return;
    // Any change (a new credential, a rename, a delete) can change what a prefix resolves to.
    this.#resolutions.clear();
    const id = topic.slice('credential:'.length);
    for (const key of this.#secrets.keys()) if (key.startsWith(`${id}:`)) this.#secrets.delete(key);
  }
}

const notFound = () => new KeywayError('not_found', 'No such credential.');

const nameTaken = (name: string, shared: boolean) =>
  new KeywayError(
    'name_taken',
    `${shared ? 'A shared credential' : 'You already have a credential'} named "${name}"${shared ? ' exists' : ''}.`,
    {
      fix: 'Choose another name.',
    },
  );
