import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { AccessRevoked } from '../auth/access-watch.ts';
import type { Principal } from '../auth/principal.ts';
import type { BotChannel } from '../db/tables.ts';
import { KeywayError, messageOf } from '../errors.ts';
import type { GatewayService } from '../gateway/gateway.service.ts';
import type { InboxMedia } from '../db/tables.ts';
import { visionSupport } from '../gateway/model-capabilities.ts';
import type { ChatMessage, ChatRequest } from '../gateway/openai-types.ts';
import { sourcesLine } from './bot-knowledge.ts';
import type { BotMedia } from './bot-media.ts';
import type { BotQueueRepository, InboxMessage } from './bot-queue.repository.ts';
import { withoutNul } from '../db/storable-text.ts';
import { isExpired, isFinishKeyword, mergeBurst, splitReply } from './bot-rules.ts';
import type { BotSessionsRepository, SessionRecord } from './bots.repository.ts';
import { routeOf, type BotsService, type LoadedBot } from './bots.service.ts';

/** A message as every channel hands it to the engine. */
export interface InboundMessage {
  contact: string;
  contactName: string | null;
  /** null: no text (a sticker; an image without a caption; a voice note). */
  text: string | null;
  fromMe: boolean;
  externalId: string | null;
  /** An image or a voice note; `bytes` null when the channel did not carry them (fetched at turn time). */
  media: (InboxMedia & { bytes: Uint8Array | null }) | null;
}

/** Why a bot stayed silent, as the HTTP channel reports it. */
export type SilenceReason =
  | 'ignored'
  | 'from_me'
  | 'own_reply'
  | 'paused'
  | 'paused_by_operator'
  | 'no_trigger'
  | 'debounced'
  | 'duplicate'
  | 'finished'
  | 'unknown_content'
  | 'accepted';

export interface BotOutcome {
  replies: string[];
  session: { id: string; status: SessionRecord['status'] } | null;
  reason?: SilenceReason;
  /** Set when the provider failed and the bot sent its failure text. */
  failed?: boolean;
}

/**
 * A turn cut short, with nothing of it recorded, so it runs again later: Keyway is stopping (after the
 * restart), or the bot's owner lost access while the provider was answering (once they have it again,
 * as every message held for a disabled owner is). Neither is the bot's failure: no failure text.
 */
class TurnAbandoned extends Error {
  constructor(readonly why: 'stopping' | 'owner_lost_access') {
    super(
      why === 'stopping'
        ? 'the turn was abandoned: Keyway is stopping'
        : "the turn was abandoned: the bot's owner lost access",
    );
  }
}

type Turn =
  | { kind: 'busy' | 'empty' | 'not_due' | 'failed' }
  | { kind: 'done'; handled: number[]; outcome: BotOutcome };

/**
 * A contact's turn is leased for a minute and renewed every 20 s while it runs: a node that dies
 * mid-turn blocks that contact for at most a minute, while a long provider call keeps its turn.
 */
const TURN_LEASE_MS = 60_000;
const TURN_RENEW_MS = 20_000;
/** The longest a turn waits for its provider (with retries and fallbacks). */
const TURN_MAX_MS = 170_000;
/** The sweep only catches turns whose receiving node went away; local timers answer on time. */
const SWEEP_INTERVAL_MS = 5_000;
const MAX_FALLBACK_DEPTH = 3;
/**
 * A turn that throws (its reply could not be stored, say) is retried once, after a back-off, for a
 * passing fault; the second failure in a row sends the bot's failure text instead. Every retry is a
 * paid provider call, and a fault that came back after the back-off will most likely come back again,
 * while the contact waits. Any failure of the contact's turn counts, whatever its reason: a rule for
 * "the same failure" would have to compare error messages, and two faults that alternate would then
 * retry forever. A turn that finishes resets the count.
 */
export const MAX_TURN_FAILURES = 2;
const MAX_TURN_BACKOFF_MS = 5 * 60_000;

