import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../audit/audit-log.repository.ts';
import { createLocalChangeFeed, type ChangeFeed } from '../db/change-feed.ts';
import { SecretRedactor } from '../observability/secret-redactor.ts';
import { PUBLIC_ONLY, type UpstreamPolicy } from '../providers/upstream-url-guard.ts';
import { Cipher, masterKeyFrom } from '../vault/cipher.ts';
import { CredentialSecrets } from './credential-secrets.ts';
import type { CredentialRecord } from './credentials.repository.ts';

const ADMINS: UpstreamPolicy = { allowLoopback: true, allowPrivate: true };

describe('CredentialSecrets', () => {
  const cipher = new Cipher(masterKeyFrom(randomBytes(32)));
  let changes: ChangeFeed;
  let redactor: SecretRedactor;
  let audit: AuditEvent[];
  let secrets: CredentialSecrets;

  beforeEach(() => {
    changes = createLocalChangeFeed();
    redactor = new SecretRedactor();
    audit = [];
    secrets = new CredentialSecrets({
      cipher,
      policies: { admins: ADMINS, members: PUBLIC_ONLY },
      audit: { record: async (event) => void audit.push(event) },
      changes,
      redactor,
      logger: pino({ level: 'silent' }),
    });
  });
  afterEach(() => secrets.close());

  const stored = (secret: string | null, row: Partial<CredentialRecord> = {}): CredentialRecord => {
    const identity = { id: 'c1', ownerId: 'alice', provider: 'openai', version: 1, ...row };
    const at = new Date();
    return {
      ownerIsAdmin: false,
      name: 'work',
      settings: {},
      prices: {},
      status: 'unchecked',
      statusMessage: null,
      lastCheckedAt: null,
      lastUsedAt: null,
      createdAt: at,
      updatedAt: at,
      ...identity,
      ...secrets.seal(secret, identity),
    };
  };

  it('reveals what it sealed, and no log line shows it from then on', () => {
    const row = stored('sk-live-abcdefghijklmnop');
    expect(row.hint).not.toContain('abcdefghijkl');
    expect(redactor.redact('key=sk-live-abcdefghijklmnop')).toBe('key=[REDACTED]');
    expect(secrets.revealSecret(row)).toBe('sk-live-abcdefghijklmnop');
    expect(secrets.revealSecret(stored(null))).toBeNull();
  });

  it('refuses a ciphertext copied onto another row, and audits the failure', async () => {
    const row = stored('sk-live-abcdefghijklmnop');
    const copied = { ...row, id: 'c2', ownerId: 'mallory' };
    expect(() => secrets.revealSecret(copied)).toThrow(
      expect.objectContaining({ code: 'secret_unreadable' }),
    );
    await Promise.resolve();
    expect(audit).toMatchObject([{ action: 'credential.use_failure', targetId: 'c2' }]);
  });

  it('keeps an opened secret until the credential changes (or everything does)', async () => {
    for (const topic of ['credential:c1', '*']) {
      const first = stored('sk-first-0000000000');
      expect(secrets.revealSecret(first)).toBe('sk-first-0000000000');
      // Another node rewrote the row under the same version: this node answers from its cache…
      const rewritten = { ...first, ...secrets.seal('sk-second-000000000', first) };
      expect(secrets.revealSecret(rewritten)).toBe('sk-first-0000000000');
      await changes.publish('credential:other');
      await changes.publish('user:alice');
      expect(secrets.revealSecret(rewritten)).toBe('sk-first-0000000000');
      // …until the notice for that credential arrives.
      await changes.publish(topic);
      expect([topic, secrets.revealSecret(rewritten)]).toEqual([topic, 'sk-second-000000000']);
      await changes.publish('*');
    }
  });

  it('lets a call reach what the credential owner’s role allows', () => {
    const row = stored('sk-live-abcdefghijklmnop');
    expect(secrets.upstreamPolicy(row)).toBe(PUBLIC_ONLY);
    expect(secrets.upstreamPolicy({ ...row, ownerIsAdmin: true })).toBe(ADMINS);
  });
});
