import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeKey } from '../../test/support/gateway-harness.ts';
import { BACKENDS } from '../../test/support/test-database.ts';
import { createTestKeyway, type TestKeyway } from '../../test/support/test-keyway.ts';

/**
 * Input no client should send, at every boundary: each gets a 4xx with a stable code, never a 500,
 * never a stack trace, and nothing is stored.
 */
describe.each(BACKENDS)('hostile input at the boundaries [%s]', (backend) => {
  let harness: TestKeyway;
  let admin: { id: string; token: string };
  let member: { id: string; token: string };
  let conversationId: string;

  beforeAll(async () => {
    harness = await createTestKeyway(backend);
    admin = await harness.user('root', 'admin');
    member = await harness.user('mia');
    await harness.call('POST', '/api/credentials', {
      token: member.token,
      body: { name: 'work', provider: 'openai', secret: fakeKey() },
    });
    const conversation = await harness.call('POST', '/api/conversations', {
      token: member.token,
      body: { model: 'work/gpt-4o-mini' },
    });
    conversationId = conversation.body.id;
  });
  afterAll(async () => {
    await harness.close();
  });

  const expectRefused = (
    response: { status: number; text: string; body: any },
    code: string,
    what: string,
  ) => {
    expect(response.status, `${what}: ${response.text}`).toBeGreaterThanOrEqual(400);
    expect(response.status, what).toBeLessThan(500);
    expect(response.body?.error?.code, what).toBe(code);
    expect(response.text, what).not.toMatch(/at .+\.(ts|js):\d+|node_modules/);
  };

  it('refuses a NUL character in any name, secret, setting, title, prompt or query with 400 invalid_text', async () => {
    const nul = 'bad\u0000value';
    const cases: [string, string, string, unknown][] = [
      ['credential name', 'POST', '/api/credentials', { name: nul, provider: 'openai', secret: fakeKey() }],
      [
        'credential secret',
        'POST',
        '/api/credentials',
        { name: 'n1', provider: 'openai', secret: `sk-${nul}` },
      ],
      [
        'credential setting',
        'POST',
        '/api/credentials',
        { name: 'n2', provider: 'openai', secret: fakeKey(), settings: { organization: nul } },
      ],
      ['a key', 'POST', '/api/credentials', { name: 'n3', provider: 'openai', secret: fakeKey(), [nul]: 1 }],
      ['conversation title', 'POST', '/api/conversations', { model: 'work/gpt-4o-mini', title: nul }],
      ['conversation rename', 'PATCH', `/api/conversations/${conversationId}`, { title: nul }],
      ['message', 'POST', `/api/conversations/${conversationId}/messages`, { content: nul }],
      ['token name', 'POST', '/api/tokens', { name: nul }],
    ];
    for (const [what, method, path, body] of cases) {
      expectRefused(await harness.call(method, path, { token: member.token, body }), 'invalid_text', what);
    }
    expectRefused(
      await harness.call('POST', '/api/users', {
        token: admin.token,
        body: { username: 'x', password: `long enough ${nul}`, role: 'member' },
      }),
      'invalid_text',
      'password',
    );
    expectRefused(
      await harness.call('GET', '/api/conversations?q=a%00b', { token: member.token }),
      'invalid_text',
      'search',
    );
    const stored = await sql<{ n: number }>`SELECT count(*)::int AS n FROM credentials`.execute(
      harness.database.db,
    );
    expect(stored.rows[0]!.n).toBe(1);
  });

  it('refuses JSON nested 100,000 deep on /api and /v1', async () => {
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    const api = await harness.call('POST', '/api/credentials', {
      token: member.token,
      body: `{"name":"deep","provider":"openai","secret":"sk-x","settings":{"a":${deep}}}`,
    });
    expectRefused(api, 'json_too_deep', '/api');
    const v1 = await harness.call('POST', '/v1/chat/completions', {
      token: member.token,
      body: `{"model":"work/gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"extra":${deep}}`,
    });
    expectRefused(v1, 'json_too_deep', '/v1');
    expect(v1.body.error.type).toBe('invalid_request_error');
  });

  it('refuses impossible dates and malformed escapes with 400', async () => {
    for (const query of ['from=2024-13-45', 'to=2024-02-30', 'from=yesterday']) {
      expectRefused(
        await harness.call('GET', `/api/usage?${query}`, { token: member.token }),
        'validation_failed',
        query,
      );
    }
    const botId = '00000000-0000-4000-8000-000000000000';
    for (const [method, path] of [
      ['GET', '/api/conversations/%E0%A4%A'],
      ['GET', '/api/credentials/%'],
      ['POST', `/api/bots/${botId}/sessions/%E0%A4%A/status`],
      ['POST', '/hooks/bots/%zz'],
      ['GET', '/%E0%A4%A'],
    ] as const) {
      const response = await harness.call(method, path, {
        token: member.token,
        ...(method === 'POST' ? { body: { status: 'paused' } } : {}),
      });
      expectRefused(response, 'invalid_path', path);
    }
  });
});
