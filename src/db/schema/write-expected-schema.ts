// `npm run schema:snapshot`: rewrites the expected-schema snapshot from the bundled migrations.
// Run it after adding a migration; expected-schema.test.ts fails until you do.
import fs from 'node:fs';
import { expectedSchemaPath } from './expected-schema.ts';
import { loadMigrationFiles } from './migration-files.ts';
import { buildExpectedSchema } from './snapshot.ts';

const snapshot = await buildExpectedSchema(loadMigrationFiles());
fs.writeFileSync(expectedSchemaPath(), JSON.stringify(snapshot, null, 2) + '\n');
console.log(
  `wrote ${expectedSchemaPath()}: ${Object.keys(snapshot.tables).length} tables from ${snapshot.migrations.length} migrations`,
);
