import type { Principal } from '../auth/principal.ts';
import type { ChangeFeed } from '../db/change-feed.ts';
import { KeywayError } from '../errors.ts';
import { listModels } from '../providers/model-listing.ts';
import type { ModelInfo, ProviderDefinition } from '../providers/provider.ts';
import type { ProviderRegistry } from '../providers/registry.ts';
import type { UpstreamClient } from '../providers/upstream-client.ts';
import type { CredentialSecrets } from './credential-secrets.ts';
import { findVisible, providerOf, scopeOf } from './credential-lookup.ts';
import { matchesWildcard } from '../text/wildcard.ts';
import type { CredentialsRepository, GrantTerms, UsableCredential } from './credentials.repository.ts';

/** Where a `/v1` model name leads. */
export interface ModelTarget {
  credential: UsableCredential;
  provider: ProviderDefinition;
  /** The provider's own model id. */
  model: string;
  /**
   * The grants the caller uses the credential through, most specific first, each covering the model;
   * empty when the caller reaches it directly (their own, or an admins' one for an admin).
   */
  grants: GrantTerms[];
}

/** Whether a grant is live now and lets its holder use `model`. */
export function grantCovers(grant: GrantTerms, model: string, now = Date.now()): boolean {
  if (grant.expiresAt !== null && grant.expiresAt.getTime() <= now) return false;
  return grant.models === null || grant.models.some((pattern) => matchesWildcard(pattern, model));
}

/** The grants through which a caller may use `model` on a credential, or null when nothing lets them. */
export function grantsFor(credential: UsableCredential, model: string): GrantTerms[] | null {
  if (credential.access.direct) return [];
  const covering = credential.access.grants.filter((grant) => grantCovers(grant, model));
  return covering.length > 0 ? covering : null;
}

/** How long a resolution is trusted without a change notice (a missed notice heals after this). */
const RESOLUTION_TTL_MS = 60_000;
const MODEL_LIST_TTL_MS = 300_000;
/** A failed listing is retried sooner than a good one is refreshed. */
const FAILED_MODEL_LIST_TTL_MS = 30_000;

/**
 * Model names to credentials, by the naming rules of `/v1`: `<credential-name>/<model>`, else
 * `<provider>/<model>` (the caller's own credential for that provider before a shared one; more than
 * one is ambiguous), split at the first `/`. Resolutions are cached per caller, so a warm request path
 * makes no database round trip, and dropped on any credential or user change (a role change alters
 * what a credential may reach) and on `*`. Also the credentials a caller may use and their models.
 */
export class ModelResolver {
  readonly #repository: Pick<CredentialsRepository, 'findByNameOrProvider' | 'findVisible' | 'listVisible'>;
  readonly #providers: ProviderRegistry;
  readonly #secrets: Pick<CredentialSecrets, 'callWith'>;
  readonly #upstream: Pick<UpstreamClient, 'request'>;
  /** Candidate rows by caller (user, token, bot) and prefix (or `#<credential id>`). */
  readonly #resolutions = new Map<string, { rows: UsableCredential[]; expiresAt: number }>();
  /**
   * Loads under way, by the same key: a burst of requests for a model not yet cached shares one
   * query instead of each sending its own (256 at once on a new credential).
   */
  readonly #loading = new Map<string, Promise<UsableCredential[]>>();
  /** Bumped on every invalidation: a load that began before one is not cached after it. */
  #generation = 0;
  /** Model lists by `id:version`: a rotated key is listed again. */
  readonly #modelLists = new Map<string, { models: ModelInfo[]; expiresAt: number }>();
  readonly #unsubscribe: () => void;

