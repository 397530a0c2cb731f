// Where a warm start's database time goes, in one process: PGlite's open, the start-up schema check,
// and the same check again (its caches warm). Runs the compiled server (dist/; `npm run build:server`).
// Usage: node bench/startup-phases.mjs DATA_DIR   (a directory a `keyway serve` has initialised)
import { loadConfig } from '../dist/config/config.js';
import { openDatabase } from '../dist/db/database.js';
import { prepareSchema } from '../dist/db/schema/lifecycle.js';
import { schemaContext } from '../dist/db/schema/schema-context.js';
import { createLogger } from '../dist/observability/logger.js';
import { SecretRedactor } from '../dist/observability/secret-redactor.js';

const config = loadConfig({ data: process.argv[2] }, {});
const deps = { logger: createLogger({ level: 'warn', redactor: new SecretRedactor() }), version: 'bench' };
const t0 = performance.now();
const database = await openDatabase(config.database, { purpose: 'bench startup-phases' });
const t1 = performance.now();
await prepareSchema(schemaContext(database, config, deps), 'check');
const t2 = performance.now();
await prepareSchema(schemaContext(database, config, deps), 'check');
const t3 = performance.now();
await database.close();
const ms = (a, b) => `${Math.round(b - a)} ms`;
console.log(`open ${ms(t0, t1)}, first schema check ${ms(t1, t2)}, the same check again ${ms(t2, t3)}`);
