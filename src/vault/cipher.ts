import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { KeywayError } from '../errors.ts';

/** A 32-byte AES-256 key and its public id (the first 16 hex digits of its sha256). */
export interface MasterKey {
  id: string;
  key: Buffer;
}

/** What is stored for a secret: the id of the master key that sealed it, the nonce, ciphertext+tag. */
export interface SealedSecret {
  keyId: string;
  nonce: Buffer;
  ciphertext: Buffer;
}

const TAG_LENGTH = 16;

export function masterKeyFrom(key: Buffer): MasterKey {
  if (key.length !== 32) throw new Error('a master key is 32 bytes');
  return { id: createHash('sha256').update(key).digest('hex').slice(0, 16), key };
}

/**
 * AES-256-GCM with a fresh 96-bit nonce per seal and caller-chosen additional data. The additional
 * data binds a ciphertext to its row (id, owner, provider, version): copied onto another row, it no
 * longer opens. Reading accepts the current key and, during a master-key rotation, the previous one.
 */
export class Cipher {
  readonly current: MasterKey;
  readonly #byId: Map<string, MasterKey>;
  readonly #fingerprintKey: Buffer;

  /** `readable`: further keys accepted for reading (the previous key during a rotation). */
  constructor(current: MasterKey, readable: MasterKey[] = []) {
    this.current = current;
    this.#byId = new Map([[current.id, current]]);
    for (const key of readable) if (!this.#byId.has(key.id)) this.#byId.set(key.id, key);
    // A separate key for fingerprints, so an HMAC never shares a key with the cipher.
    this.#fingerprintKey = Buffer.from(
      hkdfSync('sha256', current.key, 'keyway', 'secret-fingerprint-v1', 32),
    );
  }

  seal(plaintext: string, additionalData: string): SealedSecret {
    const nonce = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.current.key, nonce, { authTagLength: TAG_LENGTH });
    cipher.setAAD(Buffer.from(additionalData, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return { keyId: this.current.id, nonce, ciphertext };
  }

  /** Throws `secret_unreadable` when the key is unknown or the data was altered or moved. */
  open(sealed: SealedSecret, additionalData: string): string {
    const master = this.#byId.get(sealed.keyId);
    if (!master) {
      throw new KeywayError(
        'secret_unreadable',
        `The secret was sealed with master key ${sealed.keyId}, which this Keyway does not have.`,
        {
          fix: 'Configure that key as KEYWAY_MASTER_KEY_PREVIOUS and finish the rotation with `keyway vault rotate-master-key`.',
        },
      );
    }
    try {
      const decipher = createDecipheriv('aes-256-gcm', master.key, sealed.nonce, {
        authTagLength: TAG_LENGTH,
      });
      decipher.setAAD(Buffer.from(additionalData, 'utf8'));
      decipher.setAuthTag(sealed.ciphertext.subarray(sealed.ciphertext.length - TAG_LENGTH));
      return Buffer.concat([
        decipher.update(sealed.ciphertext.subarray(0, -TAG_LENGTH)),
        decipher.final(),
      ]).toString('utf8');
    } catch {
      throw new KeywayError(
        'secret_unreadable',
        'The stored secret failed its integrity check: it was altered, or copied from another row.',
        {
          fix: 'Replace the secret (rotate the credential); the stored copy cannot be trusted.',
        },
      );
    }
  }

  /** The ids of every key this cipher can read with. */
  get keyIds(): string[] {
    return [...this.#byId.keys()];
  }

  /**
   * HMAC-SHA256 of a secret under a key derived from the master key: equal secrets have equal
   * fingerprints, and the fingerprint reveals nothing about the secret to whoever lacks the key.
   */
  fingerprint(secret: string): string {
    return createHmac('sha256', this.#fingerprintKey).update(secret, 'utf8').digest('hex').slice(0, 32);
  }
}

/**
 * Prefixes that every key of a provider starts with: public, so showing one tells nothing about the
 * key. Longest first, so `sk-proj-` wins over `sk-`.
 */
const PUBLIC_KEY_PREFIXES = [
  'sk-svcacct-',
  'sk-admin-',
  'sk-proj-',
  'sk-ant-',
  'sk-or-',
  'pplx-',
  'gsk_',
  'xai-',
  'AIza',
  'sk-',
];
/** Below this many characters (not counting a public prefix) a hint shows nothing at all. */
const HINT_MIN_LENGTH = 16;
const HINT_TAIL = 4;

/**
 * `sk-…AbCd`: enough to tell keys apart, never enough to use or guess one. A known public prefix, then
 * at most the last 4 characters, and none at all when the rest is shorter than 16 characters (a short
 * secret such as a password would be mostly shown otherwise).
 */
export function hintFor(secret: string): string {
  const prefix = PUBLIC_KEY_PREFIXES.find((candidate) => secret.startsWith(candidate)) ?? '';
  const rest = secret.slice(prefix.length);
  return rest.length < HINT_MIN_LENGTH ? '…' : `${prefix}…${rest.slice(-HINT_TAIL)}`;
}
