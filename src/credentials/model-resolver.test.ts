import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Principal } from '../auth/principal.ts';
import { createLocalChangeFeed, type ChangeFeed } from '../db/change-feed.ts';
import { KeywayError } from '../errors.ts';
import type { ProviderCall, ProviderDefinition } from '../providers/provider.ts';
import { createDefaultRegistry } from '../providers/registry.ts';
import type { UpstreamClient } from '../providers/upstream-client.ts';
import { PUBLIC_ONLY } from '../providers/upstream-url-guard.ts';
import type { CredentialRecord, GrantTerms, Scope, UsableCredential } from './credentials.repository.ts';

/** What shared credentials meant before grants: one grant to everyone, no limit. */
const everyone: GrantTerms[] = [
  { id: 'g-everyone', subjectType: 'everyone', subjectId: null, models: null, limits: {}, expiresAt: null },
];
import { ModelResolver } from './model-resolver.ts';

const alice: Principal = { userId: 'alice', username: 'alice', role: 'member', via: 'token' };
const bob: Principal = { userId: 'bob', username: 'bob', role: 'member', via: 'token' };
let nextId = 0;

function credential(name: string, provider: string, ownerId: string | null): UsableCredential {
  const at = new Date('2026-01-01T00:00:00Z');
  return {
    id: `00000000-0000-4000-8000-${String(++nextId).padStart(12, '0')}`,
    ownerId,
    ownerIsAdmin: ownerId === null,
    provider,
    name,
    settings: {},
    prices: {},
    secretKeyId: null,
    secretNonce: null,
    secretCiphertext: null,
    fingerprint: null,
    hint: '(no key)',
    status: 'unchecked',
    statusMessage: null,
    lastCheckedAt: null,
    lastUsedAt: null,
    version: 1,
    createdAt: at,
    updatedAt: at,
    access: { direct: true, grants: [] },
  };
}

/** The repository's reads, over an array, with the same visibility rule and a count of queries. */
class FakeCredentials {
  rows: UsableCredential[] = [];
  queries = 0;
  #visible = (scope: Scope) =>
    this.rows
      .filter((row) => row.ownerId === null || row.ownerId === scope.userId)
      .map((row) => ({ ...row, access: { direct: row.ownerId === scope.userId, grants: everyone } }));

  async findByNameOrProvider(scope: Scope, name: string) {
    this.queries++;
    return this.#visible(scope).filter(
      (row) => row.name.toLowerCase() === name.toLowerCase() || row.provider === name,
    );
  }
  async findVisible(scope: Scope, id: string) {
    this.queries++;
    return this.#visible(scope).find((row) => row.id === id);
  }
  async listVisible(scope: Scope) {
    this.queries++;
    return this.#visible(scope);
  }
}

/** An OpenAI-style `/models` endpoint that answers `status`, counting the calls. */
class FakeUpstream implements Pick<UpstreamClient, 'request'> {
  calls = 0;
  status = 200;
  readonly #body: string;

  constructor(models: string[]) {
    this.#body = JSON.stringify({ data: models.map((id) => ({ id })) });
  }

  async request() {
    this.calls++;
    const status = this.status;
    const text = status === 200 ? this.#body : '{"error":{"message":"down"}}';
    return {
      status,
      headers: { 'content-type': 'application/json' },
      text: async () => text,
      json: async () => JSON.parse(text) as unknown,
    };
  }
}

const secrets = {
  callWith: (row: CredentialRecord, provider: ProviderDefinition): ProviderCall => ({
    provider,
    secret: 'sk-test-0000000000',
    settings: row.settings,
    policy: PUBLIC_ONLY,
  }),
};

