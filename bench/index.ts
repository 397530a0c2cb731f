// `npm run bench`: every benchmark, each side by side with its reference, printed as one table each.
// BENCH_ONLY=startup|gateway runs one of them.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startupBenchmark } from './startup.bench.ts';

const only = process.env.BENCH_ONLY;
if (only !== undefined && only !== '' && only !== 'startup' && only !== 'gateway') {
  console.error(`BENCH_ONLY must be startup or gateway, not ${only}`);
  process.exit(2);
}
const wants = (name: 'startup' | 'gateway') => !only || only === name;

if (wants('startup')) {
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
}

if (wants('gateway')) {
  if (wants('startup')) console.log('');
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
