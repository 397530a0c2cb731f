import type { ColumnShape, IndexShape, SchemaShape, TableShape } from './catalog.ts';
import { quoteIdent as q, type SchemaProblem } from './problems.ts';
import { isRuntimeIndex } from './runtime-indexes.ts';

/** The shape all shipped migrations produce, with the migration that created each table. */
export interface ExpectedSchema extends SchemaShape {
  /** The migrations this snapshot was made from, in order. */
  migrations: string[];
  tables: Record<string, TableShape & { createdBy: string }>;
}

/**
 * Names every difference between the live schema and the expected one. Anything missing or changed
 * is an error (the app's queries depend on it); anything unexpected is a warning, because it was added
 * by hand and may be harmless — or may be a UNIQUE index that makes valid saves fail.
 */
export function diffSchema(expected: ExpectedSchema, live: SchemaShape): SchemaProblem[] {
  const problems: SchemaProblem[] = [];
  for (const [tableName, want] of Object.entries(expected.tables)) {
    const have = live.tables[tableName];
    if (!have) {
      problems.push({
        code: 'table_missing',
        severity: 'error',
        message: `table ${tableName} is missing`,
        fix: `Restore the table from a backup; it is created by migration ${want.createdBy}.sql, whose statement for it recreates it empty.`,
      });
      continue;
    }
    problems.push(...diffColumns(tableName, want, have), ...diffIndexesAndConstraints(tableName, want, have));
  }
  for (const tableName of Object.keys(live.tables)) {
    if (expected.tables[tableName]) continue;
    problems.push({
      code: 'unexpected_table',
      severity: 'warning',
      message: `table ${tableName} is not part of Keyway's schema`,
      fix: `Move it to another schema or database; if nothing needs it: DROP TABLE ${q(tableName)};`,
    });
  }
  return problems;
}

function diffColumns(tableName: string, want: TableShape, have: TableShape): SchemaProblem[] {
  const problems: SchemaProblem[] = [];
  const t = q(tableName);
  for (const [columnName, column] of Object.entries(want.columns)) {
    const live = have.columns[columnName];
    const c = q(columnName);
    const where = `column ${tableName}.${columnName}`;
    if (!live) {
      problems.push({
        code: 'column_missing',
        severity: 'error',
        message: `${where} is missing`,
        fix: `ALTER TABLE ${t} ADD COLUMN ${c} ${columnDefinition(column)}; (on a table with rows and no default, add it without NOT NULL, fill it, then SET NOT NULL)`,
      });
      continue;
    }
    if (live.type !== column.type) {
      problems.push({
        code: 'column_changed',
        severity: 'error',
        message: `${where} has type ${live.type}; Keyway expects ${column.type}`,
        fix: `ALTER TABLE ${t} ALTER COLUMN ${c} TYPE ${column.type};`,
      });
    }
    if (live.nullable !== column.nullable) {
      problems.push({
        code: 'column_changed',
        severity: 'error',
        message: `${where} ${live.nullable ? 'allows NULL; Keyway expects NOT NULL' : 'is NOT NULL; Keyway expects it to allow NULL'}`,
        fix: `ALTER TABLE ${t} ALTER COLUMN ${c} ${column.nullable ? 'DROP' : 'SET'} NOT NULL;`,
      });
    }
    if (live.default !== column.default) {
      problems.push({
        code: 'column_changed',
        severity: 'error',
        message: `${where} has default ${live.default ?? 'none'}; Keyway expects ${column.default ?? 'none'}`,
        fix: `ALTER TABLE ${t} ALTER COLUMN ${c} ${column.default === null ? 'DROP DEFAULT' : `SET DEFAULT ${column.default}`};`,
      });
    }
    if (live.identity !== column.identity || live.generated !== column.generated) {
      problems.push({
        code: 'column_changed',
        severity: 'error',
        message: `${where} is ${describeGeneration(live)}; Keyway expects ${describeGeneration(column)}`,
        fix: 'Restore the column from a backup: its generation cannot be changed in place safely.',
      });
    }
  }
  for (const columnName of Object.keys(have.columns)) {
    if (want.columns[columnName]) continue;
    const column = have.columns[columnName]!;
    const blocksInserts =
      !column.nullable && column.default === null && column.identity === null && column.generated === null;
    problems.push({
      code: 'unexpected_column',
      severity: 'warning',
      message: `column ${tableName}.${columnName} is not part of Keyway's schema${blocksInserts ? ' (NOT NULL without a default: Keyway cannot insert rows into this table)' : ''}`,
      fix: `If nothing needs it: ALTER TABLE ${t} DROP COLUMN ${q(columnName)};`,
    });
  }
  return problems;
}

