import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { EmbeddingGateway } from './embeddings.ts';
import type { ExactVectorIndex } from './exact-vectors.ts';
import type { Passage } from './grounding.ts';
import { CONTEXT_OVERHEAD_TOKENS, fuseRanks } from './grounding-context.ts';
import { Retriever } from './retrieval.ts';
import type { ReadableBase, RetrievalRepository } from './retrieval.repository.ts';
import type { VectorIndex } from './vector-index.ts';

const log = pino({ level: 'silent' });
const principal = { userId: 'u1', username: 'alice', role: 'member', via: 'session' } as const;
const ids = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => String(from + i));

/**
 * A retriever over a repository that answers from memory and records what it was asked: two knowledge
 * bases of one owner and model, keyword ids 1–40 and vector ids 21–60 (so the fusion interleaves
 * them), passages of `tokensOf(id)` tokens.
 */
function retrieverWith(tokensOf: (id: string) => number) {
  const asked = { passages: [] as string[][], vectorChunks: [] as number[] };
  const base = (id: string, chunks: number): ReadableBase => ({
    id,
    embeddingModel: 'work/embed',
    chunks,
    owner: { id: 'u1', username: 'alice', role: 'member', disabled: false },
  });
  const repository = {
    readableBases: async () => [base('kb1', 3_000), base('kb2', 2_500)],
    keywordSearch: async () => ids(1, 40),
    pgvectorSearch: async (
      _kbIds: readonly string[],
      _vector: readonly number[],
      _limit: number,
      chunks: number,
    ) => {
      asked.vectorChunks.push(chunks);
      return ids(21, 60);
    },
    passages: async (_kbIds: readonly string[], wanted: readonly string[]): Promise<Passage[]> => {
      asked.passages.push([...wanted]);
      return wanted.map((id) => ({
        id,
        knowledgeBaseId: 'kb1',
        fileId: 'f1',
        fileName: 'manual.pdf',
        page: Number(id),
        headings: [],
        text: `passage ${id}`,
        tokens: tokensOf(id),
      }));
    },
  } as unknown as RetrievalRepository;
  const gateway = {
    exchange: async () => ({
      kind: 'whole',
      status: 200,
      headers: {},
      body: JSON.stringify({ data: [{ index: 0, embedding: [0.1, 0.2, 0.3] }] }),
    }),
  } as unknown as EmbeddingGateway;
  const retriever = new Retriever({
    repository,
    vectors: {
      mode: async () => ({ kind: 'pgvector', version: '0.8.0' }),
      ensureIndex: async () => {},
    } as unknown as VectorIndex,
    exact: {} as ExactVectorIndex,
    gateway,
    files: { find: async () => undefined, findWithContent: async () => undefined },
    wholeFileTokens: 1_000,
  });
  const ground = (tokenBudget: number) =>
    retriever.ground(
      principal,
      { knowledgeBaseIds: ['kb1', 'kb2'], fileIds: [], question: 'pump bearing', tokenBudget },
      { log },
    );
  return { ground, asked };
}

const fused = fuseRanks([ids(1, 40), ids(21, 60)]);
/** Each source costs its passage's tokens and 16 for its label. */
const SOURCE = 16;

describe('Retriever.ground', () => {
  it('reads only as many passages as the budget can hold, and takes them in fused order', async () => {
    const { ground, asked } = retrieverWith(() => 300);
    const budget = CONTEXT_OVERHEAD_TOKENS + 9 * (300 + SOURCE) + 100;
    const grounding = await ground(budget);
    expect(grounding.citations.map((citation) => String(citation.page))).toEqual(fused.slice(0, 9));
    // One slice of 16 passages, not all 60 candidates.
    expect(asked.passages).toEqual([fused.slice(0, 16)]);
  });

  it('reads further slices while the budget has room for passages like those read', async () => {
    const { ground, asked } = retrieverWith(() => 300);
    const grounding = await ground(CONTEXT_OVERHEAD_TOKENS + 60 * (300 + SOURCE));
    expect(grounding.citations.map((citation) => String(citation.page))).toEqual(fused);
    expect(asked.passages.map((slice) => slice.length)).toEqual([16, 16, 16, 12]);
  });

  it('skips a passage too long for what is left and takes a shorter one after it', async () => {
    const long = fused[1]!;
    const { ground, asked } = retrieverWith((id) => (id === long ? 5_000 : 300));
    const grounding = await ground(CONTEXT_OVERHEAD_TOKENS + 3 * (300 + SOURCE));
    expect(grounding.citations.map((citation) => String(citation.page))).toEqual([
      fused[0],
      fused[2],
      fused[3],
    ]);
    expect(asked.passages.length).toBe(1);
  });

  it("tells the vector search how many chunks the owner's knowledge bases hold, so it needs no count", async () => {
    const { ground, asked } = retrieverWith(() => 300);
    await ground(2_000);
    expect(asked.vectorChunks).toEqual([5_500]);
  });
});
