import { KeywayError } from '../errors.ts';
import type { SettingsRepository } from '../db/settings.repository.ts';
import type { Cipher } from './cipher.ts';

const CHECK_KEY = 'vault.check';
const CHECK_PLAINTEXT = 'keyway-master-key-check';
const CHECK_AAD = 'keyway:vault-check:v1';

interface StoredCheck {
  keyId: string;
  nonce: string;
  ciphertext: string;
}

/**
 * Proves at startup that the configured master key is the one this database's secrets were sealed
 * with, before anything is read or written: a wrong key is refused in plain words, never turned into
 * garbage or a silently empty vault. The first start seals the check value.
 */
export async function verifyMasterKey(
  cipher: Cipher,
  settings: SettingsRepository,
): Promise<'created' | 'verified'> {
  const state = await inspectMasterKey(cipher, settings);
  if (state.state === 'verified') return 'verified';
  if (state.state === 'unsealed') {
    // Another node may seal it first, with its key: then verify against that one.
    if (await settings.putIfAbsent(CHECK_KEY, sealCheck(cipher))) return 'created';
    return verifyMasterKey(cipher, settings);
  }
  throw new KeywayError(
    'master_key_wrong',
    `The configured master key (id ${cipher.current.id}) is not the one this database's vault was sealed with (id ${state.sealedWith}). Nothing was read or changed.`,
    {
      fix: 'Start with the key this database was set up with (KEYWAY_MASTER_KEY or KEYWAY_MASTER_KEY_FILE; the embedded database keeps a generated one in its data directory as master.key). While rotating, give the old key as KEYWAY_MASTER_KEY_PREVIOUS.',
    },
  );
}

/**
 * The same proof without writing anything (for `keyway doctor`): `unsealed` when no start has sealed
 * a check value yet.
 */
export async function inspectMasterKey(
  cipher: Cipher,
  settings: SettingsRepository,
): Promise<{ state: 'verified' } | { state: 'unsealed' } | { state: 'wrong'; sealedWith: string }> {
  const stored = await settings.get<StoredCheck>(CHECK_KEY);
  if (!stored) return { state: 'unsealed' };
  try {
    cipher.open(
      {
        keyId: stored.keyId,
        nonce: Buffer.from(stored.nonce, 'base64'),
        ciphertext: Buffer.from(stored.ciphertext, 'base64'),
      },
      CHECK_AAD,
    );
    return { state: 'verified' };
  } catch {
    return { state: 'wrong', sealedWith: stored.keyId };
  }
}

/** Re-seals the check value under the current key: the last step of a master-key rotation. */
export async function resealMasterKeyCheck(cipher: Cipher, settings: SettingsRepository): Promise<void> {
  await settings.put(CHECK_KEY, sealCheck(cipher));
}

function sealCheck(cipher: Cipher): StoredCheck {
  const sealed = cipher.seal(CHECK_PLAINTEXT, CHECK_AAD);
  return {
    keyId: sealed.keyId,
    nonce: sealed.nonce.toString('base64'),
    ciphertext: sealed.ciphertext.toString('base64'),
  };
}
