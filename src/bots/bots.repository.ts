import { sql, type Kysely } from 'kysely';
import { inTransaction } from '../db/in-transaction.ts';
import type { BotSessionStatus, DB } from '../db/tables.ts';
import type { Limits } from '../limits/limits.ts';

/** A bot row as the service works with it; the sealed secrets travel only inside the service. */
export interface BotRecord {
  id: string;
  ownerId: string;
  name: string;
  credentialId: string | null;
  model: string;
  config: Record<string, unknown>;
  /** Limits on the bot's own requests (`Limits`). */
  limits: Record<string, unknown>;
  fallbackBotId: string | null;
  fallbackCredentialIds: string[];
  webhookUrl: string | null;
  evolutionServerUrl: string | null;
  evolutionInstance: string | null;
  secretsKeyId: string;
  secretsNonce: Buffer;
  secretsCiphertext: Buffer;
  version: number;
  createdAt: Date;
  updatedAt: Date;
  /** The owner's account is disabled: the bot answers nothing and delivers nothing until re-enabled. */
  ownerDisabled: boolean;
  /** The owner is an admin now: decides which addresses the bot's callbacks may reach. */
  ownerIsAdmin: boolean;
}

export interface BotRowInput {
  name: string;
  credentialId: string | null;
  model: string;
  config: Record<string, unknown>;
  limits: Limits;
  fallbackBotId: string | null;
  fallbackCredentialIds: string[];
  webhookUrl: string | null;
  evolutionServerUrl: string | null;
  evolutionInstance: string | null;
  secretsKeyId: string;
  secretsNonce: Buffer;
  secretsCiphertext: Buffer;
}

const COLUMNS = [
  'bots.id',
  'bots.owner_id as ownerId',
  'bots.name',
  'bots.credential_id as credentialId',
  'bots.model',
  'bots.config',
  'bots.limits',
  'bots.fallback_bot_id as fallbackBotId',
  'bots.webhook_url as webhookUrl',
  'bots.evolution_server_url as evolutionServerUrl',
  'bots.evolution_instance as evolutionInstance',
  'bots.secrets_key_id as secretsKeyId',
  'bots.secrets_nonce as secretsNonce',
  'bots.secrets_ciphertext as secretsCiphertext',
  'bots.version',
  'bots.created_at as createdAt',
  'bots.updated_at as updatedAt',
] as const;

/**
 * Bots. Every read and write of the API is scoped to the owner: another user's bot does not exist.
 * `findById` is for the inbound hooks, which authenticate by the bot's own secret instead.
 */
export class BotsRepository {
  readonly #db: Kysely<DB>;

  constructor(db: Kysely<DB>) {
    this.#db = db;
  }

