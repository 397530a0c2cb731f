import type { Logger } from 'pino';
import type { Principal } from '../auth/principal.ts';
import { KeywayError } from '../errors.ts';
import type { FileRecord } from '../files/files.repository.ts';
import { chunkSections, estimateTokens, type Chunk } from './chunker.ts';
import type { ExactVectorIndex } from './exact-vectors.ts';
import { embed, type EmbeddingGateway } from './embeddings.ts';
import { extractText, type Section } from './extract.ts';
import type { Grounder, Grounding, GroundingRequest, Passage } from './grounding.ts';
import {
  buildContext,
  CONTEXT_OVERHEAD_TOKENS,
  fuseRanks,
  keywordRank,
  searchWords,
  type Source,
} from './grounding-context.ts';
import { documentTypeOf } from './ingestion-worker.ts';
import type { ReadableBase, RetrievalRepository } from './retrieval.repository.ts';
import { HNSW_MAX_DIMENSIONS, type VectorIndex } from './vector-index.ts';

/** Each search (keyword, and vector per model) contributes this many ranked chunks to the fusion. */
const CANDIDATES = 40;
/** Passages read from the database per round trip while the budget is being filled. */
const PASSAGES_READ_AT_ONCE = 16;
/** A source's label and separators, counted against the budget with its text. */
const SOURCE_OVERHEAD_TOKENS = 16;
/** Chunked attached files kept in memory, so a conversation about a long file does not re-parse it. */
const CHUNKED_FILES_CACHED = 16;

/** The files an attachment may name: the principal's own (`FilesRepository` fits it). */
export interface AttachedFiles {
  find(ownerId: string, id: string): Promise<FileRecord | undefined>;
  findWithContent(ownerId: string, id: string): Promise<(FileRecord & { content: Uint8Array }) | undefined>;
}

/** An attached file read: its whole text, and its chunks for when it is too long to go in whole. */
interface ReadFile {
  sha256: string;
  text: string;
  chunks: Chunk[];
}

interface Candidate extends Source {
  key: string;
}

/**
 * Grounds an answer in knowledge bases and attached files: embeds the question once per embedding
 * model through the gateway as the principal, runs keyword and vector search over the readable
 * knowledge bases, fuses the ranked lists by reciprocal rank, and fills the token budget with
 * passages in that order, numbered. Short attached files go in whole; long ones are chunked here and
 * ranked by keyword. An embedding call that fails leaves keyword search alone, logged.
 */
export class Retriever implements Grounder {
  readonly #repository: RetrievalRepository;
  readonly #vectors: VectorIndex;
  readonly #exact: ExactVectorIndex;
  readonly #gateway: EmbeddingGateway;
  readonly #files: AttachedFiles;
  readonly #wholeFileTokens: number;
  readonly #chunked = new Map<string, ReadFile>();

  constructor(deps: {
    repository: RetrievalRepository;
    vectors: VectorIndex;
    /** The search where pgvector is missing. */
    exact: ExactVectorIndex;
    gateway: EmbeddingGateway;
    files: AttachedFiles;
    wholeFileTokens: number;
  }) {
    this.#repository = deps.repository;
    this.#vectors = deps.vectors;
    this.#exact = deps.exact;
    this.#gateway = deps.gateway;
    this.#files = deps.files;
    this.#wholeFileTokens = deps.wholeFileTokens;
  }

