import { randomUUID } from 'node:crypto';
import { inTransaction } from '../db/in-transaction.ts';
import { sql, type ExpressionBuilder, type Kysely, type Transaction } from 'kysely';
import type { DB, GrantSubjectType } from '../db/tables.ts';
import { limitsFrom, type Limits } from '../limits/limits.ts';
import type { Price } from '../usage/prices.ts';
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
  /** USD per million tokens by model id, overriding the price catalogue. */
  prices: Record<string, Price>;
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
  sql<Record<string, Price>>`prices`.as('prices'),
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
  /** The API token of the request, if any: grants to that token reach it. */
  tokenId?: string | undefined;
  /** The bot asking, if any: grants to that bot reach it. */
  botId?: string | undefined;
}

/** A grant, as model resolution and limits need it. */
export interface GrantTerms {
  id: string;
  subjectType: GrantSubjectType;
  subjectId: string | null;
  /** Model patterns (`*` wildcards); null: every model. */
  models: string[] | null;
  limits: Limits;
  expiresAt: Date | null;
}

/** How the scope reaches a credential: as its owner (or, for an admin, as one of its owners), or through grants. */
export interface CredentialAccess {
  direct: boolean;
  /** The live grants that reach the scope, most specific first (token, bot, user, team, everyone). */
  grants: GrantTerms[];
}

