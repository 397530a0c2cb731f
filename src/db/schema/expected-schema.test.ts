import { describe, expect, it } from 'vitest';
import { loadExpectedSchema } from './expected-schema.ts';
import { loadMigrationFiles } from './migration-files.ts';
import { buildExpectedSchema } from './snapshot.ts';

describe('expected-schema.json', () => {
  it('is exactly what the shipped migrations produce (run `npm run schema:snapshot` after adding one)', async () => {
    const built = await buildExpectedSchema(loadMigrationFiles());
    expect(loadExpectedSchema()).toEqual(built);
  });
});
