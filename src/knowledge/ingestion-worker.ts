import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Principal } from '../auth/principal.ts';
import { Rounds } from '../background/rounds.ts';
import { isDatabaseUnavailable } from '../db/database-unavailable.ts';
import { KeywayError } from '../errors.ts';
import { chunkSections, type Chunk } from './chunker.ts';
import { extractText, type DocumentType } from './extract.ts';
import { embed, embeddingInput, isTransient, type EmbeddingGateway } from './embeddings.ts';
import type { IngestionJob, KnowledgeRepository } from './knowledge.repository.ts';

export { embeddingInput, isTransient, vectorsOf, type EmbeddingGateway } from './embeddings.ts';

/** Inputs per embeddings call: one round trip per 64 chunks, well inside every provider's limits. */
export const EMBEDDING_BATCH = 64;
const POLL_INTERVAL_MS = 3_000;
/** A file whose job was claimed this often without finishing (its node died each time) fails. */
const MAX_ATTEMPTS = 5;
/** Waits before retrying an embeddings call that failed transiently (429, 5xx, unreachable). */
const RETRY_DELAYS_MS = [1_000, 4_000, 15_000];

/** What ingestion reads a stored file as, by its detected media type; undefined: not a document. */
export function documentTypeOf(mediaType: string): DocumentType | undefined {
  switch (mediaType) {
    case 'application/pdf':
      return 'pdf';
    case 'application/vnd.openxmlformats-officedocument.wordprocessingml.document':
      return 'docx';
    case 'text/markdown':
      return 'markdown';
    case 'text/html':
      return 'html';
    case 'text/csv':
      return 'csv';
    case 'text/plain':
      return 'text';
    case 'application/json':
    case 'application/xml':
    case 'application/yaml':
    case 'text/css':
    case 'text/javascript':
      return 'code';
    default:
      return mediaType.startsWith('text/x-') ? 'code' : undefined;
  }
}

/** Something that can wake the worker (the change feed). */
export interface QueueSignal {
  subscribe(listener: (topic: string) => void): () => void;
}

/**
 * Turns files added to knowledge bases into embedded chunks, as a durable job in the database that
 * any node may run: it claims one job at a time under a lease (renewed while it works), parses,
 * chunks, embeds in batches through the gateway as the knowledge base's owner (grants, limits and usage
 * apply as to any call of theirs), and stores each batch with its progress. A node that dies leaves a
 * lease that expires; the next node resumes after the chunks already stored. Woken when something is
 * queued on any node, and by a poll otherwise.
 */
export class IngestionWorker {
  readonly #repository: KnowledgeRepository;
  readonly #gateway: EmbeddingGateway;
  readonly #logger: Logger;
  readonly #signal: QueueSignal | undefined;
  readonly #topic: string;
  readonly #retryDelaysMs: readonly number[];
  readonly #node = randomBytes(6).toString('hex');
  readonly #stopping = new AbortController();
  #timer: NodeJS.Timeout | undefined;
  #unsubscribe: (() => void) | undefined;
  readonly #rounds: Rounds;
  readonly #leaseMs: number;
  readonly #vectors: { ensureIndex(dimensions: number): Promise<void> } | undefined;

