import { sql, type ExpressionBuilder, type Kysely, type Transaction } from 'kysely';
import type { DB } from '../db/tables.ts';
import { isUniqueViolation } from '../db/unique-violation.ts';

/** A credential row as the service works with it; the sealed secret travels only inside the service. */
export interface CredentialRecord {
  id: string;
  ownerId: string | null;
  /**
   * Whether the owner is an admin now (a shared credential counts: only admins make them). Decides
   * which upstream addresses the credential may reach; read at every load, so a demotion takes effect.
   */
  ownerIsAdmin: boolean;
  provider: string;
  name: string;
  settings: Record<string, unknown>;
  secretKeyId: string | null;
  secretNonce: Buffer | null;
  secretCiphertext: Buffer | null;
  fingerprint: string | null;
  hint: string;
  status: 'unchecked' | 'valid' | 'invalid';
  statusMessage: string | null;
  lastCheckedAt: Date | null;
  lastUsedAt: Date | null;
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

const COLUMNS = [
  'id',
  'owner_id as ownerId',
  sql<boolean>`coalesce((SELECT u.role = 'admin' FROM users u WHERE u.id = credentials.owner_id), true)`.as(
    'ownerIsAdmin',
  ),
  'provider',
  'name',
  'settings',
  'secret_key_id as secretKeyId',
  'secret_nonce as secretNonce',
  'secret_ciphertext as secretCiphertext',
  'fingerprint',
  'hint',
  'status',
  'status_message as statusMessage',
  'last_checked_at as lastCheckedAt',
  'last_used_at as lastUsedAt',
  'version',
  'created_at as createdAt',
  'updated_at as updatedAt',
] as const;

/** Who is asking, as the repository needs it: every query is scoped by it. */
export interface Scope {
  userId: string;
  admin: boolean;
}

export interface SealedColumns {
  secretKeyId: string | null;
  secretNonce: Buffer | null;
  secretCiphertext: Buffer | null;
  fingerprint: string | null;
  hint: string;
}

/**
 * Credentials. Reads see the caller's own rows and shared ones; writes reach the caller's own rows,
 * and shared ones only for admins. Nothing outside this class can forget that scope.
 */
export class CredentialsRepository {
  readonly #db: Kysely<DB>;

  constructor(db: Kysely<DB>) {
    this.#db = db;
  }

  /** Inserts; returns null when the owner (or the shared space) already has a credential of that name. */
  async insert(
    row: {
      id: string;
      ownerId: string | null;
      createdBy: string;
      provider: string;
      name: string;
      settings: Record<string, unknown>;
    } & SealedColumns,
  ): Promise<CredentialRecord | null> {
    try {
      return await this.#db
        .insertInto('credentials')
        .values({
          id: row.id,
          owner_id: row.ownerId,
          created_by: row.createdBy,
          provider: row.provider,
          name: row.name,
          settings: JSON.stringify(row.settings),
          secret_key_id: row.secretKeyId,
          secret_nonce: row.secretNonce,
          secret_ciphertext: row.secretCiphertext,
          fingerprint: row.fingerprint,
          hint: row.hint,
        })
        .returning(COLUMNS)
        .executeTakeFirstOrThrow();
    } catch (error) {
      if (isUniqueViolation(error)) return null;
      throw error;
    }
  }

  async findVisible(scope: Scope, id: string): Promise<CredentialRecord | undefined> {
    return this.#db
      .selectFrom('credentials')
      .select(COLUMNS)
      .where('id', '=', id)
      .where(visibleTo(scope))
      .executeTakeFirst();
  }

  async listVisible(scope: Scope): Promise<CredentialRecord[]> {
    return this.#db
      .selectFrom('credentials')
      .select(COLUMNS)
      .where(visibleTo(scope))
      .orderBy('owner_id', 'asc')
      .orderBy('name')
      .execute();
  }

  /** Visible credentials named `name` or for provider `name` (a model name's prefix may be either). */
  async findByNameOrProvider(scope: Scope, name: string): Promise<CredentialRecord[]> {
    return this.#db
      .selectFrom('credentials')
      .select(COLUMNS)
      .where(visibleTo(scope))
      .where((eb) =>
        eb.or([eb(eb.fn('lower', ['name']), '=', name.toLowerCase()), eb('provider', '=', name)]),
      )
      .orderBy('created_at')
      .execute();
  }

