import { randomUUID } from 'node:crypto';
import type { Principal } from '../auth/principal.ts';
import type { BotSessionStatus } from '../db/tables.ts';
import { KeywayError } from '../errors.ts';
import { isUuid } from '../ids.ts';
import type { BotSessionsRepository, SessionRecord } from './bots.repository.ts';
import type { BotsService } from './bots.service.ts';

export interface SessionView {
  id: string;
  contact: string;
  contactName: string | null;
  status: BotSessionStatus;
  closeReason: string | null;
  lastFailure: { code: string; message: string; at: string } | null;
  messages: number;
  openedAt: string;
  lastActivityAt: string;
  closedAt: string | null;
}

export interface TranscriptView {
  id: number;
  role: 'user' | 'assistant';
  content: string;
  at: string;
}

/**
 * Sessions as their owner manages them: always through a bot the caller owns, so a session of
 * another user's bot (or of another bot) is never listed or changed.
 */
export class BotSessionsService {
  readonly #bots: BotsService;
  readonly #sessions: BotSessionsRepository;

  constructor(deps: { bots: BotsService; sessions: BotSessionsRepository }) {
    this.#bots = deps.bots;
    this.#sessions = deps.sessions;
  }

  async list(
    actor: Principal,
    botId: string,
    options: { status?: BotSessionStatus; limit: number },
  ): Promise<SessionView[]> {
    const bot = await this.#bots.loadOwned(actor, botId);
    const rows = await this.#sessions.list(bot.record.id, options);
    const counts = await this.#sessions.countMessages(rows.map((row) => row.id));
    return rows.map((row) => view(row, counts.get(row.id) ?? 0));
  }

  /**
   * What was said in one session of the bot, oldest first, a page at a time (`before`: the id of the
   * oldest message already shown). Another bot's session, or another user's, is `not_found`.
   */
  async transcript(
    actor: Principal,
    botId: string,
    sessionId: string,
    options: { limit: number; before?: number },
  ): Promise<{ session: SessionView; messages: TranscriptView[]; hasMore: boolean }> {
    const bot = await this.#bots.loadOwned(actor, botId);
    const session = isUuid(sessionId) ? await this.#sessions.findOfBot(bot.record.id, sessionId) : undefined;
    if (!session) throw new KeywayError('not_found', 'The bot has no such session.');
    const page = await this.#sessions.transcript(session.id, options);
    const counts = await this.#sessions.countMessages([session.id]);
    return {
      session: view(session, counts.get(session.id) ?? 0),
      messages: page.messages.map((message) => ({ ...message, at: message.at.toISOString() })),
      hasMore: page.hasMore,
    };
  }

  /**
   * `opened` resumes a paused session or starts one (the only way in for a bot whose trigger is
   * `none`); `paused` is a human taking over; `closed` ends it — the next message starts afresh.
   */
  async setStatus(
    actor: Principal,
    botId: string,
    contact: string,
    status: BotSessionStatus,
  ): Promise<SessionView> {
    const bot = await this.#bots.loadOwned(actor, botId);
    if (contact.includes('\u0000') || contact.length > 200)
      throw new KeywayError(
        'validation_failed',
        'contact: a contact id has at most 200 characters and no NUL character (U+0000).',
        { details: { field: 'contact' } },
      );
    let session = await this.#sessions.findOpen(bot.record.id, contact);
    if (!session) {
      if (status === 'closed')
        throw new KeywayError('not_found', `The bot has no open session with ${contact}.`);
      session = await this.#sessions.open(randomUUID(), bot.record.id, contact, null, status);
    } else if (session.status !== status) {
      await this.#sessions.setStatus(session.id, status, status === 'closed' ? 'closed_by_user' : null);
    }
    const current = (await this.#sessions.findById(session.id))!;
    const counts = await this.#sessions.countMessages([current.id]);
    return view(current, counts.get(current.id) ?? 0);
  }
}

function view(row: SessionRecord, messages: number): SessionView {
  return {
    id: row.id,
    contact: row.contact,
    contactName: row.contactName,
    status: row.status,
    closeReason: row.closeReason,
    lastFailure: row.lastFailure,
    messages,
    openedAt: row.openedAt.toISOString(),
    lastActivityAt: row.lastActivityAt.toISOString(),
    closedAt: row.closedAt?.toISOString() ?? null,
  };
}