  #select(db: Kysely<DB> = this.#db) {
    return db
      .selectFrom('bots')
      .innerJoin('users', 'users.id', 'bots.owner_id')
      .select(COLUMNS)
      .select(sql<boolean>`users.disabled_at IS NOT NULL`.as('ownerDisabled'))
      .select(sql<boolean>`users.role = 'admin'`.as('ownerIsAdmin'))
      .select((eb) =>
        eb
          .selectFrom('bot_fallback_credentials')
          .whereRef('bot_fallback_credentials.bot_id', '=', 'bots.id')
          .select(sql<string[]>`coalesce(json_agg(credential_id ORDER BY position), '[]'::json)`.as('ids'))
          .as('fallbackCredentialIds'),
      );
  }

  async listOwned(ownerId: string): Promise<BotRecord[]> {
    return (await this.#select().where('bots.owner_id', '=', ownerId).orderBy('bots.name').execute()).map(
      toRecord,
    );
  }

  async findOwned(ownerId: string, id: string): Promise<BotRecord | undefined> {
    const row = await this.#select()
      .where('bots.owner_id', '=', ownerId)
      .where('bots.id', '=', id)
      .executeTakeFirst();
    return row && toRecord(row);
  }

  async findOwnedByName(ownerId: string, name: string): Promise<BotRecord | undefined> {
    // No bot is named with a NUL (names are validated), and PostgreSQL refuses one as a parameter.
    if (name.includes('\u0000')) return undefined;
    const row = await this.#select()
      .where('bots.owner_id', '=', ownerId)
      .where(sql`lower(bots.name)`, '=', name.toLowerCase())
      .executeTakeFirst();
    return row && toRecord(row);
  }

  async findById(id: string): Promise<BotRecord | undefined> {
    const row = await this.#select().where('bots.id', '=', id).executeTakeFirst();
    return row && toRecord(row);
  }

  async insert(id: string, ownerId: string, input: BotRowInput): Promise<void> {
    await inTransaction(this.#db, async (trx) => {
      await trx
        .insertInto('bots')
        .values({
          id,
          owner_id: ownerId,
          name: input.name,
          credential_id: input.credentialId,
          model: input.model,
          config: JSON.stringify(input.config),
          limits: JSON.stringify(input.limits),
          fallback_bot_id: input.fallbackBotId,
          webhook_url: input.webhookUrl,
          evolution_server_url: input.evolutionServerUrl,
          evolution_instance: input.evolutionInstance,
          secrets_key_id: input.secretsKeyId,
          secrets_nonce: input.secretsNonce,
          secrets_ciphertext: input.secretsCiphertext,
        })
        .execute();
      await writeFallbacks(trx, id, input.fallbackCredentialIds);
    });
  }

  /** Writes the whole row; `false` when it changed since it was read (the caller retries or refuses). */
  async update(ownerId: string, id: string, version: number, input: BotRowInput): Promise<boolean> {
    return inTransaction(this.#db, async (trx) => {
      const result = await trx
        .updateTable('bots')
        .set({
          name: input.name,
          credential_id: input.credentialId,
          model: input.model,
          config: JSON.stringify(input.config),
          limits: JSON.stringify(input.limits),
          fallback_bot_id: input.fallbackBotId,
          webhook_url: input.webhookUrl,
          evolution_server_url: input.evolutionServerUrl,
          evolution_instance: input.evolutionInstance,
          secrets_key_id: input.secretsKeyId,
          secrets_nonce: input.secretsNonce,
          secrets_ciphertext: input.secretsCiphertext,
          version: version + 1,
          updated_at: new Date(),
        })
        .where('id', '=', id)
        .where('owner_id', '=', ownerId)
        .where('version', '=', version)
        .executeTakeFirst();
      if (result.numUpdatedRows !== 1n) return false;
      await trx.deleteFrom('bot_fallback_credentials').where('bot_id', '=', id).execute();
      await writeFallbacks(trx, id, input.fallbackCredentialIds);
      return true;
    });
  }

  async delete(ownerId: string, id: string): Promise<boolean> {
    const result = await this.#db
      .deleteFrom('bots')
      .where('id', '=', id)
      .where('owner_id', '=', ownerId)
      .executeTakeFirst();
    return result.numDeletedRows === 1n;
  }

  /** Bots that reference each credential, as their main or a fallback credential. */
  async botsUsing(credentialIds: string[]): Promise<{ credentialId: string; id: string; name: string }[]> {
    if (credentialIds.length === 0) return [];
    const main = this.#db
      .selectFrom('bots')
      .select(['bots.credential_id as credentialId', 'bots.id', 'bots.name'])
      .where('bots.credential_id', 'in', credentialIds);
    const fallback = this.#db
      .selectFrom('bot_fallback_credentials')
      .innerJoin('bots', 'bots.id', 'bot_fallback_credentials.bot_id')
      .select(['bot_fallback_credentials.credential_id as credentialId', 'bots.id', 'bots.name'])
      .where('bot_fallback_credentials.credential_id', 'in', credentialIds);
    const rows = await main.union(fallback).execute();
    return rows.map((row) => ({ credentialId: row.credentialId!, id: row.id, name: row.name }));
  }

  /** Stops every bot from using a credential that is about to be deleted. */
  async detachCredential(credentialId: string): Promise<void> {
    await inTransaction(this.#db, async (trx) => {
      await trx
        .updateTable('bots')
        .set((eb) => ({ credential_id: null, version: eb('version', '+', 1), updated_at: new Date() }))
        .where('credential_id', '=', credentialId)
        .execute();
      await trx.deleteFrom('bot_fallback_credentials').where('credential_id', '=', credentialId).execute();
    });
  }

  /** Sealed secrets to re-seal during a master-key rotation. */
  async sealedNotUnder(keyId: string, limit: number) {
    return this.#db
      .selectFrom('bots')
      .select([
        'id',
        'owner_id as ownerId',
        'secrets_key_id as keyId',
        'secrets_nonce as nonce',
        'secrets_ciphertext as ciphertext',
      ])
      .where('secrets_key_id', '<>', keyId)
      .orderBy('id')
      .limit(limit)
      .execute();
  }

  async reseal(id: string, keyId: string, nonce: Buffer, ciphertext: Buffer): Promise<void> {
    await this.#db
      .updateTable('bots')
      .set({ secrets_key_id: keyId, secrets_nonce: nonce, secrets_ciphertext: ciphertext })
      .where('id', '=', id)
      .execute();
  }
}

