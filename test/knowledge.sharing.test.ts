import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startFakeOpenAiExtras, type FakeOpenAiExtras } from './fakes/fake-openai-extras.ts';
import { BACKENDS } from './support/test-database.ts';
import { createTestKeyway, type TestKeyway } from './support/test-keyway.ts';

const MODEL = 'work/text-embedding-3-small';
const log = pino({ level: 'silent' });

describe.each(BACKENDS)('knowledge bases shared through teams [%s]', (backend) => {
  const key = `sk-canary-${randomBytes(16).toString('hex')}`;
  let fake: FakeOpenAiExtras;
  let harness: TestKeyway;
  let root: { id: string; token: string };
  let alice: { id: string; token: string };
  let bob: { id: string; token: string };
  let carol: { id: string; token: string };
  let team: string;
  let otherTeam: string;

  beforeAll(async () => {
    fake = await startFakeOpenAiExtras({ validKeys: [key], defaultDimensions: 16 });
    harness = await createTestKeyway(backend);
    root = await harness.user('root', 'admin');
    alice = await harness.user('alice');
    bob = await harness.user('bob');
    carol = await harness.user('carol');
    const credential = await harness.call('POST', '/api/credentials', {
      token: alice.token,
      body: { name: 'work', provider: 'openai', secret: key, settings: { baseUrl: fake.url } },
    });
    expect(credential.status).toBe(201);
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
    otherTeam = await makeTeam('finance', [carol.id]);
  });
  afterAll(async () => {
    await harness?.close();
    await fake?.close();
  });

  async function knowledgeBaseWithFile(name: string): Promise<{ kbId: string; fileId: string }> {
    const created = await harness.call('POST', '/api/knowledge', {
      token: alice.token,
      body: { name, embeddingModel: MODEL },
    });
    expect(created.status, created.text).toBe(201);
    const form = new FormData();
    form.set('file', new Blob(['# Returns\n\nReturns are accepted within 30 days.']), 'policy.md');
    const uploaded = await harness.keyway.app.request('/api/files', {
      method: 'POST',
      headers: { authorization: `Bearer ${alice.token}` },
      body: form,
    });
    const fileId = ((await uploaded.json()) as { id: string }).id;
    const added = await harness.call('POST', `/api/knowledge/${created.body.id}/files`, {
      token: alice.token,
      body: { fileId },
    });
    expect(added.status).toBe(201);
    return { kbId: created.body.id, fileId };
  }

  it("a team's members read a shared knowledge base; only its owner changes it; others never see it", async () => {
    const { kbId, fileId } = await knowledgeBaseWithFile('Support answers');
    const before = await harness.call('GET', '/api/knowledge', { token: bob.token });
    expect(before.body.map((base: { id: string }) => base.id)).not.toContain(kbId);
    expect((await harness.call('GET', `/api/knowledge/${kbId}`, { token: bob.token })).status).toBe(404);

    // Alice may not share with a team she is not in; an unknown team is not found either.
    for (const teamIds of [[otherTeam], ['00000000-0000-4000-8000-000000000000'], ['nope']]) {
      const refused = await harness.call('PUT', `/api/knowledge/${kbId}/teams`, {
        token: alice.token,
        body: { teamIds },
      });
      expect(refused.status).toBe(404);
      expect(refused.body.error.details).toEqual({ field: 'teamIds' });
    }
    const shared = await harness.call('PUT', `/api/knowledge/${kbId}/teams`, {
      token: alice.token,
      body: { teamIds: [team, team] },
    });
    expect(shared.status, shared.text).toBe(200);
    expect(shared.body).toMatchObject({ access: 'owner', teams: [{ id: team, name: 'support' }] });

    // Bob reads it (list, one, its files with their status) as a team reader.
    const listed = await harness.call('GET', '/api/knowledge', { token: bob.token });
    expect(listed.body.find((base: { id: string }) => base.id === kbId)).toMatchObject({
      name: 'Support answers',
      access: 'team',
      owner: { id: alice.id, username: 'alice' },
      teams: [{ id: team, name: 'support' }],
    });
    const files = await harness.call('GET', `/api/knowledge/${kbId}/files`, { token: bob.token });
    expect(files.body.map((file: { fileId: string }) => file.fileId)).toEqual([fileId]);

    // …but changes nothing: 403 naming the owner, and nothing changed.
    const bobsFile = await harness.keyway.app.request('/api/files', {
      method: 'POST',
      headers: { authorization: `Bearer ${bob.token}` },
      body: (() => {
        const form = new FormData();
        form.set('file', new Blob(['bob']), 'bob.txt');
        return form;
      })(),
    });
    const bobsFileId = ((await bobsFile.json()) as { id: string }).id;
    const attempts = [
      harness.call('PATCH', `/api/knowledge/${kbId}`, { token: bob.token, body: { name: 'Mine now' } }),
      harness.call('DELETE', `/api/knowledge/${kbId}`, { token: bob.token }),
      harness.call('POST', `/api/knowledge/${kbId}/files`, {
        token: bob.token,
        body: { fileId: bobsFileId },
      }),
      harness.call('DELETE', `/api/knowledge/${kbId}/files/${fileId}`, { token: bob.token }),
      harness.call('PUT', `/api/knowledge/${kbId}/teams`, { token: bob.token, body: { teamIds: [] } }),
    ];
    for (const attempt of await Promise.all(attempts)) {
      expect(attempt.status).toBe(403);
      expect(attempt.body.error.message).toMatch(/shared with you by alice/);
    }
    expect((await harness.call('GET', `/api/knowledge/${kbId}`, { token: alice.token })).body).toMatchObject({
      name: 'Support answers',
      fileCount: 1,
    });
    // Bob's own file is not Alice's to read because of the share.
    expect((await harness.call('GET', `/api/files/${fileId}`, { token: bob.token })).status).toBe(404);

    // Carol is in another team: not found anywhere, as if it did not exist; so is the admin.
    for (const token of [carol.token, root.token]) {
      expect((await harness.call('GET', `/api/knowledge/${kbId}`, { token })).status).toBe(404);
      expect((await harness.call('GET', `/api/knowledge/${kbId}/files`, { token })).status).toBe(404);
      const list = await harness.call('GET', '/api/knowledge', { token });
      expect(list.body.map((base: { id: string }) => base.id)).not.toContain(kbId);
    }

    // Leaving the team ends the access at once; so does unsharing.
    expect(
      (await harness.call('DELETE', `/api/teams/${team}/members/${bob.id}`, { token: root.token })).status,
    ).toBe(204);
    expect((await harness.call('GET', `/api/knowledge/${kbId}`, { token: bob.token })).status).toBe(404);
    await harness.call('PUT', `/api/teams/${team}/members/${bob.id}`, {
      token: root.token,
      body: { role: 'member' },
    });
    expect((await harness.call('GET', `/api/knowledge/${kbId}`, { token: bob.token })).status).toBe(200);
    const unshared = await harness.call('PUT', `/api/knowledge/${kbId}/teams`, {
      token: alice.token,
      body: { teamIds: [] },
    });
    expect(unshared.body.teams).toEqual([]);
    expect((await harness.call('GET', `/api/knowledge/${kbId}`, { token: bob.token })).status).toBe(404);
  });

  it('a reader sees only the teams they read it through; an admin may share with any team', async () => {
    const { kbId } = await knowledgeBaseWithFile('Two teams');
    await harness.call('PUT', `/api/teams/${otherTeam}/members/${alice.id}`, {
      token: root.token,
      body: { role: 'member' },
    });
    const shared = await harness.call('PUT', `/api/knowledge/${kbId}/teams`, {
      token: alice.token,
      body: { teamIds: [team, otherTeam] },
    });
    expect(shared.body.teams.map((t: { name: string }) => t.name)).toEqual(['finance', 'support']);
    expect((await harness.call('GET', `/api/knowledge/${kbId}`, { token: carol.token })).body.teams).toEqual([
      { id: otherTeam, name: 'finance' },
    ]);
    expect((await harness.call('GET', `/api/knowledge/${kbId}`, { token: bob.token })).body.teams).toEqual([
      { id: team, name: 'support' },
    ]);

    // The admin is in neither team, and shares a knowledge base of their own with one.
    await harness.call('POST', '/api/credentials', {
      token: root.token,
      body: { name: 'work', provider: 'openai', secret: key, settings: { baseUrl: fake.url } },
    });
    const own = await harness.call('POST', '/api/knowledge', {
      token: root.token,
      body: { name: 'Company handbook', embeddingModel: MODEL },
    });
    expect(own.status, own.text).toBe(201);
    const byAdmin = await harness.call('PUT', `/api/knowledge/${own.body.id}/teams`, {
      token: root.token,
      body: { teamIds: [otherTeam] },
    });
    expect(byAdmin.status).toBe(200);
    expect((await harness.call('GET', `/api/knowledge/${own.body.id}`, { token: carol.token })).status).toBe(
      200,
    );
  });

  it("a team reader's question searches the shared knowledge base, embedded with the owner's model; the passage opens for them only", async () => {
    const { kbId, fileId } = await knowledgeBaseWithFile('Returns policy');
    await vi.waitFor(
      async () => {
        const files = await harness.call('GET', `/api/knowledge/${kbId}/files`, { token: alice.token });
        expect(files.body[0]).toMatchObject({ fileId, status: 'ready' });
      },
      { timeout: 20_000, interval: 50 },
    );
    await harness.call('PUT', `/api/knowledge/${kbId}/teams`, {
      token: alice.token,
      body: { teamIds: [team] },
    });
    const asBob = { userId: bob.id, username: 'bob', role: 'member' as const, via: 'session' as const };
    const request = {
      knowledgeBaseIds: [kbId],
      fileIds: [],
      question: 'Within how many days are returns accepted?',
      tokenBudget: 2000,
    };
    fake.requests.length = 0;
    // Bob has no credential at all: the question is embedded through Alice's `work`, the chunks' model.
    const grounding = await harness.keyway.services.grounder.ground(asBob, request, { log });
    expect(grounding.context).toContain('Returns are accepted within 30 days.');
    expect(grounding.citations[0]).toMatchObject({ knowledgeBaseId: kbId, fileName: 'policy.md' });
    expect(fake.requests.filter((r) => r.endpoint === 'embeddings').map((r) => r.json!['input'])).toEqual([
      [request.question],
    ]);
    const passage = `/api/knowledge/passages/${grounding.citations[0]!.passageId}`;
    expect((await harness.call('GET', passage, { token: bob.token })).status).toBe(200);
    expect((await harness.call('GET', passage, { token: carol.token })).status).toBe(404);

    // Unshared: not found for Bob, in search as in passages.
    await harness.call('PUT', `/api/knowledge/${kbId}/teams`, { token: alice.token, body: { teamIds: [] } });
    await expect(harness.keyway.services.grounder.ground(asBob, request, { log })).rejects.toMatchObject({
      code: 'not_found',
    });
    expect((await harness.call('GET', passage, { token: bob.token })).status).toBe(404);
  });
});
