import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fakeKey } from '../support/gateway-harness.ts';
import { runKeyway } from '../support/keyway-process.ts';
import { createTestDatabase, type TestDatabaseTarget } from '../support/test-database.ts';
import { chatbotUiFixture, type SourceFixture } from './source-fixtures.ts';

/** Every file and directory under `dir`, relative, sorted. */
function listTree(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true }) as string[]).map((entry) => entry.toString()).sort();
}

describe('keyway import --dry-run writes nothing (embedded)', () => {
  let source: SourceFixture;
  let scratch: string;
  let target: TestDatabaseTarget | undefined;

  beforeEach(async () => {
    source = await chatbotUiFixture({
      profiles: [
        { username: 'alice', values: { openai_api_key: fakeKey('sk-') } },
        { username: 'bob', values: { groq_api_key: fakeKey('gsk_') } },
      ],
    });
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'keyway-dry-'));
  });
  afterEach(async () => {
    await source.dispose();
    await target?.dispose();
    fs.rmSync(scratch, { recursive: true, force: true });
  });

  const planned = 'Dry run, nothing was written: would create 2 user(s), 2 credential(s), 0 bot(s)';

  it('into a data directory that does not exist: plans, and creates no directory, database or master key', async () => {
    const dataDir = path.join(scratch, 'data');
    const dry = await runKeyway([
      'import',
      'chatbot-ui',
      '--from',
      source.url,
      '--data',
      dataDir,
      '--dry-run',
    ]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain(planned);
    expect(dry.stderr).toContain('it does not exist yet: planned against an empty one in memory');
    expect(dry.stderr).toContain(`A real import would generate a new master key in ${dataDir}/master.key`);
    expect(listTree(scratch)).toEqual([]);
  });

  it('into an existing database without a master key yet: no file, directory or row is added', async () => {
    target = await createTestDatabase('embedded');
    const dataDir = target.flags[1]!;
    const migrated = await runKeyway(['migrate', 'up', '--data', dataDir]);
    expect(migrated.code, migrated.stderr).toBe(0);
    const before = listTree(dataDir);
    expect(before).not.toContain('master.key');

    for (let run = 0; run < 2; run++) {
      const dry = await runKeyway([
        'import',
        'chatbot-ui',
        '--from',
        source.url,
        '--data',
        dataDir,
        '--dry-run',
      ]);
      expect(dry.code, dry.stderr).toBe(0);
      // The second run plans the same: the first left no user or credential behind.
      expect(dry.stdout).toContain(planned);
      expect(listTree(dataDir)).toEqual(before);
    }
  });
});