function diffIndexesAndConstraints(tableName: string, want: TableShape, have: TableShape): SchemaProblem[] {
  const problems: SchemaProblem[] = [];
  const t = q(tableName);
  for (const [name, constraint] of Object.entries(want.constraints)) {
    const live = have.constraints[name];
    if (!live) {
      problems.push({
        code: 'constraint_missing',
        severity: 'error',
        message: `${constraint.type} constraint ${name} on ${tableName} is missing`,
        fix: `ALTER TABLE ${t} ADD CONSTRAINT ${q(name)} ${constraint.definition};`,
      });
    } else if (live.type !== constraint.type || live.definition !== constraint.definition) {
      problems.push({
        code: 'constraint_changed',
        severity: 'error',
        message: `constraint ${name} on ${tableName} is ${live.definition}; Keyway expects ${constraint.definition}`,
        fix: `ALTER TABLE ${t} DROP CONSTRAINT ${q(name)}, ADD CONSTRAINT ${q(name)} ${constraint.definition};`,
      });
    }
  }
  for (const [name, index] of Object.entries(want.indexes)) {
    // A missing PRIMARY KEY or UNIQUE constraint takes its index with it: report it once.
    if (want.constraints[name] && !have.constraints[name]) continue;
    const live = have.indexes[name];
    if (!live) {
      problems.push({
        code: 'index_missing',
        severity: 'error',
        message: `index ${name} on ${tableName} (${index.columns.join(', ')}) is missing`,
        fix: `${index.definition};`,
      });
    } else if (!sameIndex(live, index)) {
      problems.push({
        code: 'index_changed',
        severity: 'error',
        message: `index ${name} on ${tableName} is ${describeIndex(live)}; Keyway expects ${describeIndex(index)}`,
        fix: `DROP INDEX ${q(name)}; ${index.definition};`,
      });
    }
  }
  for (const [name, constraint] of Object.entries(have.constraints)) {
    if (want.constraints[name]) continue;
    problems.push({
      code: 'unexpected_constraint',
      severity: 'warning',
      message: `${constraint.type} constraint ${name} on ${tableName} (${constraint.definition}) was not created by Keyway${constraint.type === 'unique' ? ' and can make valid saves fail' : ''}`,
      fix: `If nothing needs it: ALTER TABLE ${t} DROP CONSTRAINT ${q(name)};`,
    });
  }
  for (const [name, index] of Object.entries(have.indexes)) {
    if (want.indexes[name] || have.constraints[name]) continue;
    if (isRuntimeIndex(tableName, name, index.method)) continue;
    problems.push({
      code: 'unexpected_index',
      severity: 'warning',
      message: `${index.unique ? 'unique index' : 'index'} ${name} on ${tableName} (${index.columns.join(', ')}) was not created by Keyway${index.unique ? ' and can make valid saves fail' : ''}`,
      fix: `If nothing needs it: DROP INDEX ${q(name)};`,
    });
  }
  return problems;
}

function columnDefinition(column: ColumnShape): string {
  const parts = [column.type];
  if (column.identity) parts.push(`GENERATED ${column.identity.toUpperCase()} AS IDENTITY`);
  if (column.generated) parts.push(`GENERATED ALWAYS AS (${column.generated}) STORED`);
  if (column.default !== null) parts.push(`DEFAULT ${column.default}`);
  if (!column.nullable) parts.push('NOT NULL');
  return parts.join(' ');
}

function describeGeneration(column: ColumnShape): string {
  if (column.identity) return `an identity column (${column.identity})`;
  if (column.generated) return `generated from ${column.generated}`;
  return 'a plain column';
}

function sameIndex(a: IndexShape, b: IndexShape): boolean {
  return (
    a.unique === b.unique &&
    a.primary === b.primary &&
    a.method === b.method &&
    a.where === b.where &&
    a.columns.join('\u0000') === b.columns.join('\u0000')
  );
}

function describeIndex(index: IndexShape): string {
  const where = index.where ? ` WHERE ${index.where}` : '';
  return `${index.unique ? 'UNIQUE ' : ''}${index.method} (${index.columns.join(', ')})${where}`;
}
