import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BACKENDS } from '../support/test-database.ts';
import { createTestKeyway, type TestKeyway } from '../support/test-keyway.ts';

const PASSWORD = 'correct horse battery';

describe.each(BACKENDS)('members change their own password [%s]', (backend) => {
  let kw: TestKeyway;

  beforeEach(async () => {
    kw = await createTestKeyway(backend);
  });
  afterEach(async () => {
    await kw.close();
  });

  /** A web sign-in: the session cookie and its CSRF token. */
  async function signIn(username: string, password: string) {
    const response = await kw.call('POST', '/api/auth/login', { body: { username, password } });
    return {
      status: response.status,
      headers: {
        cookie: (response.headers.get('set-cookie') ?? '').split(';')[0]!,
        'x-csrf-token': String(response.body?.csrfToken),
      },
    };
  }
  const change = (headers: Record<string, string>, body: unknown) =>
    kw.call('POST', '/api/me/password', { headers, body });
  const signedIn = async (headers: Record<string, string>) =>
    (await kw.call('GET', '/api/me', { headers })).status === 200;

  it('changes the password with the current one, ends the other sessions and keeps this one', async () => {
    await kw.user('mia');
    const laptop = await signIn('mia', PASSWORD);
    const phone = await signIn('mia', PASSWORD);
    const changed = await change(laptop.headers, {
      currentPassword: PASSWORD,
      newPassword: 'a brand new passphrase',
    });
    expect(changed.status).toBe(204);
    expect(await signedIn(laptop.headers)).toBe(true);
    expect(await signedIn(phone.headers)).toBe(false);
    expect((await signIn('mia', PASSWORD)).status).toBe(401);
    expect((await signIn('mia', 'a brand new passphrase')).status).toBe(200);
    // The log never holds either password.
    const log = kw.logLines.join('\n');
    expect(log.includes('a brand new passphrase')).toBe(false);
    expect(log.includes(PASSWORD)).toBe(false);
  });

  it('refuses a wrong current password or a short new one, and changes nothing', async () => {
    await kw.user('mia');
    const session = await signIn('mia', PASSWORD);
    const wrong = await change(session.headers, {
      currentPassword: 'not my password',
      newPassword: 'a brand new passphrase',
    });
    expect([wrong.status, wrong.body.error.code, wrong.body.error.details]).toEqual([
      400,
      'validation_failed',
      { field: 'currentPassword' },
    ]);
    const short = await change(session.headers, { currentPassword: PASSWORD, newPassword: 'short' });
    expect([short.status, short.body.error.code, short.body.error.details]).toEqual([
      400,
      'validation_failed',
      { field: 'password' },
    ]);
    expect(await signedIn(session.headers)).toBe(true);
    expect((await signIn('mia', PASSWORD)).status).toBe(200);
  });

  it('is throttled like sign-in: after 5 wrong guesses even the right password waits', async () => {
    await kw.user('mia');
    const session = await signIn('mia', PASSWORD);
    for (let guess = 0; guess < 5; guess++) {
      const wrong = await change(session.headers, {
        currentPassword: `guess number ${guess}`,
        newPassword: 'a brand new passphrase',
      });
      expect(wrong.status).toBe(400);
    }
    const blocked = await change(session.headers, {
      currentPassword: PASSWORD,
      newPassword: 'a brand new passphrase',
    });
    expect([blocked.status, blocked.body.error.code]).toEqual([429, 'too_many_attempts']);
    expect(blocked.body.error.details.retryAfterSeconds).toBeGreaterThan(0);
    expect((await signIn('mia', PASSWORD)).status).toBe(200);
  });

  it('needs a signed-in caller, the CSRF token with a cookie, and refuses hostile bodies', async () => {
    await kw.user('mia');
    const session = await signIn('mia', PASSWORD);
    const body = { currentPassword: PASSWORD, newPassword: 'a brand new passphrase' };
    expect((await change({}, body)).status).toBe(401);
    const forged = await change({ cookie: session.headers.cookie }, body);
    expect([forged.status, forged.body.error.code]).toEqual([403, 'csrf_failed']);
    const hostile: unknown[] = [
      { currentPassword: PASSWORD },
      { ...body, userId: crypto.randomUUID() },
      { currentPassword: PASSWORD, newPassword: 'x'.repeat(1025) },
      { currentPassword: '', newPassword: 'a brand new passphrase' },
      { currentPassword: [PASSWORD], newPassword: 'a brand new passphrase' },
      '{"currentPassword":',
      { currentPassword: PASSWORD, newPassword: 'a nul \u0000 inside a long password' },
      { currentPassword: PASSWORD, newPassword: { length: 20 } },
    ];
    for (const bad of hostile) {
      const response = await change(session.headers, bad);
      expect(response.status, JSON.stringify(bad)).toBe(400);
      expect(response.body.error.code).toMatch(/^(validation_failed|invalid_json|invalid_text)$/);
    }
    expect((await signIn('mia', PASSWORD)).status).toBe(200);
  });

  it('works with an API token too (no web session to keep: every web session ends)', async () => {
    const mia = await kw.user('mia');
    const session = await signIn('mia', PASSWORD);
    const changed = await kw.call('POST', '/api/me/password', {
      token: mia.token,
      body: { currentPassword: PASSWORD, newPassword: 'a brand new passphrase' },
    });
    expect(changed.status).toBe(204);
    expect(await signedIn(session.headers)).toBe(false);
    // Another user is untouched.
    await kw.user('noah');
    expect((await signIn('noah', PASSWORD)).status).toBe(200);
  });
});
