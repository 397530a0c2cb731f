import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { API_TYPES_COMMAND, documentPath, generateApiFiles, typesPath } from '../../scripts/openapi-types.ts';

/**
 * The web UI's API types come from the server's OpenAPI document (web/src/api/openapi.json →
 * schema.d.ts → types.ts). Both files are checked in; this regenerates them in memory from the routes'
 * zod schemas and fails if they differ, so a server change cannot leave the UI's types behind. (What
 * the change then breaks in the UI, `npm run typecheck` reports.)
 */

/** The first line where two texts differ, shown with its neighbours on both sides. */
function firstDifference(checkedIn: string, generated: string): string {
  const a = checkedIn.split('\n');
  const b = generated.split('\n');
  let line = 0;
  while (line < a.length && line < b.length && a[line] === b[line]) line++;
  const around = (lines: string[]) =>
    lines
      .slice(Math.max(0, line - 2), line + 3)
      .map((text, index) => `  ${Math.max(0, line - 2) + index + 1}: ${text}`)
      .join('\n');
  return `first difference at line ${line + 1}\n checked in:\n${around(a)}\n generated:\n${around(b)}`;
}

function expectSame(file: string, generated: string): void {
  const relative = path.relative(process.cwd(), file);
  const checkedIn = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  if (checkedIn === generated) return;
  expect.fail(
    `${relative} is out of date with the server's routes: run \`${API_TYPES_COMMAND}\`, then ` +
      `\`npm run typecheck\`, and commit the result.\n${firstDifference(checkedIn, generated)}`,
  );
}

describe('the web UI API types', () => {
  it('match the OpenAPI document the server generates (else: npm run api:types)', async () => {
    const { document, types } = await generateApiFiles();
    expectSame(documentPath, document);
    expectSame(typesPath, types);
  });

  it('are generated the same way every time (no timestamps, no running version)', async () => {
    const [first, second] = [await generateApiFiles(), await generateApiFiles()];
    expect(second).toEqual(first);
    expect((JSON.parse(first.document) as { info: { version: string } }).info.version).toBe('generated');
  });
});
