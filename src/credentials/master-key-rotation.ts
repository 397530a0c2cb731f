import type { Logger } from 'pino';
import type { AuditLog } from '../audit/audit-log.repository.ts';
import type { SettingsRepository } from '../db/settings.repository.ts';
import { KeywayError } from '../errors.ts';
import type { Cipher } from '../vault/cipher.ts';
import { resealMasterKeyCheck } from '../vault/vault-check.ts';
import { credentialAad } from './credential-secrets.ts';
import type { CredentialsRepository } from './credentials.repository.ts';

/**
 * Re-seals every stored secret under the cipher's current key, in batches, each batch one
 * transaction: a rotation killed half-way leaves every row readable (old key or new) and simply
 * continues where it stopped when run again. Fingerprints are recomputed, since their key derives
 * from the master key. The vault check value moves to the new key last.
 */
export async function rotateMasterKey(deps: {
  cipher: Cipher;
  credentials: CredentialsRepository;
  settings: SettingsRepository;
  audit: AuditLog;
  logger: Logger;
  batchSize: number;
  /** Other sealed secrets (bots' channel secrets): each call re-seals one batch, 0 when done. */
  others?: { name: string; resealBatch(batchSize: number): Promise<number> }[];
}): Promise<{ resealed: number; batches: number }> {
  const { cipher, credentials, logger } = deps;
  const before = await credentials.countBySealingKey();
  const unreadable = before.filter((group) => !cipher.keyIds.includes(group.keyId));
  if (unreadable.length > 0) {
    throw new KeywayError(
      'master_key_missing',
      `${unreadable.map((group) => `${group.count} secret(s) are sealed with key ${group.keyId}`).join('; ')}, which is neither the current nor the previous key.`,
      {
        fix: 'Give the key that sealed them as KEYWAY_MASTER_KEY_PREVIOUS (or KEYWAY_MASTER_KEY_PREVIOUS_FILE) and run the rotation again.',
      },
    );
  }
  let resealed = 0;
  let batches = 0;
  for (;;) {
    const count = await credentials.transaction(async (trx) => {
      const rows = await credentials.lockBatchSealedWithOtherKey(trx, cipher.current.id, deps.batchSize);
      for (const row of rows) {
        const aad = credentialAad(row);
        const secret = cipher.open(
          { keyId: row.secretKeyId!, nonce: row.secretNonce!, ciphertext: row.secretCiphertext! },
          aad,
        );
        const sealed = cipher.seal(secret, aad);
        await credentials.reseal(trx, row.id, {
          secretKeyId: sealed.keyId,
          secretNonce: sealed.nonce,
          secretCiphertext: sealed.ciphertext,
          fingerprint: cipher.fingerprint(secret),
        });
      }
      return rows.length;
    });
    if (count === 0) break;
    resealed += count;
    batches += 1;
    logger.info({ batch: batches, resealed }, `re-sealed batch ${batches} (${resealed} secrets so far)`);
  }
  for (const other of deps.others ?? []) {
    for (;;) {
      const count = await other.resealBatch(deps.batchSize);
      if (count === 0) break;
      resealed += count;
      batches += 1;
      logger.info({ batch: batches, resealed }, `re-sealed ${count} ${other.name} secrets`);
    }
  }
  await resealMasterKeyCheck(cipher, deps.settings);
  await deps.audit.record({
    actorId: null,
    action: 'vault.rotate_master_key',
    details: { keyId: cipher.current.id, resealed },
  });
  return { resealed, batches };
}
