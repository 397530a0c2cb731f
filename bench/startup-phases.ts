// Where a warm start's database time goes, in one process: PGlite's open, then the start-up schema
// check twice (the second with warm caches). `full`: the whole drift check, as before a start could
// reuse a recorded verification; otherwise as `serve` runs it (the fingerprint alone when the data
// directory's record matches). Runs the sources.
// Usage: node --import tsx bench/startup-phases.ts DATA_DIR [full]   (a directory `keyway serve` initialised)
import { loadConfig } from '../src/config/config.ts';
import { openDatabase } from '../src/db/database.ts';
import { prepareSchema } from '../src/db/schema/lifecycle.ts';
import { schemaContext } from '../src/db/schema/schema-context.ts';
import { createLogger } from '../src/observability/logger.ts';
import { SecretRedactor } from '../src/observability/secret-redactor.ts';

const config = loadConfig({ data: process.argv[2] }, {});
const deps = { logger: createLogger({ level: 'warn', redactor: new SecretRedactor() }), version: 'bench' };
// `check` mode reads a recorded verification but never writes one: each run measures the same thing.
const mode = process.argv[3] === 'full' ? 'full' : 'as-serve';
const t0 = performance.now();
const database = await openDatabase(config.database, { purpose: 'bench startup-phases' });
const t1 = performance.now();
const context = () => {
  const ctx = schemaContext(database, config, deps);
  return mode === 'full' ? { ...ctx, verified: undefined } : ctx;
};
await prepareSchema(context(), 'check');
const t2 = performance.now();
await prepareSchema(context(), 'check');
const t3 = performance.now();
await database.close();
const ms = (a: number, b: number) => `${Math.round(b - a)} ms`;
console.log(
  `open ${ms(t0, t1)}, first schema check (${mode}) ${ms(t1, t2)}, the same check again ${ms(t2, t3)}`,
);
