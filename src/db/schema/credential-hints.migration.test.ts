import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hintFor } from '../../vault/cipher.ts';
import { openMemoryDatabase } from '../database.ts';
import { loadMigrationFiles } from './migration-files.ts';

/**
 * 0011 rebuilds every stored hint under the new rule without the secret (it is sealed): the result
 * must be what `hintFor` gives a new credential, or show less.
 */
describe('migration 0011_credential_hints', () => {
  it('rebuilds old hints as hintFor would, and no longer shows most of a short secret', async () => {
    const files = loadMigrationFiles();
    const upgrade = files.find((file) => file.name === '0011_credential_hints')!;
    const database = await openMemoryDatabase();
    try {
      await database.withSession(async (session) => {
        for (const file of files.filter((file) => file.name < upgrade.name)) await session.exec(file.sql);
        const oldHint = (secret: string) => {
          // The rule before 0011, as it was written at save time.
          if (secret.length < 12) return '…' + secret.slice(-2);
          const prefix = /^[A-Za-z]+[-_](?:[a-z]+[-_])?/.exec(secret)?.[0] ?? '';
          return `${prefix.slice(0, 8)}…${secret.slice(-4)}`;
        };
        const secrets = [
          'password-123',
          'short',
          `sk-${randomBytes(24).toString('hex')}`,
          `sk-proj-${randomBytes(40).toString('hex')}`,
          `sk-ant-api03-${randomBytes(40).toString('hex')}`,
          `sk-svcacct-${randomBytes(30).toString('hex')}`,
          `gsk_${randomBytes(26).toString('hex')}`,
          `xai-${randomBytes(20).toString('hex')}`,
          'a-sixteen-chars!',
          'fifteen-chars!!',
        ];
        for (const [index, secret] of secrets.entries()) {
          // AES-GCM: the ciphertext is as long as the UTF-8 secret, plus a 16-byte tag.
          const ciphertext = randomBytes(Buffer.byteLength(secret) + 16);
          await session.query(
            `INSERT INTO credentials (id, provider, name, settings, secret_key_id, secret_nonce, secret_ciphertext, hint)
             VALUES (gen_random_uuid(), 'openai', $1, '{}', 'k', $2, $3, $4)`,
            [`c${index}`, randomBytes(12), ciphertext, oldHint(secret)],
          );
        }
        await session.exec(upgrade.sql);
        const rows = await session.query<{ name: string; hint: string }>(
          'SELECT name, hint FROM credentials ORDER BY name',
        );
        const hints = new Map(rows.map((row) => [row.name, row.hint]));
        for (const [index, secret] of secrets.entries())
          expect(hints.get(`c${index}`), secret).toBe(hintFor(secret));
      });
    } finally {
      await database.close();
    }
  });
});
