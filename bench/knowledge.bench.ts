// Parsing + chunking a generated 300-page PDF (issue 15's budget: 10 s on the 2-core machine).
// Standalone: `node --import tsx bench/knowledge.bench.ts` (BENCH_RUNS, BENCH_PAGES to change the run).
import { chunkSections } from '../src/knowledge/chunker.ts';
import { extractText } from '../src/knowledge/extract.ts';
import { buildPdf } from '../test/support/documents.ts';

const runs = Number(process.env.BENCH_RUNS ?? 3);
const pageCount = Number(process.env.BENCH_PAGES ?? 300);

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
const median = timings[Math.floor(timings.length / 2)]!;
console.log(
  `Knowledge: ${pageCount}-page PDF (${(pdf.byteLength / 1024).toFixed(0)} KiB) → ${chunks} chunks; ` +
    `parse + chunk median ${median.toFixed(0)} ms of ${runs} runs (min ${timings[0]!.toFixed(0)}, max ${timings.at(-1)!.toFixed(0)})`,
);
