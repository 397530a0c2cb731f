// `npm run bench`: every benchmark, each side by side with its reference, printed as one table each.
import { startupBenchmark } from './startup.bench.ts';

const runs = Number(process.env.BENCH_RUNS ?? 3);
console.log(
  `Startup on the embedded database (median of ${runs} runs; Keyway timed from process spawn to "ready")`,
);
const rows = await startupBenchmark(runs);
console.log('| case | keyway serve: spawn → ready | node + PGlite open alone | Keyway overhead |');
console.log('|---|---:|---:|---:|');
for (const row of rows) {
  console.log(
    `| ${row.case} | ${Math.round(row.keywayMs)} ms | ${Math.round(row.pgliteMs)} ms | +${Math.round(row.keywayMs - row.pgliteMs)} ms (${(row.keywayMs / row.pgliteMs).toFixed(2)}×) |`,
  );
}
