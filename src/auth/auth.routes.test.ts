import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BACKENDS } from '../../test/support/test-database.ts';
import { createTestKeyway, type TestKeyway } from '../../test/support/test-keyway.ts';
import { SettingsRepository } from '../db/settings.repository.ts';
import { verifyPassword } from '../users/password.ts';
import { UsersRepository } from '../users/users.repository.ts';
import { AuthService } from './auth.service.ts';
import { LoginThrottleRepository } from './login-throttle.repository.ts';
import { SessionsRepository } from './sessions.repository.ts';

const json = { 'content-type': 'application/json' };

describe.each(BACKENDS)('setup, sign-in and tokens [%s]', (backend) => {
  let harness: TestKeyway;

  beforeEach(async () => {
    // The load balancer in front of this Keyway is 10.0.0.1.
    harness = await createTestKeyway(backend, { env: { KEYWAY_TRUSTED_PROXIES: '10.0.0.1, fd00::/8' } });
  });
  afterEach(async () => {
    await harness.close();
  });

  /** A sign-in; `from` is the socket's peer address, `forwardedFor` the X-Forwarded-For it sends. */
  async function login(
    username: string,
    password: string,
    origin: { from?: string; forwardedFor?: string } = {},
  ) {
    const response = await harness.keyway.app.request(
      '/api/auth/login',
      {
        method: 'POST',
        headers: { ...json, ...(origin.forwardedFor ? { 'x-forwarded-for': origin.forwardedFor } : {}) },
        body: JSON.stringify({ username, password }),
      },
      // What @hono/node-server hands the app for a request that came over a socket.
      origin.from ? { incoming: { socket: { remoteAddress: origin.from } } } : undefined,
    );
    const cookie = (response.headers.get('set-cookie') ?? '').split(';')[0]!;
    return {
      response,
      cookie,
      setCookie: response.headers.get('set-cookie') ?? '',
      body: (await response.json()) as any,
    };
  }

  it('creates the first admin once, with the one-time setup token', async () => {
    const token = await harness.keyway.services.auth.openSetup();
    expect(token).toMatch(/^[A-Za-z0-9_-]{32}$/);
    const open = await harness.call('GET', '/api/setup');
    expect([open.status, open.body]).toEqual([200, { open: true }]);
    expect(open.text.includes(token!)).toBe(false);
    const wrong = await harness.call('POST', '/api/setup', {
      body: { token: 'guess', username: 'admin', password: 'long enough pass' },
    });
    expect([wrong.status, wrong.body.error.code]).toEqual([403, 'invalid_setup_token']);
    const weak = await harness.call('POST', '/api/setup', {
      body: { token, username: 'admin', password: 'short' },
    });
    expect([weak.status, weak.body.error.code]).toEqual([400, 'validation_failed']);
    // A rejected password does not burn the one-time token.
    const fresh = token!;
    const ok = await harness.call('POST', '/api/setup', {
      body: { token: fresh, username: 'admin', password: 'long enough pass' },
    });
    expect(ok.status).toBe(201);
    expect(ok.body).toMatchObject({ username: 'admin', role: 'admin' });
    const again = await harness.call('POST', '/api/setup', {
      body: { token: fresh, username: 'admin2', password: 'long enough pass' },
    });
    expect([again.status, again.body.error.code]).toEqual([409, 'setup_closed']);
    expect(await harness.keyway.services.auth.openSetup()).toBeNull();
    expect((await harness.call('GET', '/api/setup')).body).toEqual({ open: false });
  });

  it('signs in with an HttpOnly SameSite cookie, needs the CSRF token for cookie writes, and signs out for good', async () => {
    await harness.user('dora');
    const bad = await login('dora', 'wrong password!');
    expect([bad.response.status, bad.body.error.code]).toEqual([401, 'invalid_login']);
    const nobody = await login('nobody', 'wrong password!');
    expect(nobody.body.error.message).toBe(bad.body.error.message);

    const signedIn = await login('Dora', 'correct horse battery');
    expect(signedIn.response.status).toBe(200);
    expect(signedIn.setCookie).toMatch(/^kw_session=[A-Za-z0-9_-]+; /);
    expect(signedIn.setCookie).toContain('HttpOnly');
    expect(signedIn.setCookie).toContain('SameSite=Lax');
    const csrf = signedIn.body.csrfToken;
    expect(csrf).toMatch(/^[A-Za-z0-9_-]{20,}$/);

    const me = await harness.call('GET', '/api/me', { headers: { cookie: signedIn.cookie } });
    expect(me.body).toMatchObject({
      user: { username: 'dora', role: 'member' },
      via: 'session',
      csrfToken: csrf,
    });

    const forged = await harness.call('POST', '/api/tokens', {
      headers: { cookie: signedIn.cookie },
      body: { name: 'x' },
    });
    expect([forged.status, forged.body.error.code]).toEqual([403, 'csrf_failed']);
    const wrongCsrf = await harness.call('POST', '/api/tokens', {
      headers: { cookie: signedIn.cookie, 'x-csrf-token': csrf + 'x' },
      body: { name: 'x' },
    });
    expect(wrongCsrf.status).toBe(403);
    const made = await harness.call('POST', '/api/tokens', {
      headers: { cookie: signedIn.cookie, 'x-csrf-token': csrf },
      body: { name: 'x' },
    });
    expect(made.status).toBe(201);

    const out = await harness.call('POST', '/api/auth/logout', {
      headers: { cookie: signedIn.cookie, 'x-csrf-token': csrf },
    });
    expect(out.status).toBe(204);
    expect(out.headers.get('set-cookie')).toContain('kw_session=;');
    expect((await harness.call('GET', '/api/me', { headers: { cookie: signedIn.cookie } })).status).toBe(401);
  });

  it('throttles failed sign-ins per account: the 6th try is refused even with the right password, with retry-after', async () => {
    await harness.user('erin');
    for (let i = 0; i < 5; i++)
      expect((await login('erin', `wrong ${i} password`)).response.status).toBe(401);
    const blocked = await login('erin', 'correct horse battery');
    expect([blocked.response.status, blocked.body.error.code]).toEqual([429, 'too_many_attempts']);
    expect(Number(blocked.response.headers.get('retry-after'))).toBeGreaterThan(60);
    // Another account from the same address is not blocked by erin's failures (the address limit is higher).
    await harness.user('fred');
    expect((await login('fred', 'correct horse battery')).response.status).toBe(200);
  });

  it('lets at most 5 of 50 concurrent wrong passwords be checked; the owner still signs in from another address', async () => {
    await harness.user('olga');
    const attacker = { from: '198.51.100.7' };
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) => login('olga', `guess number ${i}`, attacker)),
    );
    const statuses = answers.map((answer) => answer.response.status);
    // A 401 is the answer of a password that was checked; a 429 was refused before any check.
    expect(statuses.filter((status) => status === 401)).toHaveLength(5);
    expect(statuses.filter((status) => status === 429)).toHaveLength(45);
    // Even the right password is refused from the attacking address…
    const blocked = await login('olga', 'correct horse battery', attacker);
    expect([blocked.response.status, blocked.body.error.code]).toEqual([429, 'too_many_attempts']);
    // …but not from the owner's address, which has not failed.
    expect((await login('OLGA', 'correct horse battery', { from: '203.0.113.9' })).response.status).toBe(200);
  });

  it('checks at most 5 passwords (scrypt runs) for 50 concurrent attempts, across nodes sharing the database', async () => {
    await harness.user('petra');
    let checks = 0;
    // Two services over one database: two nodes.
    const nodes = [0, 1].map(
      () =>
        new AuthService({
          users: new UsersRepository(harness.database.db),
          usersService: harness.keyway.services.users,
          sessions: new SessionsRepository(harness.database.db),
          throttle: new LoginThrottleRepository(harness.database.db),
          settings: new SettingsRepository(harness.database.db),
          verifyPassword: (password, stored) => {
            checks++;
            return verifyPassword(password, stored);
          },
        }),
    );
    const origin = { peer: '192.0.2.50', forwardedFor: undefined };
    const outcomes = await Promise.allSettled(
      Array.from({ length: 50 }, (_, i) =>
        nodes[i % 2]!.login({ username: 'petra', password: `wrong ${i}`, origin }),
      ),
    );
    expect(checks).toBe(5);
    const codes = outcomes.map((outcome) => (outcome.status === 'rejected' ? outcome.reason.code : 'ok'));
    expect(codes.filter((code) => code === 'invalid_login')).toHaveLength(5);
    expect(codes.filter((code) => code === 'too_many_attempts')).toHaveLength(45);
  });

  it('limits failures per address across accounts (20); a success does not count', async () => {
    await harness.user('quinn');
    const sprayer = { from: '198.51.100.20' };
    for (let i = 0; i < 4; i++)
      expect((await login('quinn', `wrong ${i}`, sprayer)).response.status).toBe(401);
    // A success does not count towards the address's limit, and clears the account's failures there.
    expect((await login('quinn', 'correct horse battery', sprayer)).response.status).toBe(200);
    for (let i = 0; i < 16; i++)
      expect((await login(`nobody${i}`, 'wrong password', sprayer)).response.status).toBe(401);
    const refused = await login('someone-else', 'wrong password', sprayer);
    expect([refused.response.status, refused.body.error.code]).toEqual([429, 'too_many_attempts']);
    expect(Number(refused.response.headers.get('retry-after'))).toBeGreaterThan(60);
    expect((await login('quinn', 'correct horse battery', sprayer)).response.status).toBe(429);
    expect((await login('quinn', 'correct horse battery', { from: '198.51.100.21' })).response.status).toBe(
      200,
    );
  });

  it('believes X-Forwarded-For only from a trusted proxy, and only its right-most untrusted address', async () => {
    await harness.user('rita');
    // Straight from the internet: a made-up X-Forwarded-For on every try does not make a fresh address.
    for (let i = 0; i < 5; i++) {
      const spoofed = { from: '198.51.100.30', forwardedFor: `203.0.113.${i}` };
      expect((await login('rita', `wrong ${i}`, spoofed)).response.status).toBe(401);
    }
    expect(
      (await login('rita', 'wrong', { from: '198.51.100.30', forwardedFor: '203.0.113.99' })).response.status,
    ).toBe(429);

    // Through the trusted proxy: the client is the address the proxy appended, whatever the client
    // wrote further left.
    const viaProxy = (claimed: string) => ({ from: '10.0.0.1', forwardedFor: `${claimed}, 192.0.2.77` });
    for (let i = 0; i < 5; i++)
      expect((await login('rita', `wrong ${i}`, viaProxy(`203.0.113.${i}`))).response.status).toBe(401);
    expect((await login('rita', 'correct horse battery', viaProxy('203.0.113.200'))).response.status).toBe(
      429,
    );
    // Another client behind the same proxy is not blocked.
    expect(
      (await login('rita', 'correct horse battery', { from: '10.0.0.1', forwardedFor: '192.0.2.78' }))
        .response.status,
    ).toBe(200);
  });

  it('shows a token once, stores only its hash, and stops it at once when revoked', async () => {
    const user = await harness.user('gina');
    const created = await harness.call('POST', '/api/tokens', {
      token: user.token,
      body: { name: 'laptop', expiresInDays: 30 },
    });
    expect(created.status).toBe(201);
    const token: string = created.body.token;
    expect(token).toMatch(/^kw_[A-Za-z0-9_-]{43}$/);
    expect(created.body.prefix).toBe(token.slice(0, 7));
    const listed = await harness.call('GET', '/api/tokens', { token });
    expect(listed.text).not.toContain(token);
    expect(listed.body.map((t: { name: string }) => t.name).sort()).toEqual(['laptop', 'test']);
    const stored = await harness.database.db.selectFrom('api_tokens').select(['token_hash']).execute();
    expect(JSON.stringify(stored)).not.toContain(token);

    const clash = await harness.call('POST', '/api/tokens', { token, body: { name: 'Laptop' } });
    expect([clash.status, clash.body.error.code]).toEqual([409, 'name_taken']);

    const other = await harness.user('hank');
    expect(
      (await harness.call('DELETE', `/api/tokens/${created.body.id}`, { token: other.token })).status,
    ).toBe(404);
    expect((await harness.call('GET', '/api/me', { token })).status).toBe(200);
    expect(
      (await harness.call('DELETE', `/api/tokens/${created.body.id}`, { token: user.token })).status,
    ).toBe(204);
    const after = await harness.call('GET', '/api/me', { token });
    expect([after.status, after.body.error.code]).toEqual([401, 'unauthenticated']);
  });

  it("refuses an expired token, a disabled user's token at once, and garbage in the Authorization header", async () => {
    const admin = await harness.user('root', 'admin');
    const user = await harness.user('ivan');
    const past = await harness.call('POST', '/api/tokens', {
      token: user.token,
      body: { name: 'old', expiresAt: '2020-01-01T00:00:00Z' },
    });
    expect(past.status).toBe(400);
    const tokenRow = await harness.keyway.services.tokens.createFor(
      user.id,
      { name: 'soon', expiresAt: new Date(Date.now() + 300) },
      null,
    );
    expect((await harness.call('GET', '/api/me', { token: tokenRow.token })).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect((await harness.call('GET', '/api/me', { token: tokenRow.token })).status).toBe(401);

    expect((await harness.call('GET', '/api/me', { token: user.token })).status).toBe(200);
    const disabled = await harness.call('PATCH', `/api/users/${user.id}`, {
      token: admin.token,
      body: { disabled: true },
    });
    expect(disabled.body.disabled).toBe(true);
    expect((await harness.call('GET', '/api/me', { token: user.token })).status).toBe(401);

    for (const header of ['Bearer', 'Bearer kw_nope', 'Basic abc', 'Bearer ' + 'kw_'.padEnd(500, 'x')]) {
      const response = await harness.call('GET', '/api/me', { headers: { authorization: header } });
      expect([header.slice(0, 20), response.status]).toEqual([header.slice(0, 20), 401]);
    }
  });

  it('lets only admins manage users', async () => {
    const admin = await harness.user('root', 'admin');
    const member = await harness.user('judy');
    expect((await harness.call('GET', '/api/users', { token: member.token })).status).toBe(403);
    expect(
      (
        await harness.call('POST', '/api/users', {
          token: member.token,
          body: { username: 'x1', password: 'long enough pass' },
        })
      ).status,
    ).toBe(403);
    const created = await harness.call('POST', '/api/users', {
      token: admin.token,
      body: { username: 'kim', password: 'long enough pass' },
    });
    expect(created.body).toMatchObject({ username: 'kim', role: 'member', disabled: false });
    const taken = await harness.call('POST', '/api/users', {
      token: admin.token,
      body: { username: 'KIM', password: 'long enough pass' },
    });
    expect([taken.status, taken.body.error.code]).toEqual([409, 'name_taken']);
    const self = await harness.call('PATCH', `/api/users/${admin.id}`, {
      token: admin.token,
      body: { disabled: true },
    });
    expect(self.status).toBe(403);
    expect(
      (await harness.call('GET', '/api/users', { token: admin.token })).body.map(
        (u: { username: string }) => u.username,
      ),
    ).toEqual(['root', 'judy', 'kim']);
  });
});
