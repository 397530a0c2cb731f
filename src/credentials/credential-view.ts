import type { CredentialConsumer } from './credential-usage.ts';
import type { CredentialRecord } from './credentials.repository.ts';
import type { Price } from '../usage/prices.ts';

/** A credential as the API shows it: everything but the secret. */
export interface CredentialView {
  id: string;
  name: string;
  provider: string;
  shared: boolean;
  /** Whether the caller may change, rotate, delete and grant it (else it is granted to them). */
  manageable: boolean;
  settings: Record<string, unknown>;
  prices: Record<string, Price>;
  hint: string;
  fingerprint: string | null;
  status: 'unchecked' | 'valid' | 'invalid';
  statusMessage: string | null;
  lastCheckedAt: Date | null;
  lastUsedAt: Date | null;
  usedBy: { bots: number };
  duplicates: { id: string; name: string }[];
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

/**
 * The view of a row, given what else the caller can see: the credentials holding the same key (by
 * fingerprint) and the bots using each credential.
 */
export function credentialView(
  row: CredentialRecord,
  related: {
    duplicates: { id: string; name: string; fingerprint: string | null }[];
    usage: Map<string, CredentialConsumer[]>;
    manageable: boolean;
  },
): CredentialView {
  return {
    id: row.id,
    name: row.name,
    provider: row.provider,
    shared: row.ownerId === null,
    manageable: related.manageable,
    settings: row.settings,
    prices: row.prices,
    hint: row.hint,
    fingerprint: row.fingerprint,
    status: row.status,
    statusMessage: row.statusMessage,
    lastCheckedAt: row.lastCheckedAt,
    lastUsedAt: row.lastUsedAt,
    usedBy: { bots: related.usage.get(row.id)?.length ?? 0 },
    duplicates: related.duplicates
      .filter((other) => other.fingerprint === row.fingerprint && other.id !== row.id)
      .map(({ id, name }) => ({ id, name })),
    version: row.version,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}