async function writeFallbacks(trx: Kysely<DB>, botId: string, credentialIds: string[]): Promise<void> {
  if (credentialIds.length === 0) return;
  await trx
    .insertInto('bot_fallback_credentials')
    .values(
      credentialIds.map((credentialId, position) => ({
        bot_id: botId,
        credential_id: credentialId,
        position,
      })),
    )
    .execute();
}

function toRecord(
  row: Omit<BotRecord, 'fallbackCredentialIds'> & { fallbackCredentialIds: unknown },
): BotRecord {
  const ids =
    typeof row.fallbackCredentialIds === 'string'
      ? JSON.parse(row.fallbackCredentialIds)
      : row.fallbackCredentialIds;
  return { ...row, fallbackCredentialIds: Array.isArray(ids) ? (ids as string[]) : [] };
}

export interface SessionRecord {
  id: string;
  botId: string;
  contact: string;
  contactName: string | null;
  status: BotSessionStatus;
  closeReason: string | null;
  /** Why the bot's last reply in this session failed, if it did. */
  lastFailure: { code: string; message: string; at: string } | null;
  openedAt: Date;
  lastActivityAt: Date;
  closedAt: Date | null;
}

/** One message of a session as its owner reads it back. */
export interface TranscriptMessage {
  id: number;
  role: 'user' | 'assistant';
  content: string;
  at: Date;
}

const SESSION_COLUMNS = [
  'id',
  'bot_id as botId',
  'contact',
  'contact_name as contactName',
  'status',
  'close_reason as closeReason',
  sql<{ code: string; message: string; at: string } | null>`last_failure`.as('lastFailure'),
  'opened_at as openedAt',
  'last_activity_at as lastActivityAt',
  'closed_at as closedAt',
] as const;

/** Sessions and their history. Callers have already scoped the bot to its owner. */
export class BotSessionsRepository {
  readonly #db: Kysely<DB>;

  constructor(db: Kysely<DB>) {
    this.#db = db;
  }

  async findById(id: string): Promise<SessionRecord | undefined> {
    return this.#db
      .selectFrom('bot_sessions')
      .select(SESSION_COLUMNS)
      .where('id', '=', id)
      .executeTakeFirst();
  }

  async findOpen(botId: string, contact: string): Promise<SessionRecord | undefined> {
    return this.#db
      .selectFrom('bot_sessions')
      .select(SESSION_COLUMNS)
      .where('bot_id', '=', botId)
      .where('contact', '=', contact)
      .where('status', '<>', 'closed')
      .executeTakeFirst();
  }

  /**
   * The open session of (bot, contact), opened with `status` if there is none. The partial unique
   * index decides between two nodes opening at once: the loser reads the winner's row.
   */
  async open(
    id: string,
    botId: string,
    contact: string,
    contactName: string | null,
    status: 'opened' | 'paused',
  ): Promise<SessionRecord> {
    await this.#db
      .insertInto('bot_sessions')
      .values({ id, bot_id: botId, contact, contact_name: contactName, status })
      .onConflict((oc) => oc.columns(['bot_id', 'contact']).where('status', '<>', 'closed').doNothing())
      .execute();
    return (await this.findOpen(botId, contact))!;
  }

