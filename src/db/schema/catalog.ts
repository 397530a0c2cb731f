import type { SqlSession } from '../database.ts';
import { HISTORY_TABLE } from './history.ts';

export interface ColumnShape {
  type: string;
  nullable: boolean;
  default: string | null;
  identity: 'always' | 'by default' | null;
  generated: string | null;
}

export interface IndexShape {
  unique: boolean;
  primary: boolean;
  method: string;
  columns: string[];
  where: string | null;
  /** `CREATE INDEX …` as PostgreSQL prints it, without the schema name: the SQL that recreates it. */
  definition: string;
}

export interface ConstraintShape {
  type: 'primary key' | 'unique' | 'foreign key' | 'check' | 'exclusion';
  definition: string;
}

export interface TableShape {
  columns: Record<string, ColumnShape>;
  indexes: Record<string, IndexShape>;
  constraints: Record<string, ConstraintShape>;
}

/** The shape of the tables in one schema: what the drift check compares. */
export interface SchemaShape {
  tables: Record<string, TableShape>;
}

const CONSTRAINT_TYPES: Record<string, ConstraintShape['type']> = {
  p: 'primary key',
  u: 'unique',
  f: 'foreign key',
  c: 'check',
  x: 'exclusion',
};

/**
 * Reads the live shape of the current schema from the system catalogs. Only what survives across
 * PostgreSQL versions is kept (PGlite is PostgreSQL 18, a server may be 13–18): PostgreSQL 18's
 * NOT NULL constraints are left out because nullability is already a column property.
 */
export async function readSchemaShape(session: SqlSession): Promise<SchemaShape> {
  const tables: Record<string, TableShape> = {};
  const tableRows = await session.query<{ table: string }>(
    `SELECT c.relname AS table FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND c.relname <> $1 ORDER BY 1`,
    [HISTORY_TABLE],
  );
  for (const { table } of tableRows) tables[table] = { columns: {}, indexes: {}, constraints: {} };

  const columns = await session.query<{
    table: string;
    column: string;
    type: string;
    notNull: boolean;
    default: string | null;
    identity: string;
    generated: string;
  }>(
    `SELECT c.relname AS table, a.attname AS column, format_type(a.atttypid, a.atttypmod) AS type,
            a.attnotnull AS "notNull", pg_get_expr(d.adbin, d.adrelid) AS default,
            a.attidentity AS identity, a.attgenerated AS generated
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
       LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
      WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
      ORDER BY c.relname, a.attnum`,
  );
  for (const row of columns) {
    const table = tables[row.table];
    if (!table) continue;
    const generated = row.generated === 's' || row.generated === 'v';
    table.columns[row.column] = {
      type: row.type,
      nullable: !row.notNull,
      default: generated ? null : row.default,
      identity: row.identity === 'a' ? 'always' : row.identity === 'd' ? 'by default' : null,
      generated: generated ? row.default : null,
    };
  }

  const indexes = await session.query<{
    table: string;
    index: string;
    unique: boolean;
    primary: boolean;
    method: string;
    columns: string[];
    where: string | null;
    definition: string;
  }>(
    `SELECT t.relname AS table, i.relname AS index, x.indisunique AS unique, x.indisprimary AS primary,
            am.amname AS method,
            ARRAY(SELECT pg_get_indexdef(x.indexrelid, k, true) FROM generate_series(1, x.indnatts) AS k ORDER BY k) AS columns,
            pg_get_expr(x.indpred, x.indrelid, true) AS where,
            pg_get_indexdef(x.indexrelid) AS definition
       FROM pg_index x
       JOIN pg_class i ON i.oid = x.indexrelid
       JOIN pg_class t ON t.oid = x.indrelid
       JOIN pg_namespace n ON n.oid = t.relnamespace
       JOIN pg_am am ON am.oid = i.relam
      WHERE n.nspname = current_schema()
      ORDER BY 1, 2`,
  );
  for (const row of indexes) {
    const table = tables[row.table];
    if (!table) continue;
    table.indexes[row.index] = {
      unique: row.unique,
      primary: row.primary,
      method: row.method,
      columns: row.columns,
      where: row.where,
      definition: row.definition.replace(/ ON \S+?\./, ' ON '),
    };
  }

  const constraints = await session.query<{ table: string; name: string; type: string; definition: string }>(
    `SELECT t.relname AS table, c.conname AS name, c.contype AS type, pg_get_constraintdef(c.oid, true) AS definition
       FROM pg_constraint c
       JOIN pg_class t ON t.oid = c.conrelid
       JOIN pg_namespace n ON n.oid = t.relnamespace
      WHERE n.nspname = current_schema() AND c.contype IN ('p', 'u', 'f', 'c', 'x')
      ORDER BY 1, 2`,
  );
  for (const row of constraints) {
    const table = tables[row.table];
    const type = CONSTRAINT_TYPES[row.type];
    if (!table || !type) continue;
    table.constraints[row.name] = { type, definition: row.definition };
  }
  return { tables };
}
