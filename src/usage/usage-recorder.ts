import type { Logger } from 'pino';
import type { UsageEvent, UsageRepository } from './usage.repository.ts';

/**
 * Collects usage events in memory and writes them in batches, off the request path: every second, at
 * once when a batch is full, and on shutdown. Credential `lastUsedAt` rides along, one statement per
 * batch. A failed write keeps the events for the next try (up to a cap).
 */
export class UsageRecorder {
  readonly #repository: UsageRepository;
  readonly #recordUse: (uses: { id: string; at: Date }[]) => Promise<void>;
  readonly #logger: Logger;
  #pending: UsageEvent[] = [];
  #flushing: Promise<void> | undefined;
  readonly #timer: NodeJS.Timeout;

  static readonly BATCH = 500;
  static readonly MAX_PENDING = 50_000;

  constructor(deps: {
    repository: UsageRepository;
    recordUse: (uses: { id: string; at: Date }[]) => Promise<void>;
    logger: Logger;
    intervalMs?: number;
  }) {
    this.#repository = deps.repository;
    this.#recordUse = deps.recordUse;
    this.#logger = deps.logger;
    this.#timer = setInterval(() => void this.flush(), deps.intervalMs ?? 1_000);
    this.#timer.unref();
  }

  record(event: UsageEvent): void {
    this.#pending.push(event);
    if (this.#pending.length >= UsageRecorder.BATCH) void this.flush();
  }

  /**
   * Writes everything recorded so far. Concurrent calls share one write; a call during a write waits
   * for it, then writes what was recorded meanwhile (that write did not hold it).
   */
  async flush(): Promise<void> {
    if (this.#flushing) {
      await this.#flushing;
      return this.flush();
    }
    if (this.#pending.length === 0) return;
    const batch = this.#pending;
    this.#pending = [];
    this.#flushing = this.#write(batch).finally(() => {
      this.#flushing = undefined;
    });
    return this.#flushing;
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.#flushing;
    await this.flush();
  }

  async #write(batch: UsageEvent[]): Promise<void> {
    try {
      await this.#repository.writeBatch(batch);
      const lastUse = new Map<string, Date>();
      for (const event of batch) {
        if (event.credentialId && (lastUse.get(event.credentialId)?.getTime() ?? 0) < event.at.getTime())
          lastUse.set(event.credentialId, event.at);
      }
      await this.#recordUse([...lastUse].map(([id, at]) => ({ id, at })));
    } catch (error) {
      this.#logger.error(
        { err: error, events: batch.length },
        'could not write usage; keeping it for the next try',
      );
      this.#pending = [...batch, ...this.#pending].slice(-UsageRecorder.MAX_PENDING);
    }
  }
}