/**
 * The wait after the `failures`-th failed turn in a row: 1 s, then none (the next turn sends the
 * failure text without calling the provider); should even that fail, 16 s, 64 s, 256 s, then 5 minutes.
 */
export const turnRetryDelayMs = (failures: number) =>
  failures === MAX_TURN_FAILURES ? 0 : Math.min(MAX_TURN_BACKOFF_MS, 1_000 * 4 ** (failures - 1));

/**
 * Answers contacts. Every inbound message is first stored (the inbox), so what was acknowledged is
 * never lost; a contact's messages are then answered in turns, one node at a time per (bot, contact)
 * through a lease in the database, once the debounce window of the last message has closed — so a
 * burst split across nodes still becomes one prompt, and replies keep their order. Replies for
 * webhook channels go to the outbox in the same transaction that marks the messages handled.
 */
export class BotEngine {
  readonly #bots: BotsService;
  readonly #sessions: BotSessionsRepository;
  readonly #queue: BotQueueRepository;
  readonly #gateway: GatewayService;
  readonly #media: BotMedia;
  readonly #logger: Logger;
  readonly #onQueued: (delaysMs: number[]) => void;
  readonly #timers = new Set<NodeJS.Timeout>();
  #sweeper: NodeJS.Timeout | undefined;
  #sweeping = false;
  #stopped = false;
  readonly #inFlight = new Set<Promise<unknown>>();
  /** Aborted on stop: a turn waiting for its provider is abandoned, not answered with the failure text. */
  readonly #stopping = new AbortController();

  constructor(deps: {
    bots: BotsService;
    sessions: BotSessionsRepository;
    queue: BotQueueRepository;
    gateway: GatewayService;
    media: BotMedia;
    logger: Logger;
    /** Called when replies were queued (with each one's delay), so the outbox delivers them on time. */
    onQueued: (delaysMs: number[]) => void;
  }) {
    this.#bots = deps.bots;
    this.#sessions = deps.sessions;
    this.#queue = deps.queue;
    this.#gateway = deps.gateway;
    this.#media = deps.media;
    this.#logger = deps.logger;
    this.#onQueued = deps.onQueued;
  }

  /** Starts the sweep that answers contacts whose receiving node went away before answering. */
  start(): void {
    this.#sweeper = setInterval(() => void this.#sweep(), SWEEP_INTERVAL_MS);
    this.#sweeper.unref();
  }

