import { sql, type Kysely } from 'kysely';
import type { BotChannel, DB, InboxMedia } from '../db/tables.ts';

export interface InboxMessage {
  id: number;
  contact: string;
  contactName: string | null;
  channel: BotChannel;
  externalId: string | null;
  text: string | null;
  /** An image or a voice note the message carried; `bytes` null: fetched from the channel at turn time. */
  media: (InboxMedia & { bytes: Buffer | null }) | null;
}

export interface OutboxItem {
  id: number;
  botId: string;
  contact: string;
  channel: 'webhook' | 'evolution';
  payload: Record<string, unknown>;
  attempts: number;
}

/**
 * The database side of the bot engine: the inbox (acknowledged inbound messages and their debounce
 * windows), the per-contact turn lease, and the outbox of replies. Times come from the database's
 * clock, so nodes with drifting clocks still agree on when a window closes or a lease ends.
 */
export class BotQueueRepository {
  readonly #db: Kysely<DB>;

  constructor(db: Kysely<DB>) {
    this.#db = db;
  }

  /**
   * Stores an inbound message whose window closes `debounceSeconds` from now. Returns null when the
   * channel already delivered a message with this id (a redelivered webhook).
   */
  async receive(message: {
    botId: string;
    contact: string;
    contactName: string | null;
    channel: BotChannel;
    externalId: string | null;
    text: string | null;
    media: (InboxMedia & { bytes: Uint8Array | null }) | null;
    debounceSeconds: number;
  }): Promise<{ id: number; dueInMs: number } | null> {
    const row = await this.#db
      .insertInto('bot_inbox')
      .values({
        bot_id: message.botId,
        contact: message.contact,
        contact_name: message.contactName,
        channel: message.channel,
        external_id: message.externalId,
        text: message.text,
        media: message.media
          ? JSON.stringify({ kind: message.media.kind, mimeType: message.media.mimeType })
          : null,
        media_bytes: message.media?.bytes ? Buffer.from(message.media.bytes) : null,
        due_at: sql<Date>`now() + make_interval(secs => ${message.debounceSeconds})`,
      })
      .onConflict((oc) =>
        oc.columns(['bot_id', 'external_id']).where('external_id', 'is not', null).doNothing(),
      )
      .returning(['id', sql<number>`extract(epoch from (due_at - now())) * 1000`.as('dueInMs')])
      .executeTakeFirst();
    return row ? { id: row.id, dueInMs: Math.max(0, Number(row.dueInMs)) } : null;
  }

  /** Unhandled messages of a contact, oldest first, and whether the last window has closed. */
  async pending(botId: string, contact: string): Promise<{ messages: InboxMessage[]; due: boolean }> {
    const rows = await this.#db
      .selectFrom('bot_inbox')
      .select([
        'id',
        'contact',
        'contact_name as contactName',
        'channel',
        'external_id as externalId',
        'text',
        'media',
        'media_bytes as mediaBytes',
        sql<boolean>`due_at <= now()`.as('due'),
      ])
      .where('bot_id', '=', botId)
      .where('contact', '=', contact)
      .where('handled_at', 'is', null)
      .orderBy('id')
      .execute();
    return {
      messages: rows.map(({ due: _due, media, mediaBytes, ...message }) => ({
        ...message,
        media: media
          ? {
              ...((typeof media === 'string' ? JSON.parse(media) : media) as InboxMedia),
              // PGlite hands bytea back as a Uint8Array, pg as a Buffer.
              bytes: mediaBytes ? Buffer.from(mediaBytes) : null,
            }
          : null,
      })),
      due: rows.length > 0 && rows.every((row) => row.due),
    };
  }

  async isHandled(id: number): Promise<boolean> {
    const row = await this.#db
      .selectFrom('bot_inbox')
      .select('handled_at')
      .where('id', '=', id)
      .executeTakeFirst();
    return !row || row.handled_at !== null;
  }