  async setStatus(id: string, status: BotSessionStatus, reason: string | null): Promise<void> {
    await this.#db
      .updateTable('bot_sessions')
      .set({
        status,
        close_reason: status === 'closed' ? reason : null,
        closed_at: status === 'closed' ? new Date() : null,
        last_activity_at: new Date(),
      })
      .where('id', '=', id)
      .execute();
  }

  async list(botId: string, options: { status?: BotSessionStatus; limit: number }): Promise<SessionRecord[]> {
    let query = this.#db
      .selectFrom('bot_sessions')
      .select(SESSION_COLUMNS)
      .where('bot_id', '=', botId)
      .orderBy('last_activity_at', 'desc')
      .limit(options.limit);
    if (options.status) query = query.where('status', '=', options.status);
    return query.execute();
  }

  /** The last `limit` messages of a session, oldest first. */
  async history(
    sessionId: string,
    limit: number,
  ): Promise<{ role: 'user' | 'assistant'; content: string }[]> {
    if (limit <= 0) return [];
    const rows = await this.#db
      .selectFrom('bot_messages')
      .select(['role', 'content'])
      .where('session_id', '=', sessionId)
      .orderBy('id', 'desc')
      .limit(limit)
      .execute();
    return rows.reverse();
  }

  /** A session of this bot (never another bot's), whatever its status. */
  async findOfBot(botId: string, sessionId: string): Promise<SessionRecord | undefined> {
    return this.#db
      .selectFrom('bot_sessions')
      .select(SESSION_COLUMNS)
      .where('bot_id', '=', botId)
      .where('id', '=', sessionId)
      .executeTakeFirst();
  }

  /**
   * A page of a session's transcript, oldest first: the newest `limit` messages before message
   * `before` (all of them when absent), and whether older ones remain.
   */
  async transcript(
    sessionId: string,
    options: { limit: number; before?: number },
  ): Promise<{ messages: TranscriptMessage[]; hasMore: boolean }> {
    let query = this.#db
      .selectFrom('bot_messages')
      .select(['id', 'role', 'content', 'at'])
      .where('session_id', '=', sessionId)
      .orderBy('id', 'desc')
      .limit(options.limit + 1);
    if (options.before !== undefined) query = query.where('id', '<', options.before);
    const rows = await query.execute();
    const hasMore = rows.length > options.limit;
    return { messages: rows.slice(0, options.limit).reverse(), hasMore };
  }

  async countMessages(sessionIds: string[]): Promise<Map<string, number>> {
    if (sessionIds.length === 0) return new Map();
    const rows = await this.#db
      .selectFrom('bot_messages')
      .select(['session_id as sessionId', (eb) => eb.fn.countAll<number>().as('count')])
      .where('session_id', 'in', sessionIds)
      .groupBy('session_id')
      .execute();
    return new Map(rows.map((row) => [row.sessionId, Number(row.count)]));
  }

  /** Records why the bot could not answer (kept until the next failure). */
  async recordFailure(sessionId: string, failure: { code: string; message: string }): Promise<void> {
    await this.#db
      .updateTable('bot_sessions')
      .set({ last_failure: JSON.stringify({ ...failure, at: new Date().toISOString() }) })
      .where('id', '=', sessionId)
      .execute();
  }

  async append(
    sessionId: string,
    messages: { role: 'user' | 'assistant'; content: string }[],
  ): Promise<void> {
    await inTransaction(this.#db, async (trx) => {
      if (messages.length > 0) {
        await trx
          .insertInto('bot_messages')
          .values(messages.map((message) => ({ session_id: sessionId, ...message })))
          .execute();
      }
      await trx
        .updateTable('bot_sessions')
        .set({ last_activity_at: new Date() })
        .where('id', '=', sessionId)
        .execute();
    });
  }
}
