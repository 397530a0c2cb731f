import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOpenAiChat, type FakeOpenAiChat } from '../fakes/fake-openai-chat.ts';
import { BACKENDS } from '../support/test-database.ts';
import { createTestKeyway, type TestKeyway } from '../support/test-keyway.ts';

type User = { id: string; token: string };

/** Presets, assistants and prompts through the API: CRUD, team sharing, and isolation between users. */
describe.each(BACKENDS)('the library: presets, assistants, prompts [%s]', (backend) => {
  const key = `sk-canary-${randomBytes(16).toString('hex')}`;
  let chat: FakeOpenAiChat;
  let harness: TestKeyway;
  let root: User;
  let alice: User;
  let bob: User;
  let carol: User;
  let team: string;
  let carolsTeam: string;

  beforeAll(async () => {
    chat = await startFakeOpenAiChat({ validKeys: [key] });
    harness = await createTestKeyway(backend, { env: { KEYWAY_UPSTREAM_RETRIES: '0' } });
    root = await harness.user('root', 'admin');
    alice = await harness.user('alice');
    bob = await harness.user('bob');
    carol = await harness.user('carol');
    for (const user of [alice, bob]) {
      const created = await harness.call('POST', '/api/credentials', {
        token: user.token,
        body: { name: 'work', provider: 'openai', secret: key, settings: { baseUrl: chat.url } },
      });
      expect(created.status, created.text).toBe(201);
    }
    const makeTeam = async (name: string, members: string[]) => {
      const created = await harness.call('POST', '/api/teams', { token: root.token, body: { name } });
      expect(created.status, created.text).toBe(201);
      for (const userId of members) {
        const added = await harness.call('PUT', `/api/teams/${created.body.id}/members/${userId}`, {
          token: root.token,
          body: { role: 'member' },
        });
        expect(added.status, added.text).toBe(200);
      }
      return created.body.id as string;
    };
    team = await makeTeam('support', [alice.id, bob.id]);
    carolsTeam = await makeTeam('finance', [carol.id]);
  });
  afterAll(async () => {
    await harness?.close();
    await chat?.close();
  });

  const call = (method: string, path: string, user: User, body?: unknown) =>
    harness.call(method, path, { token: user.token, ...(body !== undefined ? { body } : {}) });

  describe('presets', () => {
    it('saves, lists, changes and deletes a preset; null settings are the defaults', async () => {
      const created = await call('POST', '/api/presets', alice, {
        name: 'Careful',
        model: 'work/gpt-4o-mini',
        settings: { systemPrompt: 'Think twice.', temperature: 0.2 },
      });
      expect(created.status, created.text).toBe(201);
      expect(created.body).toMatchObject({
        name: 'Careful',
        model: 'work/gpt-4o-mini',
        settings: {
          systemPrompt: 'Think twice.',
          temperature: 0.2,
          maxTokens: null,
          contextMessages: null,
          contextTokens: null,
        },
        teamIds: [],
        owner: { id: alice.id, name: 'alice' },
        mine: true,
      });
      const id = created.body.id as string;

      const changed = await call('PATCH', `/api/presets/${id}`, alice, {
        settings: { temperature: null, contextMessages: 6 },
      });
      expect(changed.status, changed.text).toBe(200);
      expect(changed.body.settings).toEqual({
        systemPrompt: 'Think twice.',
        temperature: null,
        maxTokens: null,
        contextMessages: 6,
        contextTokens: null,
      });
      const listed = await call('GET', '/api/presets', alice);
      expect(listed.body.map((preset: { id: string }) => preset.id)).toContain(id);

      expect((await call('DELETE', `/api/presets/${id}`, alice)).status).toBe(204);
      expect((await call('GET', `/api/presets/${id}`, alice)).status).toBe(404);
    });

    it('refuses a model its owner cannot use, and out-of-range settings', async () => {
      const unknown = await call('POST', '/api/presets', alice, { name: 'x', model: 'nowhere/gpt-9' });
      expect(unknown.status).toBeGreaterThanOrEqual(400);
      expect(unknown.status).toBeLessThan(500);
      expect(
        (await call('POST', '/api/presets', carol, { name: 'x', model: 'work/gpt-4o-mini' })).body.error.code,
      ).toBe('no_credentials');
      const hot = await call('POST', '/api/presets', alice, { name: 'x', settings: { temperature: 7 } });
      expect(hot.status).toBe(400);
      expect(hot.body.error.code).toBe('validation_failed');
    });

    it('a team member uses a shared preset but cannot change it; leaving the team ends it', async () => {
      const created = await call('POST', '/api/presets', alice, {
        name: 'Team voice',
        settings: { temperature: 0.5 },
      });
      const id = created.body.id as string;
      // Only with teams the owner is in.
      const elsewhere = await call('PUT', `/api/presets/${id}/teams`, alice, { teamIds: [carolsTeam] });
      expect(elsewhere.status).toBe(404);
      const shared = await call('PUT', `/api/presets/${id}/teams`, alice, { teamIds: [team] });
      expect(shared.status, shared.text).toBe(200);
      expect(shared.body.teamIds).toEqual([team]);

      const seen = await call('GET', `/api/presets/${id}`, bob);
      expect(seen.status).toBe(200);
      expect(seen.body).toMatchObject({ mine: false, owner: { name: 'alice' }, teamIds: [team] });
      expect(
        (await call('GET', '/api/presets', bob)).body.map((preset: { id: string }) => preset.id),
      ).toContain(id);
      for (const [method, path, body] of [
        ['PATCH', `/api/presets/${id}`, { name: 'Mine now' }],
        ['PUT', `/api/presets/${id}/teams`, { teamIds: [] }],
        ['DELETE', `/api/presets/${id}`, undefined],
      ] as const) {
        const refused = await call(method, path, bob, body);
        expect(refused.status, `${method} ${path}`).toBe(403);
        expect(refused.body.error.code).toBe('forbidden');
      }
      expect((await call('GET', `/api/presets/${id}`, alice)).body.name).toBe('Team voice');

      expect(
        (await harness.call('DELETE', `/api/teams/${team}/members/${bob.id}`, { token: root.token })).status,
      ).toBe(204);
      try {
        expect((await call('GET', `/api/presets/${id}`, bob)).status).toBe(404);
        expect(
          (await call('GET', '/api/presets', bob)).body.map((preset: { id: string }) => preset.id),
        ).not.toContain(id);
      } finally {
        await harness.call('PUT', `/api/teams/${team}/members/${bob.id}`, {
          token: root.token,
          body: { role: 'member' },
        });
      }
    });
  });

  describe('assistants', () => {
    const assistant = (name: string, extra: Record<string, unknown> = {}) => ({
      name,
      model: 'work/gpt-4o-mini',
      description: 'Answers about returns.',
      instructions: 'You are the returns desk.',
      settings: { temperature: 0.3, maxTokens: 200 },
      starterPrompts: ['How do I return shoes?'],
      avatarColor: '#3366cc',
      ...extra,
    });

    it('creates, reads, changes and deletes an assistant', async () => {
      const created = await call('POST', '/api/assistants', alice, assistant('Returns'));
      expect(created.status, created.text).toBe(201);
      expect(created.body).toMatchObject({
        name: 'Returns',
        description: 'Answers about returns.',
        model: 'work/gpt-4o-mini',
        instructions: 'You are the returns desk.',
        settings: { temperature: 0.3, maxTokens: 200, contextMessages: null, contextTokens: null },
        starterPrompts: ['How do I return shoes?'],
        avatarColor: '#3366cc',
        knowledgeBaseIds: [],
        teamIds: [],
        owner: { id: alice.id, name: 'alice' },
        mine: true,
      });
      const id = created.body.id as string;
      const changed = await call('PATCH', `/api/assistants/${id}`, alice, {
        instructions: 'You are the refunds desk.',
        settings: { temperature: null },
        avatarColor: null,
      });
      expect(changed.status, changed.text).toBe(200);
      expect(changed.body).toMatchObject({
        instructions: 'You are the refunds desk.',
        settings: { temperature: null, maxTokens: 200 },
        avatarColor: null,
        description: 'Answers about returns.',
      });
      expect((await call('DELETE', `/api/assistants/${id}`, alice)).status).toBe(204);
      expect((await call('GET', `/api/assistants/${id}`, alice)).status).toBe(404);
    });

    it('keeps names unique per owner in any case, but two users may use the same name', async () => {
      const first = await call('POST', '/api/assistants', alice, assistant('Writer'));
      expect(first.status).toBe(201);
      const again = await call('POST', '/api/assistants', alice, assistant('WRITER'));
      expect(again.status).toBe(409);
      expect(again.body.error.code).toBe('name_taken');
      const other = await call('POST', '/api/assistants', alice, assistant('Editor'));
      const renamed = await call('PATCH', `/api/assistants/${other.body.id}`, alice, { name: 'writer' });
      expect(renamed.status).toBe(409);
      expect(renamed.body.error.code).toBe('name_taken');
      expect((await call('POST', '/api/assistants', bob, assistant('Writer'))).status).toBe(201);
    });

    it('refuses a model its owner cannot use, a bot or an assistant as its model, and knowledge bases it may not read', async () => {
      const unknown = await call(
        'POST',
        '/api/assistants',
        alice,
        assistant('A1', { model: 'nowhere/gpt-9' }),
      );
      expect(unknown.status).toBeGreaterThanOrEqual(400);
      expect(unknown.status).toBeLessThan(500);
      for (const model of ['bot:shop', 'assistant:Writer']) {
        const indirect = await call('POST', '/api/assistants', alice, assistant('A2', { model }));
        expect(indirect.status, model).toBe(400);
      }
      const noCredential = await call('POST', '/api/assistants', carol, assistant('A3'));
      expect(noCredential.body.error.code).toBe('no_credentials');
      for (const kb of [randomUUID(), 'not-an-id']) {
        const missing = await call(
          'POST',
          '/api/assistants',
          alice,
          assistant('A4', { knowledgeBaseIds: [kb] }),
        );
        expect(missing.status, kb).toBe(404);
        expect(missing.body.error.code).toBe('not_found');
      }
      const badColour = await call('POST', '/api/assistants', alice, assistant('A5', { avatarColor: 'red' }));
      expect(badColour.status).toBe(400);
      const slash = await call('POST', '/api/assistants', alice, assistant('a/b'));
      expect(slash.status).toBe(400);
    });

    it('a team member sees and uses a shared assistant but cannot change it', async () => {
      const created = await call('POST', '/api/assistants', alice, assistant('Team desk'));
      const id = created.body.id as string;
      expect(
        (await call('PUT', `/api/assistants/${id}/teams`, alice, { teamIds: [team, team] })).body.teamIds,
      ).toEqual([team]);
      const seen = await call('GET', `/api/assistants/${id}`, bob);
      expect(seen.status).toBe(200);
      expect(seen.body).toMatchObject({ mine: false, owner: { id: alice.id, name: 'alice' } });
      for (const [method, path, body] of [
        ['PATCH', `/api/assistants/${id}`, { instructions: 'Say yes to everything.' }],
        ['PUT', `/api/assistants/${id}/teams`, { teamIds: [] }],
        ['DELETE', `/api/assistants/${id}`, undefined],
      ] as const) {
        const refused = await call(method, path, bob, body);
        expect(refused.status, `${method} ${path}`).toBe(403);
        expect(refused.body.error.code).toBe('forbidden');
      }
      // Carol is in no team it is shared with.
      expect((await call('GET', `/api/assistants/${id}`, carol)).status).toBe(404);
      expect(
        (await call('GET', '/api/assistants', carol)).body.map((found: { id: string }) => found.id),
      ).not.toContain(id);
    });
  });

  describe('prompts', () => {
    it('saves prompts with their {{variables}} in order, once each', async () => {
      const created = await call('POST', '/api/prompts', alice, {
        name: 'Email',
        content:
          'Write to {{ recipient }} about {{topic}}; sign as {{sender.name}}. Again: {{topic}}. {{}} {{a{b}}',
      });
      expect(created.status, created.text).toBe(201);
      expect(created.body).toMatchObject({ name: 'Email', variables: ['recipient', 'topic', 'sender.name'] });
      const id = created.body.id as string;
      const changed = await call('PATCH', `/api/prompts/${id}`, alice, { content: 'Summarise {{text}}.' });
      expect(changed.body.variables).toEqual(['text']);
      expect(
        (await call('GET', '/api/prompts', alice)).body.map((prompt: { id: string }) => prompt.id),
      ).toContain(id);
      expect((await call('DELETE', `/api/prompts/${id}`, alice)).status).toBe(204);
      expect((await call('GET', `/api/prompts/${id}`, alice)).status).toBe(404);
    });

    it('refuses content past 100 KB and NUL characters, and answers a hostile prompt quickly', async () => {
      const big = await call('POST', '/api/prompts', alice, { name: 'Big', content: 'é'.repeat(60 * 1024) });
      expect(big.status).toBe(400);
      const nul = await call('POST', '/api/prompts', alice, { name: 'N\u0000', content: 'x' });
      expect(nul.status).toBe(400);
      expect(nul.body.error.code).toBe('invalid_text');
      // Unclosed placeholders all the way: one pass, no backtracking.
      const started = performance.now();
      const hostile = await call('POST', '/api/prompts', alice, {
        name: 'Braces',
        content: '{{a'.repeat(30_000),
      });
      expect(hostile.status, hostile.text).toBe(201);
      expect(hostile.body.variables).toEqual([]);
      expect(performance.now() - started).toBeLessThan(2_000);
    });
  });

  it('another user’s preset, assistant or prompt is 404 on every route, and stays unchanged', async () => {
    const preset = (await call('POST', '/api/presets', alice, { name: 'Private preset' })).body.id as string;
    const assistant = (
      await call('POST', '/api/assistants', alice, { name: 'Private desk', model: 'work/gpt-4o-mini' })
    ).body.id as string;
    const prompt = (
      await call('POST', '/api/prompts', alice, { name: 'Private prompt', content: 'Hi {{x}}' })
    ).body.id as string;
    const routes: [string, string, unknown][] = [
      ['GET', `/api/presets/${preset}`, undefined],
      ['PATCH', `/api/presets/${preset}`, { name: 'stolen' }],
      ['PUT', `/api/presets/${preset}/teams`, { teamIds: [team] }],
      ['DELETE', `/api/presets/${preset}`, undefined],
      ['GET', `/api/assistants/${assistant}`, undefined],
      ['PATCH', `/api/assistants/${assistant}`, { name: 'stolen' }],
      ['PUT', `/api/assistants/${assistant}/teams`, { teamIds: [team] }],
      ['DELETE', `/api/assistants/${assistant}`, undefined],
      ['GET', `/api/prompts/${prompt}`, undefined],
      ['PATCH', `/api/prompts/${prompt}`, { name: 'stolen' }],
      ['DELETE', `/api/prompts/${prompt}`, undefined],
    ];
    // Bob shares a team with alice (but nothing is shared), root is an admin: both get 404.
    for (const intruder of [bob, root])
      for (const [method, path, body] of routes) {
        const answer = await call(method, path, intruder, body);
        expect(answer.status, `${method} ${path}`).toBe(404);
        expect(answer.body.error.code).toBe('not_found');
      }
    for (const path of ['/api/presets', '/api/assistants', '/api/prompts']) {
      const listed = (await call('GET', path, bob)).body as { id: string }[];
      for (const id of [preset, assistant, prompt]) expect(listed.map((item) => item.id)).not.toContain(id);
    }
    expect((await call('GET', `/api/presets/${preset}`, alice)).body.name).toBe('Private preset');
    expect((await call('GET', `/api/assistants/${assistant}`, alice)).body.name).toBe('Private desk');
    expect((await call('GET', `/api/prompts/${prompt}`, alice)).body.name).toBe('Private prompt');
    for (const path of ['/api/presets/not-a-uuid', `/api/assistants/${randomUUID()}`, '/api/prompts/%00'])
      expect((await call('GET', path, alice)).status, path).toBe(404);
  });
});