/** A credential with how the caller reaches it: what reads for use answer. */
export type UsableCredential = CredentialRecord & { access: CredentialAccess };

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
      prices: Record<string, Price>;
      /** Also grants its use to everyone, in the same transaction. */
      grantToEveryone: boolean;
    } & SealedColumns,
  ): Promise<CredentialRecord | null> {
    try {
      return await inTransaction(this.#db, async (trx) => {
        const inserted = await trx
          .insertInto('credentials')
          .values({
            id: row.id,
            owner_id: row.ownerId,
            created_by: row.createdBy,
            provider: row.provider,
            name: row.name,
            settings: JSON.stringify(row.settings),
            prices: JSON.stringify(row.prices),
            secret_key_id: row.secretKeyId,
            secret_nonce: row.secretNonce,
            secret_ciphertext: row.secretCiphertext,
            fingerprint: row.fingerprint,
            hint: row.hint,
          })
          .returning(COLUMNS)
          .executeTakeFirstOrThrow();
        if (row.grantToEveryone) {
          await trx
            .insertInto('credential_grants')
            .values({
              id: randomUUID(),
              credential_id: row.id,
              subject_type: 'everyone',
              subject_id: null,
              created_by: row.createdBy,
            })
            .execute();
        }
        return inserted;
      });
    } catch (error) {
      if (isUniqueViolation(error)) return null;
      throw error;
    }
  }

  async findVisible(scope: Scope, id: string): Promise<UsableCredential | undefined> {
    const row = await this.#db
      .selectFrom('credentials')
      .select([...COLUMNS, accessOf(scope)])
      .where('id', '=', id)
      .where(visibleTo(scope))
      .executeTakeFirst();
    return row && withAccess(row);
  }

  async listVisible(scope: Scope): Promise<UsableCredential[]> {
    const rows = await this.#db
      .selectFrom('credentials')
      .select([...COLUMNS, accessOf(scope)])
      .where(visibleTo(scope))
      .orderBy('owner_id', 'asc')
      .orderBy('name')
      .execute();
    return rows.map(withAccess);
  }

  /** Visible credentials named `name` or for provider `name` (a model name's prefix may be either). */
  async findByNameOrProvider(scope: Scope, name: string): Promise<UsableCredential[]> {
    const rows = await this.#db
      .selectFrom('credentials')
      .select([...COLUMNS, accessOf(scope)])
      .where(visibleTo(scope))
      .where((eb) =>
        eb.or([eb(eb.fn('lower', ['name']), '=', name.toLowerCase()), eb('provider', '=', name)]),
      )
      .orderBy('created_at')
      .execute();
    return rows.map(withAccess);
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
    changes: { name?: string; settings?: Record<string, unknown>; prices?: Record<string, Price> },
  ): Promise<CredentialRecord | undefined | null> {
    try {
      return await this.#db
        .updateTable('credentials')
        .where(writableBy(scope))
        .set({
          ...(changes.name !== undefined ? { name: changes.name } : {}),
          // New settings (another endpoint, another deployment) make the last check say nothing.
          ...(changes.settings !== undefined
            ? {
                settings: JSON.stringify(changes.settings),
                status: 'unchecked' as const,
                status_message: null,
              }
            : {}),
          ...(changes.prices !== undefined ? { prices: JSON.stringify(changes.prices) } : {}),
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

/**
 * The live grants on `credentials.id` that reach the scope: to everyone, to the user, to a team the
 * user is in, to the request's API token, to the asking bot. One SQL fragment, used both to decide
 * visibility and to list the grants, so the two cannot disagree.
 */
const reachingGrants = (scope: Scope) => sql`
  credential_grants g
  WHERE g.credential_id = credentials.id
    AND (g.expires_at IS NULL OR g.expires_at > now())
    AND (g.subject_type = 'everyone'
      OR (g.subject_type = 'user' AND g.subject_id = ${scope.userId}::uuid)
      OR (g.subject_type = 'team' AND g.subject_id IN
            (SELECT m.team_id FROM team_members m WHERE m.user_id = ${scope.userId}::uuid))
      OR (g.subject_type = 'token' AND g.subject_id = ${scope.tokenId ?? null}::uuid)
      OR (g.subject_type = 'bot' AND g.subject_id = ${scope.botId ?? null}::uuid))`;

const ownedBy = (scope: Scope) => (eb: ExpressionBuilder<DB, 'credentials'>) =>
  scope.admin
    ? eb.or([eb('owner_id', '=', scope.userId), eb('owner_id', 'is', null)])
    : eb('owner_id', '=', scope.userId);

/** What a scope may see and use: its own credentials (an admin: also the admins' ones) and those granted to it. */
const visibleTo = (scope: Scope) => (eb: ExpressionBuilder<DB, 'credentials'>) =>
  eb.or([ownedBy(scope)(eb), sql<boolean>`EXISTS (SELECT 1 FROM ${reachingGrants(scope)})`]);

const SPECIFICITY = sql`CASE g.subject_type WHEN 'token' THEN 0 WHEN 'bot' THEN 1 WHEN 'user' THEN 2 WHEN 'team' THEN 3 ELSE 4 END`;

/** How the scope reaches each row: directly, and by which grants (as JSON, most specific first). */
const accessOf = (scope: Scope) =>
  sql<{ direct: boolean; grants: RawGrant[] }>`json_build_object(
    'direct', ${scope.admin ? sql`(credentials.owner_id = ${scope.userId}::uuid OR credentials.owner_id IS NULL)` : sql`credentials.owner_id IS NOT DISTINCT FROM ${scope.userId}::uuid`},
    'grants', coalesce((SELECT json_agg(json_build_object('id', g.id, 'subjectType', g.subject_type,
        'subjectId', g.subject_id, 'models', g.models, 'limits', g.limits, 'expiresAt', g.expires_at)
        ORDER BY ${SPECIFICITY}, g.created_at) FROM ${reachingGrants(scope)}), '[]'::json))`.as('access');

interface RawGrant {
  id: string;
  subjectType: GrantSubjectType;
  subjectId: string | null;
  models: string[] | null;
  limits: unknown;
  expiresAt: string | null;
}

function withAccess<T extends CredentialRecord & { access: { direct: boolean; grants: RawGrant[] } }>(
  row: T,
): T & UsableCredential {
  return {
    ...row,
    access: {
      direct: row.access.direct,
      grants: row.access.grants.map((grant) => ({
        ...grant,
        limits: limitsFrom(grant.limits),
        expiresAt: grant.expiresAt === null ? null : new Date(grant.expiresAt),
      })),
    },
  };
}

const writableBy = ownedBy;