  /**
   * Contacts whose window has closed and nobody answered: what a node's sweep picks up (after a
   * crash, or when the node that received the message went away). A waiting HTTP caller gets a grace
   * period to answer its own message first. Contacts backing off after a failed turn wait for their
   * retry time; bots of a disabled owner wait until the owner is enabled again.
   */
  async dueContacts(limit: number): Promise<{ botId: string; contact: string }[]> {
    return this.#db
      .selectFrom('bot_inbox')
      .innerJoin('bots', 'bots.id', 'bot_inbox.bot_id')
      .innerJoin('users', 'users.id', 'bots.owner_id')
      .leftJoin('bot_contacts', (join) =>
        join
          .onRef('bot_contacts.bot_id', '=', 'bot_inbox.bot_id')
          .onRef('bot_contacts.contact', '=', 'bot_inbox.contact'),
      )
      .select(['bot_inbox.bot_id as botId', 'bot_inbox.contact'])
      .where('bot_inbox.handled_at', 'is', null)
      .where('users.disabled_at', 'is', null)
      .where((eb) =>
        eb.or([eb('bot_contacts.retry_at', 'is', null), eb('bot_contacts.retry_at', '<=', sql<Date>`now()`)]),
      )
      .groupBy(['bot_inbox.bot_id', 'bot_inbox.contact'])
      .having(
        sql<boolean>`max(bot_inbox.due_at) <= now() - CASE WHEN bool_or(bot_inbox.channel = 'http') THEN interval '10 seconds' ELSE interval '0 seconds' END`,
      )
      .limit(limit)
      .execute();
  }

  /**
   * Takes the turn of (bot, contact) for `leaseMs`: null while another node holds it, while the
   * contact backs off after a failed turn, or when the bot's owner is disabled (so no path of the
   * engine calls a provider for a disabled owner). Returns how many turns failed in a row before.
   */
  async claimTurn(botId: string, contact: string, leaseMs: number): Promise<{ failures: number } | null> {
    const row = await this.#db
      .insertInto('bot_contacts')
      .columns(['bot_id', 'contact', 'busy_until'])
      .expression((eb) =>
        eb
          .selectFrom('bots')
          .innerJoin('users', 'users.id', 'bots.owner_id')
          .select([
            'bots.id',
            sql<string>`${contact}::text`.as('contact'),
            sql<Date>`now() + make_interval(secs => ${leaseMs / 1000})`.as('busy_until'),
          ])
          .where('bots.id', '=', botId)
          .where('users.disabled_at', 'is', null),
      )
      .onConflict((oc) =>
        oc
          .columns(['bot_id', 'contact'])
          .doUpdateSet({ busy_until: (eb) => eb.ref('excluded.busy_until') })
          .where(sql<boolean>`(bot_contacts.busy_until IS NULL OR bot_contacts.busy_until < now())`)
          .where(sql<boolean>`(bot_contacts.retry_at IS NULL OR bot_contacts.retry_at <= now())`),
      )
      .returning('failures')
      .executeTakeFirst();
    return row ? { failures: row.failures } : null;
  }

  /** A turn failed: counted, and no turn of this contact before `retryInMs` from now. */
  async failTurn(botId: string, contact: string, retryInMs: number): Promise<void> {
    await this.#db
      .updateTable('bot_contacts')
      .set((eb) => ({
        failures: eb('failures', '+', 1),
        retry_at: sql<Date>`now() + make_interval(secs => ${retryInMs / 1000})`,
      }))
      .where('bot_id', '=', botId)
      .where('contact', '=', contact)
      .execute();
  }

  /** Extends a turn this node holds (a long provider call). */
  async renewTurn(botId: string, contact: string, leaseMs: number): Promise<void> {
    await this.#db
      .updateTable('bot_contacts')
      .set({ busy_until: sql<Date>`now() + make_interval(secs => ${leaseMs / 1000})` })
      .where('bot_id', '=', botId)
      .where('contact', '=', contact)
      .execute();
  }

  async releaseTurn(botId: string, contact: string): Promise<void> {
    await this.#db
      .updateTable('bot_contacts')
      .set({ busy_until: null })
      .where('bot_id', '=', botId)
      .where('contact', '=', contact)
      .execute();
  }

