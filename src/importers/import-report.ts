import type { ImportResult, ImportRow, Outcome } from './import-applier.ts';
import type { PlanNote } from './import-plan.ts';

const DRY_WORDS: Record<Outcome, string> = { created: 'create', reused: 'reuse', skipped: 'skip' };

/**
 * The final table of an import: one line per user, credential and bot (created, reused or skipped,
 * and why), a summary line, the notes, and what the admin must do next. Never a secret: credentials
 * appear by name and hint only.
 */
export function renderImportReport(result: ImportResult, notes: PlanNote[]): string {
  const lines: string[] = [];
  const rows = [...result.rows].sort((a, b) => order(a) - order(b));
  const table = [
    ['KIND', 'OWNER', 'NAME', result.dryRun ? 'WOULD' : 'RESULT', 'DETAIL'],
    ...rows.map((row) => [
      row.kind,
      row.owner || '-',
      row.name,
      result.dryRun ? DRY_WORDS[row.outcome] : row.outcome,
      row.detail,
    ]),
  ];
  const widths = [0, 1, 2, 3].map((column) => Math.max(...table.map((cells) => cells[column]!.length)));
  for (const cells of table) {
    lines.push(
      cells
        .map((cell, column) => (column < 4 ? cell.padEnd(widths[column]!) : cell))
        .join('  ')
        .trimEnd(),
    );
  }
  lines.push('');
  lines.push(summaryLine(result));
  if (notes.length > 0) {
    lines.push('', 'Notes:');
    for (const note of notes) lines.push(`  - ${note.origin}: ${note.message}`);
  }
  if (result.usersWithoutPassword.length > 0) {
    lines.push(
      '',
      `${result.usersWithoutPassword.length} user(s) ${result.dryRun ? 'would be' : 'were'} created without a password (${result.usersWithoutPassword.join(', ')}): they cannot sign in until an admin sets one,`,
      '  in the web UI (Users) or with PATCH /api/users/:id {"password": "…"}; `keyway admin create-token --username U --name N` gives one an API token.',
    );
  }
  return lines.join('\n') + '\n';
}

export function summaryLine(result: ImportResult): string {
  const count = (outcome: Outcome, kind?: ImportRow['kind']) =>
    result.rows.filter((row) => row.outcome === outcome && (kind === undefined || row.kind === kind)).length;
  const created = count('created');
  // A history row counts many objects: they are counted one by one.
  const historyReused = result.history ? Object.values(result.history.reused).reduce((a, b) => a + b, 0) : 0;
  const reused =
    result.rows.filter((row) => row.outcome === 'reused' && !HISTORY_KINDS.has(row.kind)).length +
    historyReused;
  const skipped = count('skipped');
  // Files and knowledge bases are named only by an import that has them (Chatbot-UI's).
  const documents = (verb: string) => {
    const files = count('created', 'file');
    const bases = count('created', 'knowledge base');
    if (!result.rows.some((row) => row.kind === 'file' || row.kind === 'knowledge base')) return '';
    return `, ${files} file(s), ${bases} knowledge base(s)${result.queuedIngestions > 0 ? ` (${result.queuedIngestions} file(s) ${verb === 'created' ? 'queued' : 'to queue'} for embedding)` : ''}`;
  };
  const history = historyCounts(result);
  if (result.dryRun) {
    return `Dry run, nothing was written: would create ${count('created', 'user')} user(s), ${count('created', 'credential')} credential(s), ${count('created', 'bot')} bot(s)${documents('would create')}${history}; would reuse ${reused}; would skip ${skipped}.`;
  }
  if (created === 0) {
    return `Nothing new: everything was already imported (${reused} reused, ${skipped} skipped).`;
  }
  return `Created ${count('created', 'user')} user(s), ${count('created', 'credential')} credential(s), ${count('created', 'bot')} bot(s)${documents('created')}${history}; reused ${reused}; skipped ${skipped}.`;
}

const HISTORY_KINDS = new Set<ImportRow['kind']>(['folder', 'conversation', 'prompt', 'preset', 'assistant']);

/** The history's counts per kind (counted, not listed: a history may hold thousands of chats). */
function historyCounts(result: ImportResult): string {
  if (!result.history) return '';
  const { created, messages } = result.history;
  return `, ${created.folder} folder(s), ${created.conversation} conversation(s) with ${messages} message(s), ${created.prompt} prompt(s), ${created.preset} preset(s), ${created.assistant} assistant(s)`;
}

function order(row: ImportRow): number {
  const kind = {
    user: 0,
    credential: 1,
    bot: 2,
    file: 3,
    'knowledge base': 4,
    folder: 5,
    assistant: 6,
    preset: 7,
    prompt: 8,
    conversation: 9,
  }[row.kind];
  const outcome = { created: 0, reused: 1, skipped: 2 }[row.outcome];
  return outcome * 100 + kind;
}
