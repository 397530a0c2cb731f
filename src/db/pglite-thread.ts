import { Worker } from 'node:worker_threads';

/** What Keyway uses of PGlite: an in-process instance and the one in its own thread both fit. */
export interface PGliteEngine {
  query<R>(sql: string, params?: unknown[]): Promise<{ rows: R[]; affectedRows?: number }>;
  exec(script: string): Promise<unknown>;
  close(): Promise<void>;
  /**
   * The thread's PGlite loads pgvector only for a database that uses it: this reopens it with the
   * extension loaded (once; nothing else may run meanwhile). Absent: always loaded, or never.
   */
  loadVector?(): Promise<void>;
}

interface Reply {
  id: number;
  rows?: unknown[];
  affectedRows?: number;
  error?: { message: string } & Record<string, unknown>;
}

const WORKER_URL = new URL('./pglite-thread.worker.mjs', import.meta.url);

let prestarted: { worker: Worker; failed: boolean } | undefined;

/**
 * Starts the thread before the data directory is known, so that loading PGlite there (~0.2 s) runs
 * while this thread parses the configuration and takes the directory's lock; the next
 * openPGliteThread() uses it. It touches no file until then, and keeps no process alive meanwhile.
 * `keyway serve` calls it first thing.
 */
export function prestartPGliteThread(): void {
  if (prestarted) return;
  const worker = new Worker(WORKER_URL, { workerData: {} });
  const started = { worker, failed: false };
  worker.once('error', () => (started.failed = true));
  worker.unref();
  prestarted = started;
}

/** Stops a prestarted thread nobody took (the configuration names PostgreSQL). */
export function discardPrestartedPGliteThread(): void {
  void prestarted?.worker.terminate();
  prestarted = undefined;
}

function takeWorker(dataDir: string): Worker {
  const taken = prestarted;
  prestarted = undefined;
  if (!taken || taken.failed) return new Worker(WORKER_URL, { workerData: { dataDir } });
  taken.worker.ref();
  taken.worker.postMessage({ open: dataDir });
  return taken.worker;
}

/**
 * PGlite in a worker thread. Statements cross by message (tens of microseconds each), and in
 * exchange the database's work — writes, commits, their file I/O — runs beside the event loop instead
 * of on it, so a batch of usage rows no longer stalls requests in flight. Errors come back with
 * PostgreSQL's fields (`code`, `constraint`, …), as an in-process PGlite throws them.
 */
export async function openPGliteThread(dataDir: string): Promise<PGliteEngine> {
  const worker = takeWorker(dataDir);
  const pending = new Map<number, { resolve: (reply: Reply) => void; reject: (error: Error) => void }>();
  let nextId = 0;
  let failure: Error | undefined;

  await new Promise<void>((resolve, reject) => {
    worker.once('message', (message: { ready: boolean; error?: Reply['error'] }) =>
      message.ready ? resolve() : reject(revive(message.error!)),
    );
    worker.once('error', reject);
  });
  worker.on('message', (reply: Reply) => {
    const waiter = pending.get(reply.id);
    if (!waiter) return;
    pending.delete(reply.id);
    if (reply.error) waiter.reject(revive(reply.error));
    else waiter.resolve(reply);
  });
  const failAll = (error: Error) => {
    failure = error;
    for (const waiter of pending.values()) waiter.reject(error);
    pending.clear();
  };
  worker.on('error', failAll);
  worker.on('exit', (code) => failAll(new Error(`the embedded database thread stopped (exit code ${code})`)));

  const send = (message: {
    op: 'query' | 'exec' | 'load-vector' | 'close';
    sql?: string;
    params?: unknown[];
  }) => {
    if (failure) return Promise.reject(failure);
    const id = ++nextId;
    return new Promise<Reply>((resolve, reject) => {
      pending.set(id, { resolve, reject });
      worker.postMessage({ id, ...message });
    });
  };

  return {
    async query<R>(sql: string, params: unknown[] = []) {
      const reply = await send({ op: 'query', sql, params });
      return {
        rows: reply.rows as R[],
        ...(reply.affectedRows === undefined ? {} : { affectedRows: reply.affectedRows }),
      };
    },
    exec: (sql) => send({ op: 'exec', sql }),
    async loadVector() {
      await send({ op: 'load-vector' });
    },
    async close() {
      try {
        await send({ op: 'close' });
      } finally {
        await worker.terminate();
      }
    },
  };
}

/** A PGlite error from the thread, as an Error carrying PostgreSQL's fields. */
function revive(error: { message: string } & Record<string, unknown>): Error {
  const { message, ...fields } = error;
  return Object.assign(new Error(message), fields);
}
