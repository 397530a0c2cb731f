import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checksumOf, loadMigrationFiles } from './migration-files.ts';

function dirWith(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keyway-migrations-'));
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  return dir;
}

describe('loadMigrationFiles', () => {
  it('loads NNNN_name.sql files in name order, ignoring other files, and marks no-transaction ones', () => {
    const dir = dirWith({
      '0002_b.sql': '-- keyway:no-transaction\nCREATE INDEX CONCURRENTLY x ON t (a);',
      '0001_a.sql': 'CREATE TABLE t (a int);',
      'expected-schema.json': '{}',
    });
    const migrations = loadMigrationFiles(dir);
    expect(migrations.map((m) => [m.name, m.transactional])).toEqual([
      ['0001_a', true],
      ['0002_b', false],
    ]);
  });

  it('hashes a file the same whatever its line endings', () => {
    expect(checksumOf('a;\r\nb;\r\n')).toBe(checksumOf('a;\nb;\n'));
    expect(checksumOf('a;\n')).not.toBe(checksumOf('a; \n'));
  });

  it('rejects a badly named file instead of applying it out of order', () => {
    expect(() => loadMigrationFiles(dirWith({ '1_x.sql': 'select 1' }))).toThrow(/NNNN_lowercase_words/);
  });

  it('ships every bundled migration with a name that sorts in order', () => {
    const names = loadMigrationFiles().map((m) => m.name);
    expect(names.length).toBeGreaterThan(0);
    expect([...names].sort()).toEqual(names);
  });
});