describe('ModelResolver', () => {
  let repository: FakeCredentials;
  let changes: ChangeFeed;
  let upstream: FakeUpstream;
  let resolver: ModelResolver;

  beforeEach(() => {
    repository = new FakeCredentials();
    changes = createLocalChangeFeed();
    upstream = new FakeUpstream(['gpt-4o', 'gpt-4o-mini']);
    resolver = new ModelResolver({
      repository,
      providers: createDefaultRegistry(),
      secrets,
      upstream,
      changes,
    });
  });
  afterEach(() => {
    resolver.close();
    vi.useRealTimers();
  });

  const resolve = (modelName: string, actor = alice) =>
    resolver.resolveModel(actor, modelName).then(
      (target) => `${target.credential.name}→${target.model}`,
      (error: KeywayError) => error.code,
    );

  describe('naming rules', () => {
    it('reaches a credential by its name, case-insensitively, before any provider of that name', async () => {
      repository.rows = [credential('work', 'openai', 'alice'), credential('openai', 'anthropic', 'alice')];
      expect(await resolve('Work/gpt-4o')).toBe('work→gpt-4o');
      expect((await resolver.resolveModel(alice, 'openai/claude-x')).provider.id).toBe('anthropic');
    });

    it('splits at the first slash: the rest is the provider’s model id, slashes and all', async () => {
      repository.rows = [credential('router', 'openai', 'alice')];
      expect(await resolve('router/meta-llama/llama-3-70b')).toBe('router→meta-llama/llama-3-70b');
    });

    it('refuses a name without a prefix or without a model', async () => {
      repository.rows = [credential('work', 'openai', 'alice')];
      for (const name of ['gpt-4o', '/gpt-4o', 'work/', ''])
        expect([name, await resolve(name)]).toEqual([name, 'model_not_found']);
      expect(repository.queries).toBe(0);
    });

    it('prefers the caller’s own credential of a name over a shared one of the same name', async () => {
      repository.rows = [credential('team', 'openai', null), credential('team', 'openai', 'alice')];
      const target = await resolver.resolveModel(alice, 'team/gpt-4o');
      expect(target.credential.ownerId).toBe('alice');
      expect((await resolver.resolveModel(bob, 'team/gpt-4o')).credential.ownerId).toBeNull();
    });

    it('by provider: the caller’s own credential before a shared one', async () => {
      repository.rows = [credential('shared-openai', 'openai', null), credential('mine', 'openai', 'alice')];
      expect(await resolve('openai/gpt-4o')).toBe('mine→gpt-4o');
      expect(await resolve('openai/gpt-4o', bob)).toBe('shared-openai→gpt-4o');
    });

    it('by provider: two own credentials are ambiguous, and the error names them', async () => {
      repository.rows = [
        credential('one', 'openai', 'alice'),
        credential('two', 'openai', 'alice'),
        credential('shared', 'openai', null),
      ];
      const error = await resolver.resolveModel(alice, 'openai/gpt-4o').catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(KeywayError);
      expect((error as KeywayError).code).toBe('ambiguous_model');
      expect((error as KeywayError).details).toEqual({ candidates: ['one', 'two'] });
    });

    it('by provider: two shared credentials and none of one’s own are ambiguous too', async () => {
      repository.rows = [credential('a', 'openai', null), credential('b', 'openai', null)];
      expect(await resolve('openai/gpt-4o')).toBe('ambiguous_model');
    });

    it('says whether the prefix is a provider the caller has no credential for, or nothing at all', async () => {
      repository.rows = [credential('theirs', 'openai', 'bob')];
      const messages = await Promise.all(
        ['openai/gpt-4o', 'nowhere/gpt-4o'].map((name) =>
          resolver.resolveModel(alice, name).catch((error: KeywayError) => [error.code, error.message]),
        ),
      );
      expect(messages).toEqual([
        ['model_not_found', 'You have no credential for openai; add one first.'],
        ['model_not_found', 'No credential or provider is named "nowhere".'],
      ]);
    });

    it('by id: a credential the caller may use, else not_found', async () => {
      const mine = credential('mine', 'openai', 'alice');
      repository.rows = [mine];
      expect((await resolver.resolveById(alice, mine.id, 'gpt-4o')).credential.name).toBe('mine');
      await expect(resolver.resolveById(bob, mine.id, 'gpt-4o')).rejects.toMatchObject({ code: 'not_found' });
      await expect(resolver.resolveById(bob, 'not-a-uuid', 'gpt-4o')).rejects.toMatchObject({
        code: 'not_found',
      });
    });
  });

  describe('resolution cache', () => {
    it('answers a warm name without asking the repository again, per caller', async () => {
      repository.rows = [credential('work', 'openai', 'alice'), credential('team', 'openai', null)];
      await resolve('work/a');
      await resolve('WORK/b');
      expect(repository.queries).toBe(1);
      await resolve('team/a', bob);
      expect(repository.queries).toBe(2);
    });

    it('shares one query among requests that miss at once, and caches nothing a notice made stale meanwhile', async () => {
      repository.rows = [credential('work', 'openai', 'alice')];
      const answers = await Promise.all(Array.from({ length: 50 }, () => resolve('work/gpt-4o')));
      expect(new Set(answers)).toEqual(new Set(['work→gpt-4o']));
      expect(repository.queries).toBe(1);

      // A notice while a load is under way: its answer is not cached, the next request asks again.
      repository.rows = [credential('team', 'openai', 'alice')];
      const during = resolve('team/gpt-4o', alice);
      await changes.publish('credential:any-id');
      await during;
      const before = repository.queries;
      await resolve('team/gpt-4o', alice);
      expect(repository.queries).toBe(before + 1);
    });

    it.each(['credential:any-id', 'user:alice', '*'])('drops every resolution on %s', async (topic) => {
      const old = credential('work', 'openai', 'alice');
      repository.rows = [old];
      await resolve('work/gpt-4o');
      await resolver.resolveById(alice, old.id, 'gpt-4o');
      // Renamed elsewhere: the cached answer is stale until the change notice arrives.
      repository.rows = [{ ...old, name: 'renamed' }];
      expect(await resolve('work/gpt-4o')).toBe('work→gpt-4o');
      await changes.publish(topic);
      expect(await resolve('work/gpt-4o')).toBe('model_not_found');
      expect((await resolver.resolveById(alice, old.id, 'gpt-4o')).credential.name).toBe('renamed');
    });

    it.each(['bot:any-id', 'token:any-id'])('keeps resolutions on %s', async (topic) => {
      repository.rows = [credential('work', 'openai', 'alice')];
      await resolve('work/gpt-4o');
      await changes.publish(topic);
      await resolve('work/gpt-4o');
      expect(repository.queries).toBe(1);
    });

    it('expires a resolution after a minute even without a notice', async () => {
      vi.useFakeTimers();
      repository.rows = [credential('work', 'openai', 'alice')];
      await resolve('work/gpt-4o');
      vi.advanceTimersByTime(59_000);
      await resolve('work/gpt-4o');
      expect(repository.queries).toBe(1);
      vi.advanceTimersByTime(2_000);
      await resolve('work/gpt-4o');
      expect(repository.queries).toBe(2);
    });

    it('stops listening once closed', async () => {
      repository.rows = [credential('work', 'openai', 'alice')];
      await resolve('work/gpt-4o');
      resolver.close();
      await changes.publish('*');
      await resolve('work/gpt-4o');
      expect(repository.queries).toBe(1);
    });
  });

  describe('cachedModels', () => {
    it('lists once per credential version', async () => {
      const row = credential('work', 'openai', 'alice');
      expect((await resolver.cachedModels(row)).map((model) => model.id)).toEqual(['gpt-4o', 'gpt-4o-mini']);
      await resolver.cachedModels(row);
      expect(upstream.calls).toBe(1);
      await resolver.cachedModels({ ...row, version: 2 });
      expect(upstream.calls).toBe(2);
    });

    it('remembers a failure as no models, and asks again sooner than after a success', async () => {
      vi.useFakeTimers();
      const row = credential('work', 'openai', 'alice');
      upstream.status = 503;
      expect(await resolver.cachedModels(row)).toEqual([]);
      vi.advanceTimersByTime(29_000);
      await resolver.cachedModels(row);
      expect(upstream.calls).toBe(1);
      upstream.status = 200;
      vi.advanceTimersByTime(2_000);
      expect(await resolver.cachedModels(row)).toHaveLength(2);
      vi.advanceTimersByTime(299_000);
      await resolver.cachedModels(row);
      expect(upstream.calls).toBe(2);
    });
  });
});