  /**
   * Stops answering. Turns still waiting for their provider are abandoned: their messages stay
   * unhandled and their lease is released, so the next start (or another node) answers them.
   */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#stopping.abort();
    clearInterval(this.#sweeper);
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    await Promise.allSettled([...this.#inFlight]);
  }

  /**
   * The HTTP channel: stores the message, waits for its debounce window, answers and returns the
   * replies. The last message of a burst gets the reply; earlier ones answer `debounced`.
   */
  async converse(bot: LoadedBot, inbound: InboundMessage): Promise<BotOutcome> {
    const message = storable(inbound);
    const early = await this.#screen(bot, message);
    if (early) return early;
    const received = await this.#receive(bot, message, 'http');
    if (!received) return { replies: [], session: null, reason: 'duplicate' };
    await sleep(received.dueInMs);
    const deadline = Date.now() + TURN_MAX_MS + 10_000;
    while (Date.now() < deadline && !this.#stopped) {
      let turn: Turn;
      try {
        turn = await this.#track(this.#runTurn(bot.record.id, message.contact));
      } catch (error) {
        // The message is stored and will be answered after the restart, or once the owner has access.
        if (error instanceof TurnAbandoned) break;
        throw error;
      }
      if (turn.kind === 'done' && turn.handled.includes(received.id)) return turn.outcome;
      if (turn.kind === 'not_due' || (await this.#queue.isHandled(received.id)))
        return { replies: [], session: null, reason: 'debounced' };
      await sleep(100);
    }
    return { replies: [], session: null, reason: 'accepted' };
  }

  /**
   * Webhook channels: stores the message and returns at once; the reply goes through the outbox.
   * The receiving node answers when the window closes; any node's sweep answers if it went away.
   */
  async accept(
    bot: LoadedBot,
    inbound: InboundMessage,
    channel: 'webhook' | 'evolution',
  ): Promise<BotOutcome> {
    const message = storable(inbound);
    const early = await this.#screen(bot, message);
    if (early) return early;
    const received = await this.#receive(bot, message, channel);
    if (!received) return { replies: [], session: null, reason: 'duplicate' };
    this.#schedule(bot.record.id, message.contact, received.dueInMs);
    return { replies: [], session: null, reason: 'accepted' };
  }

  /** Rules that apply on arrival, before anything is stored: the ignore list and operator messages. */
  async #screen(bot: LoadedBot, message: InboundMessage): Promise<BotOutcome | null> {
    if (bot.isIgnored(message.contact)) return { replies: [], session: null, reason: 'ignored' };
    if (!message.fromMe) return null;
    if (
      message.text !== null &&
      (await this.#queue.isOwnReply(bot.record.id, message.contact, message.text.trim()))
    )
      return { replies: [], session: null, reason: 'own_reply' };
    const { takeover } = bot.behaviour;
    if (takeover.pauseOnFromMe) {
      const session = await this.#sessions.findOpen(bot.record.id, message.contact);
      if (session?.status === 'opened') await this.#sessions.setStatus(session.id, 'paused', null);
      return {
        replies: [],
        session: session ? { id: session.id, status: 'paused' } : null,
        reason: 'paused_by_operator',
      };
    }
    return takeover.listenFromMe ? null : { replies: [], session: null, reason: 'from_me' };
  }

  #receive(bot: LoadedBot, message: InboundMessage, channel: BotChannel) {
    return this.#queue.receive({
      botId: bot.record.id,
      contact: message.contact,
      contactName: message.contactName,
      channel,
      externalId: message.externalId,
      ...this.#kept(bot, message),
      debounceSeconds: bot.behaviour.debounceSeconds,
    });
  }

  /**
   * What of a message's media is stored: an image when the bot sees images, a voice note when it
   * transcribes them, the bytes when the channel carried them and they fit the file size limit.
   * Otherwise the message is content the bot cannot read, as before bots read media (an image's
   * caption is not answered without its image).
   */
  #kept(bot: LoadedBot, message: InboundMessage): Pick<InboundMessage, 'text' | 'media'> {
    const { media } = message;
    if (!media) return { text: message.text, media: null };
    const wanted = media.kind === 'image' ? bot.behaviour.images : bot.behaviour.speechToText;
    if (!wanted) return { text: media.kind === 'image' ? null : message.text, media: null };
    if (media.bytes && media.bytes.length > this.#media.maxBytes) {
      this.#logger.warn(
        { botId: bot.record.id, bytes: media.bytes.length },
        'inbound media is larger than the file size limit; answered as unreadable',
      );
      return { text: null, media: null };
    }
    return { text: message.text, media };
  }

  #schedule(botId: string, contact: string, inMs: number): void {
    if (this.#stopped) return;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      void this.#track(this.#runTurn(botId, contact)).catch((error: unknown) => {
        if (!(error instanceof TurnAbandoned)) this.#logger.error({ err: error, botId }, 'bot turn failed');
      });
    }, inMs + 10);
    this.#timers.add(timer);
  }

  async #sweep(): Promise<void> {
    if (this.#sweeping || this.#stopped) return;
    this.#sweeping = true;
    try {
      for (const { botId, contact } of await this.#queue.dueContacts(20)) {
        if (this.#stopped) break;
        try {
          await this.#track(this.#runTurn(botId, contact));
        } catch (error) {
          // One contact's trouble does not hold up the others (nor one owner losing access).
          if (error instanceof TurnAbandoned && error.why === 'stopping') return;
          if (!(error instanceof TurnAbandoned))
            this.#logger.warn({ botId, reason: messageOf(error) }, 'bot sweep could not run a turn');
        }
      }
    } catch (error) {
      if (error instanceof TurnAbandoned) return;
      this.#logger.warn({ err: error }, 'bot sweep failed; retrying');
    } finally {
      this.#sweeping = false;
    }
  }

  #track<T>(work: Promise<T>): Promise<T> {
    this.#inFlight.add(work);
    void work.finally(() => this.#inFlight.delete(work)).catch(() => {});
    return work;
  }

  /**
   * One turn of (bot, contact): everything unhandled, once the last window closed, by one node. A
   * turn that fails is counted and retried after a backoff (`turnRetryDelayMs`); after
   * `MAX_TURN_FAILURES` the messages are answered with the bot's failure text, without a provider call.
   */
  async #runTurn(botId: string, contact: string): Promise<Turn> {
    const claimed = await this.#queue.claimTurn(botId, contact, TURN_LEASE_MS);
    if (!claimed) return { kind: 'busy' };
    const renew = setInterval(() => {
      this.#queue
        .renewTurn(botId, contact, TURN_LEASE_MS)
        .catch((error: unknown) => this.#logger.warn({ err: error, botId }, 'could not renew a bot turn'));
    }, TURN_RENEW_MS);
    renew.unref();
    let retry: { inMs: number } | undefined;
    try {
      const { messages, due } = await this.#queue.pending(botId, contact);
      if (messages.length === 0) return { kind: 'empty' };
      if (!due) return { kind: 'not_due' };
      try {
        return await this.#turn(botId, contact, messages, claimed.failures >= MAX_TURN_FAILURES);
      } catch (error) {
        if (error instanceof TurnAbandoned) throw error;
        const failures = claimed.failures + 1;
        const inMs = turnRetryDelayMs(failures);
        await this.#queue.failTurn(botId, contact, inMs);
        // The reason without the error's other fields: a database error can quote the row (a message).
        this.#logger.error(
          {
            botId,
            failures,
            retryInMs: inMs,
            code: (error as { code?: unknown }).code,
            reason: messageOf(error),
          },
          'bot turn failed',
        );
        // The HTTP channel's caller is waiting and runs the retry itself, to get its reply.
        if (messages.at(-1)!.channel !== 'http') retry = { inMs };
        return { kind: 'failed' };
      }
    } finally {
      clearInterval(renew);
      await this.#queue.releaseTurn(botId, contact);
      if (retry) this.#schedule(botId, contact, retry.inMs);
    }
  }

  async #turn(botId: string, contact: string, messages: InboxMessage[], givingUp: boolean): Promise<Turn> {
    const handled = messages.map((message) => message.id);
    const bot = await this.#bots.loadById(botId);
    if (!bot) {
      await this.#queue.finishTurn({ botId, contact }, handled, []);
      return { kind: 'empty' };
    }
    const outcome = givingUp
      ? this.#gaveUp(bot)
      : await this.#answer(bot, messages, { forced: false, depth: 0 });
    const channel = messages.at(-1)!.channel;
    const parts = outcome.replies;
    const delayMs = bot.behaviour.split.enabled ? bot.behaviour.split.delayMs : 0;
    const queued =
      channel === 'http'
        ? []
        : parts.map((text, index) => ({
            botId,
            contact,
            channel,
            delayMs: index * delayMs,
            payload: {
              type: 'bot.reply',
              botId,
              botName: bot.record.name,
              contact,
              sessionId: outcome.session?.id ?? null,
              text,
              part: index + 1,
              parts: parts.length,
            },
          }));
    await this.#queue.finishTurn({ botId, contact }, handled, queued);
    if (queued.length > 0) this.#onQueued(queued.map((reply) => reply.delayMs));
    return { kind: 'done', handled, outcome };
  }

  /**
   * The turn failed `MAX_TURN_FAILURES` times: its messages are answered with the failure text and
   * nothing else is written (whatever failed may be a write), so the contact is not stuck.
   */
  #gaveUp(bot: LoadedBot): BotOutcome {
    this.#logger.warn(
      { botId: bot.record.id, failures: MAX_TURN_FAILURES },
      'bot turn kept failing; the contact gets the failure text',
    );
    const failure = bot.behaviour.failureMessage;
    return { replies: failure ? [failure] : [], session: null, failed: true };
  }

  /** A turn's provider calls stop at its deadline, or at once when Keyway stops. */
  #turnSignal(): AbortSignal {
    return AbortSignal.any([AbortSignal.timeout(TURN_MAX_MS), this.#stopping.signal]);
  }

  /** The bot's rules for a merged burst: session, expiry, trigger or fallback, finish keyword, reply. */
  async #answer(
    bot: LoadedBot,
    messages: InboxMessage[],
    how: { forced: boolean; depth: number },
  ): Promise<BotOutcome> {
    const { record, behaviour } = bot;
    const last = messages.at(-1)!;
    const owner = ownerOf(bot);
    const log = this.#logger.child({ botId: record.id });
    const signal = this.#turnSignal();
    const read = [];
    for (const message of messages) {
      try {
        read.push(await this.#media.read(bot, owner, message, { signal, log }));
      } catch (error) {
        if (this.#stopping.signal.aborted) throw new TurnAbandoned('stopping');
        throw error;
      }
    }
    const text = mergeBurst(read.map((message) => message.text ?? ''));
    let images = read.flatMap((message) => (message.image ? [message.image] : []));
    if (images.length > 0 && visionSupport(record.model) === 'no') {
      // Known not to read images: the caption alone, or content the bot cannot read, not a failure.
      log.warn({ model: record.model }, "the bot's model cannot read images; its images are left out");
      images = [];
    }
    // What the session keeps of the turn: the text, and that images came with it.
    const said = images.length > 0 ? [text, ...images.map(() => '[image]')].filter(Boolean).join('\n') : text;
    let session = await this.#sessions.findOpen(record.id, last.contact);
    if (session && isExpired(behaviour.expireMinutes, session.lastActivityAt, new Date())) {
      await this.#sessions.setStatus(session.id, 'closed', 'expired');
      session = undefined;
    }
    if (!session) {
      if (!how.forced && !((text !== '' || images.length > 0) && bot.matchesTrigger(text))) {
        const fallback =
          record.fallbackBotId && how.depth < MAX_FALLBACK_DEPTH
            ? await this.#bots.loadById(record.fallbackBotId)
            : undefined;
        if (fallback) return this.#answer(fallback, messages, { forced: true, depth: how.depth + 1 });
        return { replies: [], session: null, reason: 'no_trigger' };
      }
      session = await this.#sessions.open(randomUUID(), record.id, last.contact, last.contactName, 'opened');
    }
    const sessionView = { id: session.id, status: session.status };
    if (session.status === 'paused') {
      if (said) await this.#sessions.append(session.id, [{ role: 'user', content: said }]);
      return { replies: [], session: sessionView, reason: 'paused' };
    }
    if (isFinishKeyword(behaviour, text)) {
      await this.#sessions.setStatus(session.id, 'closed', 'keyword_finish');
      return { replies: [], session: { id: session.id, status: 'closed' }, reason: 'finished' };
    }
    if (said === '') {
      const reply = behaviour.unknownMessage;
      await this.#sessions.append(session.id, reply ? [{ role: 'assistant', content: reply }] : []);
      return { replies: reply ? [reply] : [], session: sessionView, reason: 'unknown_content' };
    }
    const history = await this.#sessions.history(session.id, behaviour.historyWindow);
    const question: ChatMessage =
      images.length > 0
        ? {
            role: 'user',
            content: [
              ...(text ? [{ type: 'text' as const, text }] : []),
              ...images.map((url) => ({ type: 'image_url' as const, image_url: { url } })),
            ],
          }
        : { role: 'user', content: text };
    const reply = await this.#complete(bot, [...history, question]);
    if (typeof reply !== 'string') {
      await this.#sessions.append(session.id, [{ role: 'user', content: said }]);
      await this.#sessions.recordFailure(session.id, reply.failure);
      const failure = behaviour.failureMessage;
      return { replies: failure ? [failure] : [], session: sessionView, failed: true };
    }
    await this.#sessions.append(session.id, [
      { role: 'user', content: said },
      { role: 'assistant', content: reply },
    ]);
    return { replies: splitReply(reply, behaviour.split.enabled), session: sessionView };
  }

  /** The provider's answer through the gateway (usage recorded against the bot), or why there is none. */
  async #complete(
    bot: LoadedBot,
    messages: ChatMessage[],
  ): Promise<string | { failure: { code: string; message: string } }> {
    const { record } = bot;
    const owner = ownerOf(bot);
    const log = this.#logger.child({ botId: record.id });
    try {
      const signal = this.#turnSignal();
      const prepared = await this.#bots.prepare(
        bot,
        owner,
        { model: `bot:${record.name}`, messages: messages as ChatRequest['messages'], stream: false },
        { signal, log },
      );
      const result = await this.#gateway.complete(owner, prepared.request, {
        startedAt: performance.now(),
        signal,
        fallbackModels: [],
        log,
        route: routeOf(bot),
      });
      if (result.kind !== 'whole') throw new Error('expected a whole reply, got a stream');
      const content = result.completion().choices[0]?.message.content;
      // A NUL cannot be stored (nor sent in JSON to most channels): dropped before anything keeps it.
      const reply = typeof content === 'string' ? withoutNul(content) : '';
      if (reply.trim() === '') throw new Error('the reply had no text');
      const sources = bot.behaviour.citeSources ? sourcesLine(prepared.citations, reply) : null;
      return sources ? `${reply}\n\n${withoutNul(sources)}` : reply;
    } catch (error) {
      if (this.#stopping.signal.aborted) throw new TurnAbandoned('stopping');
      // The gateway cut the provider call: the owner was disabled meanwhile. Their messages wait.
      if (error instanceof AccessRevoked) {
        log.info("the bot's owner lost access while its provider answered; the turn waits for them");
        throw new TurnAbandoned('owner_lost_access');
      }
      // The provider's own words stay in the log (never with the message body); the contact gets the
      // bot's failure text.
      const code = error instanceof KeywayError ? error.code : 'bot_reply_failed';
      log.warn({ code, reason: error instanceof Error ? error.message : String(error) }, 'bot reply failed');
      // For the owner, on the session: Keyway's own words (a limit, a provider failure as /v1 would say it).
      const message = error instanceof KeywayError ? error.message : 'The provider gave no usable reply.';
      return { failure: { code, message } };
    }
  }
}

/** The bot's owner, acting through the bot: whose grants, limits and knowledge a turn uses. */
function ownerOf(bot: LoadedBot): Principal {
  const { record } = bot;
  return {
    userId: record.ownerId,
    username: '',
    role: record.ownerIsAdmin ? 'admin' : 'member',
    via: 'bot',
    botId: record.id,
  };
}

/**
 * A message as the bot can store it: PostgreSQL text cannot hold U+0000, and a contact's message must
 * not be lost for one, so NUL is dropped from every field a channel hands in.
 */
function storable(message: InboundMessage): InboundMessage {
  const contact = withoutNul(message.contact);
  if (contact === '')
    throw new KeywayError('invalid_payload', 'contact: empty once its NUL characters are removed.');
  return {
    contact,
    contactName: message.contactName === null ? null : withoutNul(message.contactName),
    text: message.text === null ? null : withoutNul(message.text),
    fromMe: message.fromMe,
    externalId: message.externalId === null ? null : withoutNul(message.externalId) || null,
    media: message.media,
  };
}
