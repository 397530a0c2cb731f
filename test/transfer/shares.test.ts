import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BACKENDS } from '../support/test-database.ts';
import { createTestKeyway, type TestKeyway } from '../support/test-keyway.ts';
import { seedConversation, type SeedMessage } from './seed.ts';

const hostile = '<script>alert("pwned")</script><img src=x onerror=alert(1)>';

const messages: SeedMessage[] = [
  { key: 'q1', parent: null, role: 'user', content: 'First draft of the question' },
  { key: 'a1', parent: 'q1', role: 'assistant', content: 'An answer to the draft' },
  { key: 'q1b', parent: null, role: 'user', content: `Edited question ${hostile}` },
  { key: 'a1b', parent: 'q1b', role: 'assistant', content: 'Answer & "quotes" \'single\' </div>' },
];

describe.each(BACKENDS)('share links [%s]', (backend) => {
  let harness: TestKeyway;
  let alice: { id: string; token: string };
  let bob: { id: string; token: string };
  let conversationId: string;

  beforeEach(async () => {
    harness = await createTestKeyway(backend);
    alice = await harness.user('alice');
    bob = await harness.user('bob');
    conversationId = (
      await seedConversation(harness.database.db, alice.id, {
        title: `Shared ${hostile}`,
        messages,
        currentLeaf: 'a1b',
      })
    ).id;
  });
  afterEach(() => harness.close());

  const share = async (body: unknown = {}, token = alice.token, id = conversationId) =>
    harness.call('POST', `/api/conversations/${id}/shares`, { token, body });
  /** The page as a browser asks for it: no credentials at all. */
  const open = (url: string) => harness.call('GET', url, { headers: { accept: 'text/html' } });

  it('shows the branch on show to anyone with the link, inert, unindexed, uncached', async () => {
    const created = await share();
    expect(created.status).toBe(201);
    expect(created.body.url).toMatch(/^\/s\/[A-Za-z0-9_-]{43}$/);
    expect(created.body.title).toBe(`Shared ${hostile}`);
    expect(created.body.expiresAt).toBeNull();
    const token = created.body.url.slice(3);

    const page = await open(created.body.url);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.text).toContain('Edited question &#60;script&#62;alert(&#34;pwned&#34;)&#60;/script&#62;');
    expect(page.text).toContain('Answer &#38; &#34;quotes&#34; &#39;single&#39; &#60;/div&#62;');
    expect(page.text).not.toContain('<script');
    expect(page.text).not.toContain('<img');
    // Only the branch on show.
    expect(page.text).not.toContain('First draft');
    expect(page.text).not.toContain('An answer to the draft');
    expect(page.text).toContain('<meta name="robots" content="noindex, nofollow">');
    expect(page.headers.get('x-robots-tag')).toContain('noindex');
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');
    expect(page.headers.get('cache-control')).toBe('no-store');
    const csp = page.headers.get('content-security-policy')!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toContain('script-src');
    expect(csp).not.toContain('unsafe-inline');

    const json = await harness.call('GET', `/api/shared/${token}`);
    expect(json.status).toBe(200);
    expect(json.body.title).toBe(`Shared ${hostile}`);
    expect(json.body.messages.map((m: { role: string; content: string }) => [m.role, m.content])).toEqual([
      ['user', `Edited question ${hostile}`],
      ['assistant', 'Answer & "quotes" \'single\' </div>'],
    ]);

    // Only the token's hash is stored.
    const rows = await harness.database.db.selectFrom('chat_shares').selectAll().execute();
    expect(rows).toHaveLength(1);
    expect(JSON.stringify(rows)).not.toContain(token);
  });

  it('lists your links, and a revoked, expired or unknown link is the same 404 page', async () => {
    const first = await share();
    const second = await share({ expiresAt: new Date(Date.now() + 3_600_000).toISOString() });
    expect(second.body.expiresAt).not.toBeNull();
    const list = await harness.call('GET', '/api/shares', { token: alice.token });
    expect(list.body.map((s: { id: string }) => s.id).sort()).toEqual([first.body.id, second.body.id].sort());
    expect(JSON.stringify(list.body)).not.toContain(first.body.url.slice(3));
    expect((await harness.call('GET', '/api/shares', { token: bob.token })).body).toEqual([]);

    expect(
      (await harness.call('DELETE', `/api/shares/${first.body.id}`, { token: alice.token })).status,
    ).toBe(204);
    const revoked = await open(first.body.url);
    expect(revoked.status).toBe(404);
    expect(revoked.text).toContain('This link is not available');
    expect(revoked.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect((await harness.call('GET', `/api/shared/${first.body.url.slice(3)}`)).status).toBe(404);

    // The clock passes the expiry (moved in the database rather than waited for).
    expect((await open(second.body.url)).status).toBe(200);
    await harness.database.db
      .updateTable('chat_shares')
      .set({ expires_at: new Date(Date.now() - 1000) })
      .where('id', '=', second.body.id)
      .execute();
    expect((await open(second.body.url)).status).toBe(404);

    for (const url of ['/s/not-a-token', `/s/${'A'.repeat(43)}`, '/s/', '/s/a/b']) {
      const unknown = await open(url);
      expect(unknown.status, url).toBe(404);
      expect(unknown.text, url).toContain('This link is not available');
    }
    expect((await share({ expiresAt: '2020-01-01T00:00:00Z' })).body.error.code).toBe('validation_failed');
  });

  it("keeps everyone to their own: another user's conversation and links are not found", async () => {
    expect((await share({}, bob.token)).status).toBe(404);
    expect((await share({}, alice.token, '00000000-0000-4000-8000-000000000000')).status).toBe(404);
    expect((await share({}, alice.token, 'not-a-uuid')).status).toBe(404);
    const mine = await share();
    expect((await harness.call('DELETE', `/api/shares/${mine.body.id}`, { token: bob.token })).status).toBe(
      404,
    );
    expect((await open(mine.body.url)).status).toBe(200);
    expect(
      (await harness.call('POST', `/api/conversations/${conversationId}/shares`, { body: {} })).status,
    ).toBe(401);
  });

  it('ends every link to a conversation when the conversation is deleted', async () => {
    const created = await share();
    expect((await open(created.body.url)).status).toBe(200);
    const deleted = await harness.call('DELETE', `/api/conversations/${conversationId}`, {
      token: alice.token,
    });
    expect(deleted.status).toBe(204);
    expect((await open(created.body.url)).status).toBe(404);
    expect((await harness.call('GET', '/api/shares', { token: alice.token })).body).toEqual([]);
  });
});