  constructor(deps: {
    repository: KnowledgeRepository;
    gateway: EmbeddingGateway;
    logger: Logger;
    signal?: QueueSignal;
    topic: string;
    retryDelaysMs?: readonly number[];
    /** How long a claim holds without renewal (KEYWAY_INGESTION_LEASE): a dead node's job waits this long. */
    leaseMs?: number;
    /** Builds the vector index of a dimension as its first chunks arrive (pgvector only). */
    vectors?: { ensureIndex(dimensions: number): Promise<void> };
  }) {
    this.#leaseMs = deps.leaseMs ?? 60_000;
    this.#vectors = deps.vectors;
    this.#repository = deps.repository;
    this.#gateway = deps.gateway;
    this.#logger = deps.logger.child({ component: 'ingestion' });
    this.#signal = deps.signal;
    this.#topic = deps.topic;
    this.#retryDelaysMs = deps.retryDelaysMs ?? RETRY_DELAYS_MS;
    this.#rounds = new Rounds(
      () => this.#drain(),
      (error) => this.#logger.warn({ err: error }, 'ingestion round failed'),
    );
  }

  start(): void {
    this.#unsubscribe = this.#signal?.subscribe((topic) => {
      if (topic === this.#topic || topic === '*') this.wake();
    });
    this.#timer = setInterval(() => this.wake(), POLL_INTERVAL_MS);
    this.#timer.unref();
    this.wake();
  }

  /** Runs what is queued now. */
  wake(): void {
    if (this.#stopping.signal.aborted) return;
    this.#rounds.wake();
  }

  /** Stops taking jobs; a job in progress stops at its next step and is released to other nodes. */
  async stop(): Promise<void> {
    this.#stopping.abort();
    clearInterval(this.#timer);
    this.#unsubscribe?.();
    await this.#rounds.running;
  }

  async #drain(): Promise<void> {
    while (!this.#stopping.signal.aborted) {
      const job = await this.#repository.claim(
        `${this.#node}:${randomBytes(6).toString('hex')}`,
        this.#leaseMs,
      );
      if (!job) return;
      await this.#run(job);
    }
  }

  async #run(job: IngestionJob): Promise<void> {
    const log = this.#logger.child({ kbId: job.kbId, fileId: job.fileId, attempt: job.attempts });
    const lost = new AbortController();
    const signal = AbortSignal.any([lost.signal, this.#stopping.signal]);
    const renew = setInterval(() => {
      this.#repository.progress(job, this.#leaseMs).then(
        (held) => held || lost.abort(),
        (error: unknown) => log.warn({ err: error }, 'could not renew the ingestion lease'),
      );
    }, this.#leaseMs / 3);
    renew.unref();
    try {
      const failure = await this.#ingest(job, signal, log);
      if (failure) {
        log.info({ reason: failure }, 'ingestion failed');
        await this.#repository.fail(job, failure);
      }
    } catch (error) {
      if (this.#stopping.signal.aborted) await this.#repository.release(job).catch(() => {});
      else if (isDatabaseUnavailable(error)) {
        // Not the file's fault: the job stays queued under its lease, which expires, and any node
        // takes it again once PostgreSQL is back (the chunks already stored are kept).
        log.warn({ err: error }, 'database unavailable during ingestion; the job will be taken again');
        await this.#repository.release(job).catch(() => {});
      } else if (!lost.signal.aborted) {
        log.warn({ err: error }, 'ingestion failed unexpectedly');
        await this.#repository.fail(job, 'Keyway could not process this file (see the server log).');
      }
    } finally {
      clearInterval(renew);
    }
  }

  /** Ingests the job's file; returns why it failed, or undefined when it is ready (or not ours any more). */
  async #ingest(job: IngestionJob, signal: AbortSignal, log: Logger): Promise<string | undefined> {
    if (job.attempts > MAX_ATTEMPTS)
      return `Gave up after ${MAX_ATTEMPTS} attempts that did not finish; add the file again to retry.`;
    if (job.ownerDisabled) return "The knowledge base's owner is disabled.";
    const type = documentTypeOf(job.mediaType);
    if (!type) return `A knowledge base cannot read ${job.mediaType}.`;
    const bytes = await this.#repository.content(job);
    if (!bytes) return undefined;
    if (!(await this.#repository.progress(job, this.#leaseMs, { status: 'parsing' }))) return undefined;
    let chunks: Chunk[];
    try {
      chunks = chunkSections((await extractText(bytes, type)).sections);
    } catch (error) {
      if (error instanceof KeywayError) return error.message;
      throw error;
    }
    if (chunks.length === 0)
      return 'The file has no text to index (a scanned PDF needs text recognition first).';
    const stored = await this.#repository.storedIndices(job);
    const todo = chunks.filter((chunk) => !stored.has(chunk.index));
    let embedded = chunks.length - todo.length;
    if (
      !(await this.#repository.progress(job, this.#leaseMs, {
        status: 'embedding',
        embedded,
        total: chunks.length,
      }))
    )
      return undefined;
    const owner: Principal = { userId: job.ownerId, username: '', role: job.ownerRole, via: 'session' };
    for (let at = 0; at < todo.length; at += EMBEDDING_BATCH) {
      signal.throwIfAborted();
      const batch = todo.slice(at, at + EMBEDDING_BATCH);
      let vectors: number[][];
      try {
        vectors = await this.#embed(owner, job.embeddingModel, batch.map(embeddingInput), signal, log);
      } catch (error) {
        if (signal.aborted || !(error instanceof KeywayError)) throw error;
        return `Embedding with ${job.embeddingModel} failed: ${error.message}`;
      }
      const rows = batch.map((chunk, index) => ({
        index: chunk.index,
        // PostgreSQL text cannot hold NUL.
        text: chunk.text.replaceAll('\0', ''),
        page: chunk.page ?? null,
        headings: chunk.headings.map((heading) => heading.replaceAll('\0', '')),
        tokens: chunk.tokens,
        embedding: vectors[index]!,
      }));
      embedded += batch.length;
      if (!(await this.#repository.storeChunks(job, rows, embedded, this.#leaseMs))) return undefined;
      await this.#vectors?.ensureIndex(vectors[0]!.length);
    }
    await this.#repository.finish(job, chunks.length);
    log.info({ chunks: chunks.length }, 'file ingested');
    return undefined;
  }

  /** One embeddings call through the gateway, retried with backoff while the failure is transient. */
  async #embed(
    owner: Principal,
    model: string,
    inputs: string[],
    signal: AbortSignal,
    log: Logger,
  ): Promise<number[][]> {
    for (let retry = 0; ; retry++) {
      try {
        return await embed(this.#gateway, owner, model, inputs, { signal, log });
      } catch (error) {
        const delay = this.#retryDelaysMs[retry];
        if (signal.aborted || delay === undefined || !isTransient(error)) throw error;
        log.info({ err: error, retryInMs: delay }, 'embeddings call failed; retrying');
        await sleep(delay, signal);
      }
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
