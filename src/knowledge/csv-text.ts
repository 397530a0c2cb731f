/** CSV to text a model can read: one line per row, each value named by its column. */

/**
 * CSV (RFC 4180 quoting; comma, semicolon or tab, whichever the first line uses most) as one line
 * per row, each value named by its column: `name: Ada | born: 1815`, so a chunk of rows still says
 * what its numbers are.
 */
export function csvToText(csv: string): string {
  const firstLine = csv.slice(0, csv.indexOf('\n') < 0 ? csv.length : csv.indexOf('\n'));
  const delimiter = [',', ';', '\t'].reduce((best, candidate) =>
    firstLine.split(candidate).length > firstLine.split(best).length ? candidate : best,
  );
  const rows = parseCsv(csv, delimiter);
  const header = rows[0];
  if (!header) return '';
  const lines: string[] = [];
  for (const row of rows.slice(1)) {
    const cells: string[] = [];
    for (const [column, raw] of row.entries()) {
      // A row stays one line: newlines inside a quoted value become spaces. Empty values say nothing.
      const value = raw.replace(/\s+/g, ' ').trim();
      if (value === '') continue;
      const name = header[column]?.replace(/\s+/g, ' ').trim();
      cells.push(name ? `${name}: ${value}` : value);
    }
    if (cells.length > 0) lines.push(cells.join(' | '));
  }
  return rows.length === 1 ? header.join(' | ') : lines.join('\n');
}

function parseCsv(csv: string, delimiter: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let at = 0; at < csv.length; at++) {
    const char = csv[at]!;
    if (quoted) {
      if (char !== '"') field += char;
      else if (csv[at + 1] === '"') {
        field += '"';
        at++;
      } else quoted = false;
    } else if (char === '"' && field === '') {
      quoted = true;
    } else if (char === delimiter) {
      row.push(field);
      field = '';
    } else if (char === '\n' || char === '\r') {
      if (char === '\r' && csv[at + 1] === '\n') at++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else {
      field += char;
    }
  }
  if (field !== '' || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows.filter((cells) => cells.some((cell) => cell.trim() !== ''));
}