  constructor(deps: {
    repository: Pick<CredentialsRepository, 'findByNameOrProvider' | 'findVisible' | 'listVisible'>;
    providers: ProviderRegistry;
    secrets: Pick<CredentialSecrets, 'callWith'>;
    upstream: Pick<UpstreamClient, 'request'>;
    changes: ChangeFeed;
  }) {
    this.#repository = deps.repository;
    this.#providers = deps.providers;
    this.#secrets = deps.secrets;
    this.#upstream = deps.upstream;
    this.#unsubscribe = deps.changes.subscribe((topic) => {
      if (
        topic === '*' ||
        topic.startsWith('user:') ||
        topic.startsWith('credential:') ||
        topic.startsWith('team:')
      ) {
        this.#resolutions.clear();
        this.#loading.clear();
        this.#generation++;
      }
    });
  }

  /** Which credential a `/v1` model name reaches; `model_not_found` or `ambiguous_model` otherwise. */
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
    const rows = await this.#cached(`${callerKey(actor)}\u0000${prefix.toLowerCase()}`, () =>
      this.#repository.findByNameOrProvider(scopeOf(actor), prefix),
    );
    const byName = rows.filter((row) => row.name.toLowerCase() === prefix.toLowerCase());
    // The caller's own credential of that name before one granted to them.
    const named = byName.find((row) => row.ownerId === actor.userId) ?? byName[0];
    if (named) return this.#target(named, model);
    const forProvider = rows.filter((row) => row.provider === prefix);
    const own = forProvider.filter((row) => row.ownerId === actor.userId);
    const pool = own.length > 0 ? own : forProvider;
    if (pool.length === 1) return this.#target(pool[0]!, model);
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
    const [row] = await this.#cached(`${callerKey(actor)}\u0000#${credentialId}`, async () => [
      await findVisible(this.#repository, scopeOf(actor), credentialId),
    ]);
    return this.#target(row!, model);
  }

  /** Credentials the caller may use, for `/v1/models`. */
  async usable(actor: Principal): Promise<UsableCredential[]> {
    return this.#repository.listVisible(scopeOf(actor));
  }

  /** A credential's models, cached a few minutes (for `/v1/models`); none when the provider fails. */
  async cachedModels(row: UsableCredential): Promise<ModelInfo[]> {
    const key = `${row.id}:${row.version}`;
    const cached = this.#modelLists.get(key);
    if (cached && cached.expiresAt > Date.now()) return cached.models;
    const call = this.#secrets.callWith(row, providerOf(this.#providers, row.provider));
    const result = await listModels(call, this.#upstream);
    const models = result.ok ? result.models : [];
    const ttl = result.ok ? MODEL_LIST_TTL_MS : FAILED_MODEL_LIST_TTL_MS;
    this.#modelLists.set(key, { models, expiresAt: Date.now() + ttl });
    return models;
  }

  close(): void {
    this.#unsubscribe();
  }

  async #cached(key: string, load: () => Promise<UsableCredential[]>): Promise<UsableCredential[]> {
    const cached = this.#resolutions.get(key);
    if (cached && cached.expiresAt > Date.now()) return cached.rows;
    let loading = this.#loading.get(key);
    if (!loading) {
      const generation = this.#generation;
      loading = load().finally(() => {
        if (this.#loading.get(key) === loading) this.#loading.delete(key);
      });
      this.#loading.set(key, loading);
      void loading.then(
        (rows) => {
          if (generation === this.#generation)
            this.#resolutions.set(key, { rows, expiresAt: Date.now() + RESOLUTION_TTL_MS });
        },
        () => {},
      );
    }
    return loading;
  }

  /** The target, when the caller may use this model on it; a model outside their grants is not found. */
  #target(credential: UsableCredential, model: string): ModelTarget {
    const grants = grantsFor(credential, model);
    if (!grants) throw modelNotFound(`${credential.name}/${model}`);
    return { credential, provider: providerOf(this.#providers, credential.provider), model, grants };
  }
}

/** Resolutions differ by user, API token and bot: grants may name any of them. */
const callerKey = (actor: Principal) =>
  `${actor.userId}\u0000${actor.tokenId ?? ''}\u0000${actor.botId ?? ''}`;

/** The same answer as for a model that does not exist at all: a grant's model list leaks nothing. */
export const modelNotFound = (name: string) =>
  new KeywayError('model_not_found', `The model "${name}" does not exist.`, { details: { param: 'model' } });
