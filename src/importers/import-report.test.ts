import { describe, expect, it } from 'vitest';
import type { ImportResult } from './import-applier.ts';
import { renderImportReport } from './import-report.ts';

const result = (dryRun: boolean, outcomes: ('created' | 'reused' | 'skipped')[]): ImportResult => ({
  dryRun,
  rows: outcomes.map((outcome, i) => ({
    kind: i === 0 ? 'user' : 'credential',
    owner: i === 3 ? '' : 'alice',
    name: `item-${i}`,
    outcome,
    detail: `detail ${i}`,
  })),
  createdCredentialIds: [],
  usersWithoutPassword: dryRun || outcomes[0] !== 'created' ? [] : ['alice'],
  createdBots: [],
  queuedIngestions: 0,
  history: null,
});

describe('renderImportReport', () => {
  it('prints an aligned table, created rows first, then the summary, the notes and the next step', () => {
    const text = renderImportReport(result(false, ['created', 'reused', 'created', 'skipped']), [
      { kind: 'source', origin: 'profiles', message: 'no column groq_api_key' },
    ]);
    expect(text.split('\n').slice(0, 5)).toEqual([
      'KIND        OWNER  NAME    RESULT   DETAIL',
      'user        alice  item-0  created  detail 0',
      'credential  alice  item-2  created  detail 2',
      'credential  alice  item-1  reused   detail 1',
      'credential  -      item-3  skipped  detail 3',
    ]);
    expect(text).toContain('Created 1 user(s), 1 credential(s), 0 bot(s); reused 1; skipped 1.');
    expect(text).toContain('Notes:\n  - profiles: no column groq_api_key');
    expect(text).toContain('1 user(s) were created without a password (alice)');
  });

  it('says what a dry run would do, and that a repeated run found nothing new', () => {
    const dry = renderImportReport(result(true, ['created', 'created', 'skipped']), []);
    expect(dry).toMatch(/^KIND\s+OWNER\s+NAME\s+WOULD\s+DETAIL/);
    expect(dry).toMatch(/user\s+alice\s+item-0\s+create\s/);
    expect(dry).toContain(
      'Dry run, nothing was written: would create 1 user(s), 1 credential(s), 0 bot(s); would reuse 0; would skip 1.',
    );
    const again = renderImportReport(result(false, ['reused', 'reused', 'skipped']), []);
    expect(again).toContain('Nothing new: everything was already imported (2 reused, 1 skipped).');
  });
});