  async ground(
    principal: Principal,
    request: GroundingRequest,
    options: { signal?: AbortSignal; log: Logger },
  ): Promise<Grounding> {
    const log = options.log.child({ component: 'retrieval' });
    const baseIds = [...new Set(request.knowledgeBaseIds)];
    const fileIds = [...new Set(request.fileIds)];
    const bases = await this.#repository.readableBases(principal.userId, baseIds);
    const unreadable = baseIds.find((id) => !bases.some((base) => base.id === id));
    if (unreadable !== undefined)
      throw new KeywayError('not_found', `Knowledge base ${unreadable} not found.`);
    const files: FileRecord[] = [];
    for (const id of fileIds) {
      const file = await this.#files.find(principal.userId, id);
      if (!file) throw new KeywayError('not_found', `File ${id} not found.`);
      files.push(file);
    }

    const words = searchWords(request.question);
    const whole: Candidate[] = [];
    const lists: string[][] = [];
    const byKey = new Map<string, Candidate>();
    let budget = request.tokenBudget - CONTEXT_OVERHEAD_TOKENS;

    for (const file of files) {
      if (file.kind === 'image' || !documentTypeOf(file.mediaType)) continue; // images go as image parts
      const read = await this.#read(principal.userId, file, log);
      if (!read || read.chunks.length === 0) continue;
      const textTokens = estimateTokens(read.text);
      const wholeTokens = textTokens + SOURCE_OVERHEAD_TOKENS;
      if (textTokens <= this.#wholeFileTokens && wholeTokens <= budget) {
        budget -= wholeTokens;
        whole.push({
          key: `file:${file.id}`,
          citation: { ...fileCitation(file), page: null, headings: [] },
          text: read.text,
          tokens: wholeTokens,
        });
        continue;
      }
      const chunks = read.chunks;
      const ranked = keywordRank(
        chunks.map((chunk) => `${chunk.headings.join(' ')}\n${chunk.text}`),
        words,
        CANDIDATES,
      );
      lists.push(
        ranked.map((index) => {
          const chunk = chunks[index]!;
          const key = `file:${file.id}:${chunk.index}`;
          byKey.set(key, {
            key,
            citation: { ...fileCitation(file), page: chunk.page ?? null, headings: chunk.headings },
            text: chunk.text,
            tokens: chunk.tokens + SOURCE_OVERHEAD_TOKENS,
          });
          return key;
        }),
      );
    }

    if (bases.length > 0) {
      lists.push(
        ...(await this.#searchBases(principal, bases, request.question, words, options.signal, log)),
      );
    }
    const fused = fuseRanks(lists);
    const chosen: Candidate[] = [...whole];
    // Passages are read in fused order, a slice at a time, while the budget has room: a budget of a
    // few passages reads a few rows, not every candidate. Reading stops once what is left of the budget
    // is smaller than every passage read so far.
    const kbIds = bases.map((base) => base.id);
    const unread = new Set(fused.filter((key) => !byKey.has(key)).slice(0, CANDIDATES * 2));
    let smallestRead = 0;
    for (let at = 0; at < fused.length && budget > SOURCE_OVERHEAD_TOKENS; at++) {
      const key = fused[at]!;
      if (unread.has(key) && budget >= smallestRead) {
        const slice = fused
          .slice(at)
          .filter((id) => unread.has(id))
          .slice(0, PASSAGES_READ_AT_ONCE);
        for (const id of slice) unread.delete(id);
        for (const passage of await this.#repository.passages(kbIds, slice)) {
          const candidate = passageCandidate(passage);
          byKey.set(passage.id, candidate);
          smallestRead = smallestRead === 0 ? candidate.tokens : Math.min(smallestRead, candidate.tokens);
        }
      }
      const candidate = byKey.get(key);
      if (!candidate || candidate.tokens > budget) continue;
      chosen.push(candidate);
      budget -= candidate.tokens;
    }
    log.debug(
      { knowledgeBases: bases.length, files: files.length, candidates: fused.length, sources: chosen.length },
      'grounded',
    );
    return buildContext(chosen);
  }

  async passage(principal: Principal, id: string): Promise<Passage | undefined> {
    return this.#repository.passage(principal.userId, id);
  }

  /** The ranked lists of the knowledge bases: keyword, and one vector list per embedding model. */
  async #searchBases(
    principal: Principal,
    bases: readonly ReadableBase[],
    question: string,
    words: readonly string[],
    signal: AbortSignal | undefined,
    log: Logger,
  ): Promise<string[][]> {
    // One vector search per (owner, model): a model name is its owner's (`work/…` names the owner's
    // credential), so the question of a team reader is embedded as the knowledge base's owner, into the
    // same space its chunks are in. A disabled owner's models are not called: keyword search remains.
    const groups = new Map<string, { embedAs: Principal; model: string; kbIds: string[]; chunks: number }>();
    for (const base of bases) {
      if (base.owner.disabled) continue;
      const key = `${base.owner.id}\u0000${base.embeddingModel}`;
      const group = groups.get(key) ?? {
        chunks: 0,
        embedAs:
          base.owner.id === principal.userId
            ? principal
            : { userId: base.owner.id, username: base.owner.username, role: base.owner.role, via: 'session' },
        model: base.embeddingModel,
        kbIds: [],
      };
      group.kbIds.push(base.id);
      group.chunks += base.chunks;
      groups.set(key, group);
    }
    const ids = bases.map((base) => base.id);
    const searches: Promise<string[]>[] = [this.#repository.keywordSearch(ids, words, CANDIDATES)];
    for (const { embedAs, model, kbIds, chunks } of groups.values()) {
      searches.push(
        this.#vectorSearch(embedAs, model, kbIds, chunks, question, signal, log).catch((error: unknown) => {
          if (signal?.aborted) throw error;
          // Retrieval still answers by keyword: a provider that is down must not take the answer with it.
          log.warn({ err: error, model }, 'embedding the question failed; searching by keyword only');
          return [];
        }),
      );
    }
    return Promise.all(searches);
  }

  async #vectorSearch(
    principal: Principal,
    model: string,
    kbIds: string[],
    chunks: number,
    question: string,
    signal: AbortSignal | undefined,
    log: Logger,
  ): Promise<string[]> {
    if (question.trim() === '') return [];
    const [vector] = await embed(this.#gateway, principal, model, [question], {
      ...(signal ? { signal } : {}),
      log,
    });
    const mode = await this.#vectors.mode();
    if (mode.kind === 'pgvector') {
      // Normally built by ingestion already; for chunks stored before it existed it is built now, in the
      // background: until it is there the search is exact, slower but complete.
      if (vector!.length <= HNSW_MAX_DIMENSIONS) void this.#vectors.ensureIndex(vector!.length);
      return this.#repository.pgvectorSearch(kbIds, vector!, CANDIDATES, chunks);
    }
    return this.#exact.search(kbIds, vector!, CANDIDATES);
  }

  /**
   * The attached file's text and chunks, from the cache when its content has not changed; undefined
   * (logged) when it cannot be read, so one bad attachment does not take the answer with it.
   */
  async #read(ownerId: string, file: FileRecord, log: Logger): Promise<ReadFile | undefined> {
    const cached = this.#chunked.get(file.id);
    if (cached && cached.sha256 === file.sha256) {
      this.#chunked.delete(file.id);
      this.#chunked.set(file.id, cached);
      return cached;
    }
    const type = documentTypeOf(file.mediaType);
    const stored = await this.#files.findWithContent(ownerId, file.id);
    if (!stored || !type) return undefined;
    let sections: Section[];
    try {
      sections = (await extractText(stored.content, type)).sections;
    } catch (error) {
      if (!(error instanceof KeywayError)) throw error;
      log.info({ err: error, fileId: file.id }, 'an attached file could not be read; answering without it');
      return undefined;
    }
    const read: ReadFile = {
      sha256: stored.sha256,
      // The sections as they are (chunks overlap): a PDF's pages marked, a heading path before its text.
      text: sections
        .map((section) =>
          section.page !== undefined
            ? `(page ${section.page})\n${section.text}`
            : section.headings.length > 0
              ? `${section.headings.join(' > ')}\n${section.text}`
              : section.text,
        )
        .join('\n\n'),
      chunks: chunkSections(sections),
    };
    this.#chunked.set(file.id, read);
    while (this.#chunked.size > CHUNKED_FILES_CACHED)
      this.#chunked.delete(this.#chunked.keys().next().value!);
    return read;
  }
}

function fileCitation(file: FileRecord) {
  return { passageId: null, knowledgeBaseId: null, fileId: file.id, fileName: file.name };
}

function passageCandidate(passage: Passage): Candidate {
  return {
    key: passage.id,
    citation: {
      passageId: passage.id,
      knowledgeBaseId: passage.knowledgeBaseId,
      fileId: passage.fileId,
      fileName: passage.fileName,
      page: passage.page,
      headings: passage.headings,
    },
    text: passage.text,
    tokens: passage.tokens + SOURCE_OVERHEAD_TOKENS,
  };
}
