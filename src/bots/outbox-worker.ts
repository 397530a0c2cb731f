import type { Logger } from 'pino';
import { Rounds } from '../background/rounds.ts';
import type { UpstreamClient } from '../providers/upstream-client.ts';
import type { BotQueueRepository, OutboxItem } from './bot-queue.repository.ts';
import type { BotsService } from './bots.service.ts';
import { signWebhook } from './channels/webhook-signature.ts';

/**
 * Replies queued on this node and retries it scheduled are delivered on time by timers; the poll only
 * catches what other nodes left behind (after a crash) or retries due after a restart.
 */
const POLL_INTERVAL_MS = 5_000;
const LEASE_MS = 30_000;
const SEND_TIMEOUT_MS = 10_000;
/** About a day of retries with capped exponential backoff, then the reply is marked failed. */
const MAX_ATTEMPTS = 30;
const MAX_BACKOFF_MS = 15 * 60_000;

/** Backoff before attempt `attempts + 1`: 1 s, 2 s, 4 s … capped at 15 minutes. */
export const retryDelayMs = (attempts: number) =>
  Math.min(MAX_BACKOFF_MS, 1_000 * 2 ** Math.max(0, attempts - 1));

/**
 * Delivers queued replies: the generic webhook (signed POST to the bot's callback URL) and Evolution
 * API (`POST /message/sendText/{instance}` with the instance key). Each reply is leased before it is
 * sent, so two nodes never send the same one; the oldest reply of a contact goes first, so replies
 * never overtake each other; failures retry with backoff from the database, across restarts.
 */
export class OutboxWorker {
  readonly #queue: BotQueueRepository;
  readonly #bots: BotsService;
  readonly #upstream: UpstreamClient;
  readonly #logger: Logger;
  #timer: NodeJS.Timeout | undefined;
  readonly #rounds: Rounds;
  #stopped = false;
  #lastPrune = 0;
  readonly #timers = new Set<NodeJS.Timeout>();

  constructor(deps: {
    queue: BotQueueRepository;
    bots: BotsService;
    upstream: UpstreamClient;
    logger: Logger;
  }) {
    this.#queue = deps.queue;
    this.#bots = deps.bots;
    this.#upstream = deps.upstream;
    this.#logger = deps.logger;
    this.#rounds = new Rounds(
      () => this.#drain(),
      (error) => this.#logger.warn({ err: error }, 'outbox delivery round failed'),
    );
  }

  start(): void {
    this.#timer = setInterval(() => this.wake(), POLL_INTERVAL_MS);
    this.#timer.unref();
    this.wake();
  }

  /** Replies were queued on this node, each due after its delay: delivers each on time. */
  queued(delaysMs: number[]): void {
    this.wake();
    for (const delay of new Set(delaysMs)) if (delay > 0) this.wakeIn(delay);
  }

  /** Delivers what is due in `inMs` (reply parts sent with a delay, retries), on time. */
  wakeIn(inMs: number): void {
    if (this.#stopped) return;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      this.wake();
    }, inMs + 10);
    timer.unref();
    this.#timers.add(timer);
  }

  /** Delivers what is due now (called when this node queued replies, and on every poll). */
  wake(): void {
    if (this.#stopped) return;
    this.#rounds.wake();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    await this.#rounds.running;
  }

  async #drain(): Promise<void> {
    for (;;) {
      if (this.#stopped) return;
      const items = await this.#queue.claimDeliveries(20, LEASE_MS);
      if (items.length === 0) break;
      await Promise.all(items.map((item) => this.#deliver(item)));
    }
    if (Date.now() - this.#lastPrune > 3_600_000) {
      this.#lastPrune = Date.now();
      await this.#queue.prune();
    }
  }

  async #deliver(item: OutboxItem): Promise<void> {
    const log = this.#logger.child({ botId: item.botId, delivery: item.id, channel: item.channel });
    const bot = await this.#bots.loadById(item.botId);
    if (!bot) return this.#queue.failedAttempt(item.id, 'the bot was deleted', null);
    // Claimed just before its owner was disabled: kept for when the owner is enabled again.
    if (bot.record.ownerDisabled)
      return this.#queue.failedAttempt(item.id, "the bot's owner is disabled", retryDelayMs(item.attempts));
    const { record, secrets } = bot;
    let request: { url: string; headers: Record<string, string>; body: string };
    if (item.channel === 'webhook') {
      if (!record.webhookUrl) return this.#queue.failedAttempt(item.id, 'the bot has no callback URL', null);
      const body = JSON.stringify({ ...item.payload, deliveryId: String(item.id) });
      const timestamp = Math.floor(Date.now() / 1000);
      request = {
        url: record.webhookUrl,
        body,
        headers: {
          'content-type': 'application/json',
          'user-agent': 'Keyway-Webhook/1',
          'x-keyway-delivery': String(item.id),
          'x-keyway-timestamp': String(timestamp),
          'x-keyway-signature': signWebhook(secrets.inboundSecret, timestamp, body),
        },
      };
    } else {
      if (!record.evolutionServerUrl || !record.evolutionInstance || !secrets.evolutionApiKey)
        return this.#queue.failedAttempt(item.id, 'the bot has no Evolution API connection', null);
      request = {
        url: `${record.evolutionServerUrl}/message/sendText/${encodeURIComponent(record.evolutionInstance)}`,
        body: JSON.stringify({ number: item.contact, text: item.payload.text }),
        headers: { 'content-type': 'application/json', apikey: secrets.evolutionApiKey },
      };
    }
    let failure: string;
    try {
      const response = await this.#upstream.request({
        method: 'POST',
        timeoutMs: SEND_TIMEOUT_MS,
        policy: this.#bots.upstreamPolicy(record),
        ...request,
      });
      await response.text().catch(() => '');
      if (response.status >= 200 && response.status < 300) {
        await this.#queue.delivered(item.id);
        log.info({ attempts: item.attempts }, 'reply delivered');
        return;
      }
      failure = `the receiver answered HTTP ${response.status}`;
    } catch (error) {
      failure = `the receiver could not be reached (${describe(error)})`;
    }
    const giveUp = item.attempts >= MAX_ATTEMPTS;
    const retryInMs = giveUp ? null : retryDelayMs(item.attempts);
    await this.#queue.failedAttempt(item.id, failure, retryInMs);
    if (retryInMs !== null) this.wakeIn(retryInMs);
    log.warn({ attempts: item.attempts, failure, gaveUp: giveUp }, 'reply delivery failed');
  }
}

/** An error's kind without its message (which could quote a URL with a query string). */
function describe(error: unknown): string {
  if (error && typeof error === 'object') {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    if (error instanceof Error) return error.name;
  }
  return 'unknown error';
}