  /**
   * Ends a turn in one transaction: its messages handled, its replies queued and its failure count
   * reset together, so a crash leaves either the whole turn to do again or nothing.
   */
  async finishTurn(
    turn: { botId: string; contact: string },
    inboxIds: number[],
    replies: {
      botId: string;
      contact: string;
      channel: 'webhook' | 'evolution';
      payload: Record<string, unknown>;
      delayMs: number;
    }[],
  ): Promise<number[]> {
    return this.#db.transaction().execute(async (trx) => {
      await trx
        .updateTable('bot_contacts')
        .set({ failures: 0, retry_at: null })
        .where('bot_id', '=', turn.botId)
        .where('contact', '=', turn.contact)
        .where('failures', '>', 0)
        .execute();
      if (inboxIds.length > 0) {
        await trx
          .updateTable('bot_inbox')
          // The media's bytes are not kept once answered: the session keeps what was said of them.
          .set({ handled_at: sql<Date>`now()`, media_bytes: null })
          .where('id', 'in', inboxIds)
          .execute();
      }
      if (replies.length === 0) return [];
      const rows = await trx
        .insertInto('bot_outbox')
        .values(
          replies.map((reply) => ({
            bot_id: reply.botId,
            contact: reply.contact,
            channel: reply.channel,
            payload: JSON.stringify(reply.payload),
            next_attempt_at: sql<Date>`now() + make_interval(secs => ${reply.delayMs / 1000})`,
          })),
        )
        .returning('id')
        .execute();
      return rows.map((row) => row.id);
    });
  }

  /**
   * Leases deliverable replies: the oldest undelivered reply of each (bot, contact) only, so a later
   * reply never overtakes an earlier one, even across nodes. Replies of a disabled owner's bots stay
   * queued (their attempts untouched) until the owner is enabled again.
   */
  async claimDeliveries(limit: number, leaseMs: number): Promise<OutboxItem[]> {
    const result = await sql<OutboxItem>`
      UPDATE bot_outbox SET leased_until = now() + make_interval(secs => ${leaseMs / 1000}),
        attempts = attempts + 1
      WHERE id IN (
        SELECT o.id FROM bot_outbox o
        JOIN bots b ON b.id = o.bot_id
        JOIN users u ON u.id = b.owner_id AND u.disabled_at IS NULL
        WHERE o.delivered_at IS NULL AND o.failed_at IS NULL AND o.next_attempt_at <= now()
          AND (o.leased_until IS NULL OR o.leased_until < now())
          AND NOT EXISTS (
            SELECT 1 FROM bot_outbox earlier
            WHERE earlier.bot_id = o.bot_id AND earlier.contact = o.contact AND earlier.id < o.id
              AND earlier.delivered_at IS NULL AND earlier.failed_at IS NULL)
        ORDER BY o.id
        LIMIT ${limit}
        FOR UPDATE OF o SKIP LOCKED)
      RETURNING id, bot_id AS "botId", contact, channel, payload, attempts`.execute(this.#db);
    return result.rows.map((row) => ({
      ...row,
      id: Number(row.id),
      payload: typeof row.payload === 'string' ? JSON.parse(row.payload) : row.payload,
    }));
  }

  async delivered(id: number): Promise<void> {
    await this.#db
      .updateTable('bot_outbox')
      .set({ delivered_at: sql<Date>`now()`, leased_until: null, last_error: null })
      .where('id', '=', id)
      .execute();
  }

  /** A failed attempt: try again after `retryInMs`, or give up for good when `retryInMs` is null. */
  async failedAttempt(id: number, error: string, retryInMs: number | null): Promise<void> {
    await this.#db
      .updateTable('bot_outbox')
      .set({
        leased_until: null,
        last_error: error.slice(0, 500),
        ...(retryInMs === null
          ? { failed_at: sql<Date>`now()` }
          : { next_attempt_at: sql<Date>`now() + make_interval(secs => ${retryInMs / 1000})` }),
      })
      .where('id', '=', id)
      .execute();
  }

  /**
   * Whether a message is the channel echoing one of this bot's own replies: Evolution API reports the
   * messages Keyway sent through it as `fromMe` messages too, which must not count as an operator
   * taking over. Matched by text among the contact's replies of the last ten minutes (the echo can
   * arrive before the send call has even returned).
   */
  async isOwnReply(botId: string, contact: string, text: string): Promise<boolean> {
    const row = await this.#db
      .selectFrom('bot_outbox')
      .select('id')
      .where('bot_id', '=', botId)
      .where('contact', '=', contact)
      .where('created_at', '>', sql<Date>`now() - interval '10 minutes'`)
      .where(sql<string>`payload->>'text'`, '=', text)
      .limit(1)
      .executeTakeFirst();
    return row !== undefined;
  }

  /** Handled inbox rows and delivered replies are kept a day (for redelivery dedup), then dropped. */
  async prune(): Promise<void> {
    await this.#db
      .deleteFrom('bot_inbox')
      .where('handled_at', '<', sql<Date>`now() - interval '1 day'`)
      .execute();
    await this.#db
      .deleteFrom('bot_outbox')
      .where('delivered_at', '<', sql<Date>`now() - interval '1 day'`)
      .execute();
  }
}
