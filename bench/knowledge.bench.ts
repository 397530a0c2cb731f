// Parsing + chunking a generated PDF, 300 pages by default (issue 15's budget: 10 s on the 2-core machine).
// In `npm run bench` (BENCH_ONLY=knowledge for this part alone), or standalone:
// `node --import tsx bench/knowledge.bench.ts` (BENCH_RUNS, BENCH_PAGES change the run either way).
import { fileURLToPath } from 'node:url';
import { chunkSections } from '../src/knowledge/chunker.ts';
import { extractText } from '../src/knowledge/extract.ts';
import { buildPdf } from '../test/support/documents.ts';

/** Issue 15: a 300-page PDF parsed and chunked within 10 s on the 2-core machine. */
export const KNOWLEDGE_BUDGET_MS = 10_000;

export interface KnowledgeResult {
  pages: number;
  pdfBytes: number;
  chunks: number;
  runs: number;
  medianMs: number;
  minMs: number;
  maxMs: number;
}

/** Times `extractText` + `chunkSections` on a generated PDF of `pageCount` pages, `runs` times. */
export async function knowledgeBenchmark(runs: number, pageCount: number): Promise<KnowledgeResult> {
  // About 2,400 characters a page (40 lines of 60), close to a page of prose.
  const pages = Array.from({ length: pageCount }, (_, page) =>
    Array.from(
      { length: 40 },
      (_, line) => `Page ${page + 1}, line ${line + 1}: the quick brown fox jumps over it.`,
    ).join('\n'),
  );
  const pdf = await buildPdf(pages);

  const timings: number[] = [];
  let chunks = 0;
  for (let run = 0; run < runs; run++) {
    const started = performance.now();
    const document = await extractText(pdf, 'pdf');
    chunks = chunkSections(document.sections).length;
    timings.push(performance.now() - started);
  }
  timings.sort((a, b) => a - b);
  return {
    pages: pageCount,
    pdfBytes: pdf.byteLength,
    chunks,
    runs,
    medianMs: timings[Math.floor(timings.length / 2)]!,
    minMs: timings[0]!,
    maxMs: timings.at(-1)!,
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const result = await knowledgeBenchmark(
    Number(process.env.BENCH_RUNS ?? 3),
    Number(process.env.BENCH_PAGES ?? 300),
  );
  console.log(
    `Knowledge: ${result.pages}-page PDF (${(result.pdfBytes / 1024).toFixed(0)} KiB) → ${result.chunks} chunks; ` +
      `parse + chunk median ${result.medianMs.toFixed(0)} ms of ${result.runs} runs (min ${result.minMs.toFixed(0)}, max ${result.maxMs.toFixed(0)})`,
  );
}