  /** Records use without a write per request: one statement per batch of requests. */
  async touchLastUsed(uses: { id: string; at: Date }[]): Promise<void> {
    if (uses.length === 0) return;
    await sql`
      UPDATE credentials c SET last_used_at = u.at
        FROM jsonb_to_recordset(${JSON.stringify(uses)}::jsonb) AS u(id uuid, at timestamptz)
       WHERE c.id = u.id AND (c.last_used_at IS NULL OR c.last_used_at < u.at)`.execute(this.#db);
  }

  /** Visible credentials holding the same secret (by fingerprint). */
  async findDuplicates(
    scope: Scope,
    fingerprints: string[],
  ): Promise<{ id: string; name: string; fingerprint: string }[]> {
    if (fingerprints.length === 0) return [];
    const rows = await this.#db
      .selectFrom('credentials')
      .select(['id', 'name', 'fingerprint'])
      .where('fingerprint', 'in', fingerprints)
      .where(visibleTo(scope))
      .orderBy('name')
      .execute();
    return rows.map((row) => ({ id: row.id, name: row.name, fingerprint: row.fingerprint! }));
  }

  /** Renames or changes settings; undefined when not writable by the scope; null on a name clash. */
  async update(
    scope: Scope,
    id: string,
    changes: { name?: string; settings?: Record<string, unknown> },
  ): Promise<CredentialRecord | undefined | null> {
    try {
      return await this.#db
        .updateTable('credentials')
        .where(writableBy(scope))
        .set({
          ...(changes.name !== undefined ? { name: changes.name } : {}),
          ...(changes.settings !== undefined ? { settings: JSON.stringify(changes.settings) } : {}),
          updated_at: new Date(),
        })
        .where('id', '=', id)
        .returning(COLUMNS)
        .executeTakeFirst();
    } catch (error) {
      if (isUniqueViolation(error)) return null;
      throw error;
    }
  }

  /** Replaces the secret if the row is still at `version`; the version moves on by one. */
  async replaceSecret(
    scope: Scope,
    id: string,
    version: number,
    sealed: SealedColumns,
  ): Promise<CredentialRecord | undefined> {
    return this.#db
      .updateTable('credentials')
      .where(writableBy(scope))
      .set({
        secret_key_id: sealed.secretKeyId,
        secret_nonce: sealed.secretNonce,
        secret_ciphertext: sealed.secretCiphertext,
        fingerprint: sealed.fingerprint,
        hint: sealed.hint,
        version: version + 1,
        status: 'unchecked',
        status_message: null,
        last_checked_at: null,
        updated_at: new Date(),
      })
      .where('id', '=', id)
      .where('version', '=', version)
      .returning(COLUMNS)
      .executeTakeFirst();
  }

  async recordCheck(
    id: string,
    result: { status: 'valid' | 'invalid'; message: string | null; at: Date },
  ): Promise<void> {
    await this.#db
      .updateTable('credentials')
      .set({ status: result.status, status_message: result.message, last_checked_at: result.at })
      .where('id', '=', id)
      .execute();
  }

  async delete(scope: Scope, id: string): Promise<boolean> {
    const result = await this.#db
      .deleteFrom('credentials')
      .where(writableBy(scope))
      .where('id', '=', id)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  /**
   * For a master-key rotation: up to `limit` rows not sealed with `keyId`, locked for this
   * transaction (SKIP LOCKED lets two rotations share the work instead of waiting).
   */
  async lockBatchSealedWithOtherKey(
    trx: Transaction<DB>,
    keyId: string,
    limit: number,
  ): Promise<CredentialRecord[]> {
    return trx
      .selectFrom('credentials')
      .select(COLUMNS)
      .where('secret_key_id', 'is not', null)
      .where('secret_key_id', '!=', keyId)
      .orderBy('id')
      .limit(limit)
      .forUpdate()
      .skipLocked()
      .execute();
  }

  async reseal(trx: Transaction<DB>, id: string, sealed: Omit<SealedColumns, 'hint'>): Promise<void> {
    await trx
      .updateTable('credentials')
      .set({
        secret_key_id: sealed.secretKeyId,
        secret_nonce: sealed.secretNonce,
        secret_ciphertext: sealed.secretCiphertext,
        fingerprint: sealed.fingerprint,
      })
      .where('id', '=', id)
      .execute();
  }

  async countBySealingKey(): Promise<{ keyId: string; count: number }[]> {
    const rows = await this.#db
      .selectFrom('credentials')
      .select(['secret_key_id as keyId', (eb) => eb.fn.countAll<number>().as('count')])
      .where('secret_key_id', 'is not', null)
      .groupBy('secret_key_id')
      .execute();
    return rows.map((row) => ({ keyId: row.keyId!, count: Number(row.count) }));
  }

  /** Runs `fn` in one transaction (a master-key rotation batch). */
  transaction<T>(fn: (trx: Transaction<DB>) => Promise<T>): Promise<T> {
    return this.#db.transaction().execute(fn);
  }
}

const visibleTo = (scope: Scope) => (eb: ExpressionBuilder<DB, 'credentials'>) =>
  eb.or([eb('owner_id', '=', scope.userId), eb('owner_id', 'is', null)]);

const writableBy = (scope: Scope) => (eb: ExpressionBuilder<DB, 'credentials'>) =>
  scope.admin
    ? eb.or([eb('owner_id', '=', scope.userId), eb('owner_id', 'is', null)])
    : eb('owner_id', '=', scope.userId);
