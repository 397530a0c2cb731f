import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BACKENDS } from '../../test/support/test-database.ts';
import { createTestKeyway, type TestKeyway } from '../../test/support/test-keyway.ts';

describe.each(BACKENDS)('users admin and web sessions [%s]', (backend) => {
  let harness: TestKeyway;
  let admin: { id: string; token: string };

  beforeEach(async () => {
    harness = await createTestKeyway(backend);
    admin = await harness.user('root', 'admin');
  });
  afterEach(async () => {
    await harness.close();
  });

  /** Signs in through the API: the session cookie and its CSRF token. */
  async function signIn(username: string, password: string) {
    const response = await harness.call('POST', '/api/auth/login', { body: { username, password } });
    expect(response.status).toBe(200);
    return {
      cookie: (response.headers.get('set-cookie') ?? '').split(';')[0]!,
      csrf: response.body.csrfToken as string,
    };
  }

  const me = (cookie: string) => harness.call('GET', '/api/me', { headers: { cookie } });

  it('an admin creates a user, who signs in; a password reset ends every session of that user at once', async () => {
    const created = await harness.call('POST', '/api/users', {
      token: admin.token,
      body: { username: 'erin', password: 'first password 1' },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ username: 'erin', role: 'member', disabled: false });
    const laptop = await signIn('erin', 'first password 1');
    const phone = await signIn('erin', 'first password 1');
    expect((await me(laptop.cookie)).status).toBe(200);
    const adminSession = await signIn('root', 'correct horse battery');

    const reset = await harness.call('PATCH', `/api/users/${created.body.id}`, {
      headers: { cookie: adminSession.cookie, 'x-csrf-token': adminSession.csrf },
      body: { password: 'second password 2' },
    });
    expect(reset.status).toBe(200);
    for (const session of [laptop, phone]) {
      const gone = await me(session.cookie);
      expect([gone.status, gone.body.error.code]).toEqual([401, 'unauthenticated']);
      // The browser is told to drop the dead cookie.
      expect(gone.headers.get('set-cookie')).toMatch(/^kw_session=; .*Max-Age=0/);
      const write = await harness.call('POST', '/api/conversations', {
        headers: { cookie: session.cookie, 'x-csrf-token': session.csrf },
        body: { model: 'x/y' },
      });
      expect([write.status, write.body.error.code]).toEqual([401, 'unauthenticated']);
    }
    // The admin who made the change keeps their own session; the new password works, the old does not.
    expect((await me(adminSession.cookie)).status).toBe(200);
    const old = await harness.call('POST', '/api/auth/login', {
      body: { username: 'erin', password: 'first password 1' },
    });
    expect(old.body.error.code).toBe('invalid_login');
    const fresh = await signIn('erin', 'second password 2');
    expect((await me(fresh.cookie)).body.user.username).toBe('erin');
  });

  it('disabling a user ends their sessions and refuses their tokens; enabling again revives tokens at once but not old sessions', async () => {
    const frank = await harness.user('frank');
    const session = await signIn('frank', 'correct horse battery');
    expect((await me(session.cookie)).status).toBe(200);
    const disabled = await harness.call('PATCH', `/api/users/${frank.id}`, {
      token: admin.token,
      body: { disabled: true },
    });
    expect(disabled.body.disabled).toBe(true);
    expect((await me(session.cookie)).body.error.code).toBe('unauthenticated');
    expect((await harness.call('GET', '/api/me', { token: frank.token })).status).toBe(401);
    const refused = await harness.call('POST', '/api/auth/login', {
      body: { username: 'frank', password: 'correct horse battery' },
    });
    expect(refused.body.error.code).toBe('invalid_login');

    await harness.call('PATCH', `/api/users/${frank.id}`, { token: admin.token, body: { disabled: false } });
    // The token works again at once: its refusal was cached, and re-enabling drops it.
    expect((await harness.call('GET', '/api/me', { token: frank.token })).status).toBe(200);
    expect((await me(session.cookie)).status).toBe(401);
    expect((await signIn('frank', 'correct horse battery')).cookie).toMatch(/^kw_session=/);
  });

  it('a signed-out session gets 401 unauthenticated; members cannot manage users', async () => {
    const gina = await harness.user('gina');
    const session = await signIn('gina', 'correct horse battery');
    const out = await harness.call('POST', '/api/auth/logout', {
      headers: { cookie: session.cookie, 'x-csrf-token': session.csrf },
    });
    expect(out.status).toBe(204);
    const after = await me(session.cookie);
    expect([after.status, after.body.error.code]).toEqual([401, 'unauthenticated']);

    const forbidden = await harness.call('PATCH', `/api/users/${admin.id}`, {
      token: gina.token,
      body: { password: 'taken over 123' },
    });
    expect([forbidden.status, forbidden.body.error.code]).toEqual([403, 'forbidden']);
    const short = await harness.call('PATCH', `/api/users/${gina.id}`, {
      token: admin.token,
      body: { password: 'short' },
    });
    expect([short.status, short.body.error.code]).toEqual([400, 'validation_failed']);
  });
});
