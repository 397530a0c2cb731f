import type { Logger } from 'pino';
import type { AuditLog } from '../audit/audit-log.repository.ts';
import type { ChangeFeed } from '../db/change-feed.ts';
import { KeywayError } from '../errors.ts';
import type { SecretRedactor } from '../observability/secret-redactor.ts';
import type { ProviderCall, ProviderDefinition } from '../providers/provider.ts';
import {
  policyForOwner,
  type UpstreamPolicies,
  type UpstreamPolicy,
} from '../providers/upstream-url-guard.ts';
import { hintFor, type Cipher } from '../vault/cipher.ts';
import type { CredentialRecord, SealedColumns } from './credentials.repository.ts';

/** What a ciphertext is bound to: the row's identity and the version of its secret. */
interface SealedRow {
  id: string;
  ownerId: string | null;
  provider: string;
  version: number;
}

/** Binds a ciphertext to its row: copied onto another row (another owner, another version), it does not open. */
export function credentialAad(row: SealedRow): string {
  return ['keyway:credential:v1', row.id, row.ownerId ?? 'shared', row.provider, String(row.version)].join(
    '\u0000',
  );
}

/**
 * The stored columns of a credential's secret: AES-256-GCM bound to the row (see `credentialAad`), the
 * fingerprint that finds duplicates, and the hint people see. Everything that writes a credential
 * (the credentials service, the importers) seals through here, so rows look the same whoever wrote them.
 */
export function sealSecret(cipher: Cipher, secret: string | null, row: SealedRow): SealedColumns {
  if (secret === null)
    return {
      secretKeyId: null,
      secretNonce: null,
      secretCiphertext: null,
      fingerprint: null,
      hint: '(no key)',
    };
  const sealed = cipher.seal(secret, credentialAad(row));
  return {
    secretKeyId: sealed.keyId,
    secretNonce: sealed.nonce,
    secretCiphertext: sealed.ciphertext,
    fingerprint: cipher.fingerprint(secret),
    hint: hintFor(secret),
  };
}

/**
 * A credential's secret on its way in and out of the vault, and what a call with it may reach. Every
 * secret it sees is registered with the log redactor; opened secrets are cached per (credential,
 * version), so the request path decrypts each once, and dropped when the change feed says the
 * credential changed (on every node).
 */
export class CredentialSecrets {
  readonly #cipher: Cipher;
  readonly #policies: UpstreamPolicies;
  readonly #audit: AuditLog;
  readonly #redactor: SecretRedactor;
  readonly #logger: Logger;
  /** Decrypted secrets by `id:version`. */
  readonly #opened = new Map<string, string>();
  readonly #unsubscribe: () => void;

  constructor(deps: {
    cipher: Cipher;
    policies: UpstreamPolicies;
    audit: AuditLog;
    changes: ChangeFeed;
    redactor: SecretRedactor;
    logger: Logger;
  }) {
    this.#cipher = deps.cipher;
    this.#policies = deps.policies;
    this.#audit = deps.audit;
    this.#redactor = deps.redactor;
    this.#logger = deps.logger;
    this.#unsubscribe = deps.changes.subscribe((topic) => this.#invalidate(topic));
  }

  /** The columns to store for a new secret, which from now on never appears in a log line. */
  seal(secret: string | null, row: SealedRow): SealedColumns {
    if (secret !== null) this.#redactor.register(secret);
    return sealSecret(this.#cipher, secret, row);
  }

  /** The decrypted secret of a row, from the cache after the first use. */
  revealSecret(row: CredentialRecord): string | null {
    if (!row.secretCiphertext || !row.secretNonce || !row.secretKeyId) return null;
    const key = `${row.id}:${row.version}`;
    const cached = this.#opened.get(key);
    if (cached !== undefined) return cached;
    let secret: string;
    try {
      secret = this.#cipher.open(
        { keyId: row.secretKeyId, nonce: row.secretNonce, ciphertext: row.secretCiphertext },
        credentialAad(row),
      );
    } catch (error) {
      this.#logger.error(
        { credentialId: row.id, code: (error as KeywayError).code },
        'a stored secret could not be decrypted',
      );
      void this.#audit
        .record({
          actorId: null,
          action: 'credential.use_failure',
          targetType: 'credential',
          targetId: row.id,
          details: { reason: (error as KeywayError).code },
        })
        .catch(() => {});
      throw new KeywayError(
        'secret_unreadable',
        `The stored secret of credential "${row.name}" cannot be decrypted: it was altered or copied from another row.`,
        {
          fix: 'Rotate the credential to store its secret again.',
        },
      );
    }
    this.#redactor.register(secret);
    this.#opened.set(key, secret);
    return secret;
  }

  /** Which upstream addresses calls with this credential may reach (by its owner's role). */
  upstreamPolicy(row: CredentialRecord): UpstreamPolicy {
    return policyForOwner(this.#policies, row.ownerIsAdmin);
  }

  /** A provider call with this credential: its opened secret, its settings and its reach. */
  callWith(row: CredentialRecord, provider: ProviderDefinition): ProviderCall {
    return {
      provider,
      secret: this.revealSecret(row),
      settings: row.settings,
      policy: this.upstreamPolicy(row),
    };
  }

  close(): void {
    this.#unsubscribe();
  }

  #invalidate(topic: string): void {
    if (topic === '*') {
      this.#opened.clear();
      return;
    }
    if (!topic.startsWith('credential:')) return;
    const id = topic.slice('credential:'.length);
    for (const key of this.#opened.keys()) if (key.startsWith(`${id}:`)) this.#opened.delete(key);
  }
}
