import { EventEmitter } from 'node:events';
import pg from 'pg';
import type { Logger } from 'pino';

/**
 * Tells every node that something cached has changed (`token:<id>`, `credential:<id>`, `user:<id>`).
 * On PostgreSQL it is `LISTEN/NOTIFY` on one channel; on the embedded database there is one process,
 * so it stays in memory. Subscribers also receive `*` after a reconnect: notifications may have been
 * missed, so everything cached must be dropped.
 */
export interface ChangeFeed {
  publish(topic: string): Promise<void>;
  subscribe(listener: (topic: string) => void): () => void;
  close(): Promise<void>;
}

const CHANNEL = 'keyway_changes';

export function createLocalChangeFeed(): ChangeFeed {
  const emitter = new EventEmitter();
  emitter.setMaxListeners(0);
  return {
    async publish(topic) {
      emitter.emit('change', topic);
    },
    subscribe(listener) {
      emitter.on('change', listener);
      return () => emitter.off('change', listener);
    },
    async close() {
      emitter.removeAllListeners();
    },
  };
}

/** A dedicated connection that LISTENs, reconnecting with backoff; publishing goes through the pool. */
export async function createPostgresChangeFeed(options: {
  url: string;
  logger: Logger;
  publish: (channel: string, payload: string) => Promise<void>;
}): Promise<ChangeFeed> {
  const emitter = new EventEmitter();
  emitter.setMaxListeners(0);
  let client: pg.Client | undefined;
  let closed = false;
  let retryDelay = 250;

  const connect = async (): Promise<void> => {
    const next = new pg.Client({
      connectionString: options.url,
      application_name: `keyway listen pid=${process.pid}`,
    });
    next.on('notification', (message) => {
      if (message.channel === CHANNEL && message.payload) emitter.emit('change', message.payload);
    });
    next.on('error', (error) => {
      options.logger.warn({ err: error }, 'change feed connection lost; reconnecting');
      void next.end().catch(() => {});
      scheduleReconnect();
    });
    await next.connect();
    await next.query(`LISTEN ${CHANNEL}`);
    client = next;
    retryDelay = 250;
  };

  const scheduleReconnect = () => {
    if (closed) return;
    client = undefined;
    setTimeout(() => {
      connect().then(
        // Whatever changed while we were away was not heard: drop every cache.
        () => emitter.emit('change', '*'),
        () => {
          retryDelay = Math.min(retryDelay * 2, 10_000);
          scheduleReconnect();
        },
      );
    }, retryDelay).unref();
  };

  await connect();
  return {
    async publish(topic) {
      // This node drops its copy at once; the others hear it through NOTIFY (and so do we, harmlessly).
      emitter.emit('change', topic);
      await options.publish(CHANNEL, topic);
    },
    subscribe(listener) {
      emitter.on('change', listener);
      return () => emitter.off('change', listener);
    },
    async close() {
      closed = true;
      emitter.removeAllListeners();
      await client?.end().catch(() => {});
    },
  };
}
