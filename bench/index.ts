// `npm run bench`: every benchmark, each side by side with its reference, printed as one table each.
// BENCH_ONLY=startup|cli|gateway|knowledge|retrieval|search runs one of them.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { cliBenchmark } from './cli.bench.ts';
import { KNOWLEDGE_BUDGET_MS, knowledgeBenchmark } from './knowledge.bench.ts';
import { formatRetrievalReport, retrievalBenchmark } from './retrieval.bench.ts';
import { formatSearchReport, searchBenchmark } from './search.bench.ts';
import { startupBenchmark } from './startup.bench.ts';

const BENCHMARKS = ['startup', 'cli', 'gateway', 'knowledge', 'retrieval', 'search'] as const;
const only = process.env.BENCH_ONLY;
if (only !== undefined && only !== '' && !(BENCHMARKS as readonly string[]).includes(only)) {
  console.error(`BENCH_ONLY must be one of ${BENCHMARKS.join(', ')}, not ${only}`);
  process.exit(2);
}
const wants = (name: (typeof BENCHMARKS)[number]) => !only || only === name;

// bin/keyway runs dist/: build it now if a source changed, or the first timed run would include the build.
execFileSync(
  process.execPath,
  [fileURLToPath(new URL('../scripts/build-server.mjs', import.meta.url)), '--if-stale'],
  {
    stdio: 'inherit',
  },
);

if (wants('startup')) {
  const runs = Number(process.env.BENCH_RUNS ?? 3);
  console.log(
    `Startup on the embedded database (median of ${runs} runs; Keyway timed from process spawn to "ready")`,
  );
  const rows = await startupBenchmark(runs);
  console.log('| case | keyway serve: spawn → ready | node + PGlite open alone | Keyway overhead | goal |');
  console.log('|---|---:|---:|---:|---|');
  for (const row of rows) {
    const ratio = row.keywayMs / row.pgliteMs;
    // Only a restart has a goal: a fresh directory also runs every migration, which PGlite alone does not.
    const goal = row.case.startsWith('warm') ? `≤ 1.50× ${ratio <= 1.5 ? 'met' : 'MISSED'}` : '';
    console.log(
      `| ${row.case} | ${Math.round(row.keywayMs)} ms | ${Math.round(row.pgliteMs)} ms | +${Math.round(row.keywayMs - row.pgliteMs)} ms (${ratio.toFixed(2)}×) | ${goal} |`,
    );
  }
}

if (wants('cli')) {
  if (wants('startup')) console.log('');
  const runs = Math.max(5, Number(process.env.BENCH_RUNS ?? 7));
  console.log(`The CLI (median of ${runs} runs, spawn → exit, each run beside its floor)`);
  const rows = await cliBenchmark(runs);
  console.log('| command | keyway | floor | floor time | goal |');
  console.log('|---|---:|---|---:|---|');
  for (const row of rows) {
    console.log(
      `| ${row.case} | ${Math.round(row.keywayMs)} ms | ${row.floor} | ${Math.round(row.floorMs)} ms | ≤ ${row.goalMs} ms ${row.keywayMs <= row.goalMs ? 'met' : 'MISSED'} (${(row.keywayMs / row.goalMs).toFixed(2)} of it) |`,
    );
  }
}

if (wants('gateway')) {
  if (wants('startup') || wants('cli')) console.log('');
  installBenchDependencies();
  // Imported only now: it loads autocannon from bench/node_modules.
  const { BenchFailure, formatGatewayReport, gatewayBenchmark } = await import('./gateway.bench.ts');
  try {
    const report = await gatewayBenchmark();
    console.log(formatGatewayReport(report));
  } catch (error) {
    if (!(error instanceof BenchFailure)) throw error;
    console.error(`\nGATEWAY BENCHMARK FAILED: ${error.message}`);
    process.exitCode = 1;
  }
}

if (wants('knowledge')) {
  if (wants('startup') || wants('cli') || wants('gateway')) console.log('');
  const runs = Number(process.env.BENCH_RUNS ?? 3);
  const pages = Number(process.env.BENCH_PAGES ?? 300);
  console.log(
    `Knowledge: a generated ${pages}-page PDF read and chunked in-process (median of ${runs} runs)`,
  );
  const result = await knowledgeBenchmark(runs, pages);
  console.log('| case | parse + chunk | min – max | chunks | goal |');
  console.log('|---|---:|---:|---:|---|');
  // The budget is for 300 pages; another page count is reported without a verdict.
  const goal =
    pages === 300
      ? `≤ ${KNOWLEDGE_BUDGET_MS / 1000} s ${result.medianMs <= KNOWLEDGE_BUDGET_MS ? 'met' : 'MISSED'} (${(result.medianMs / KNOWLEDGE_BUDGET_MS).toFixed(2)} of it)`
      : '';
  console.log(
    `| ${pages}-page PDF (${(result.pdfBytes / 1024).toFixed(0)} KiB) | ${Math.round(result.medianMs)} ms | ${Math.round(result.minMs)} – ${Math.round(result.maxMs)} ms | ${result.chunks} | ${goal} |`,
  );
}

if (wants('retrieval')) {
  if (wants('startup') || wants('cli') || wants('gateway') || wants('knowledge')) console.log('');
  console.log(
    'Retrieval: ground() (access, keyword + vector search, fusion, passages, context; the question embedded in-process) ' +
      'beside the bare vector search on the same database, p50 / p95 of BENCH_QUERIES (40) questions',
  );
  console.log(formatRetrievalReport(await retrievalBenchmark()));
}

if (wants('search')) {
  if (only !== 'search') console.log('');
  console.log(
    'Conversation search: the sidebar list with ?q= (full-text GIN index) beside the former ILIKE scan, ' +
      'p50 / p95 over 12 searches × 5 rounds, 100,000 messages of one user in 2,000 conversations',
  );
  console.log(formatSearchReport(await searchBenchmark()));
}

/**
 * The gateway benchmark's own dependencies (autocannon and @portkey-ai/gateway, with the
 * @hono/node-server override Portkey's streaming needs) live in bench/package.json, out of Keyway's.
 */
function installBenchDependencies(): void {
  const bench = fileURLToPath(new URL('.', import.meta.url));
  const needed = ['@portkey-ai/gateway/build/start-server.js', 'autocannon/package.json'];
  if (needed.every((file) => fs.existsSync(`${bench}node_modules/${file}`))) return;
  console.error('[bench] installing the benchmark dependencies into bench/node_modules (first run only)');
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  // npm 11 leaves Portkey's postinstall (patch-package) unrun; it has nothing to patch.
  const result = spawnSync(npm, ['install', '--prefix', bench, '--no-audit', '--no-fund'], {
    stdio: ['ignore', process.stderr, process.stderr],
  });
  if (result.status !== 0) {
    console.error(`npm install --prefix bench failed (${result.error?.message ?? `exit ${result.status}`})`);
    process.exit(1);
  }
}
