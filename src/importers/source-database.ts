import mysql from 'mysql2/promise';
import pg from 'pg';
import { KeywayError, messageOf } from '../errors.ts';

/**
 * The database an import reads from (Chatbot-UI's Supabase PostgreSQL, Evolution API's PostgreSQL or
 * MySQL/MariaDB), as little of it as the readers need: which columns a table has (source schemas
 * differ between versions), and its rows. Read-only: nothing here writes.
 */
export interface SourceDatabase {
  readonly dialect: 'postgres' | 'mysql';
  /** Where it is, fit to print: host, port and database, never the user or password. */
  readonly description: string;
  /** The table's column names, or null when there is no such table. */
  columns(table: string): Promise<Set<string> | null>;
  /** Every row of a table, only the named columns (each must exist). */
  rows(table: string, columns: readonly string[]): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

/** Opens `postgres://…` (a `?schema=` parameter, as Prisma URLs carry, sets the search path) or `mysql://…`. */
export async function openSourceDatabase(url: string): Promise<SourceDatabase> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new KeywayError('usage', '--from must be a database URL such as postgres://user@host:5432/db.', {
      fix: 'Give the source database as postgres://… or mysql://….',
    });
  }
  const description = `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
  if (parsed.protocol === 'postgres:' || parsed.protocol === 'postgresql:') {
    return openPostgres(parsed, description);
  }
  if (parsed.protocol === 'mysql:' || parsed.protocol === 'mariadb:') return openMysql(parsed, description);
  throw new KeywayError('usage', `--from: unsupported database ${parsed.protocol}//.`, {
    fix: 'Give the source database as postgres://… or mysql://….',
  });
}

async function openPostgres(url: URL, description: string): Promise<SourceDatabase> {
  const schema = url.searchParams.get('schema');
  url.searchParams.delete('schema');
  const client = new pg.Client({
    connectionString: url.toString(),
    application_name: 'keyway import',
    ...(schema ? { options: `-c search_path=${quoteIdentifier('postgres', schema)}` } : {}),
  });
  try {
    await client.connect();
  } catch (error) {
    throw unreachable(description, error);
  }
  return {
    dialect: 'postgres',
    description,
    async columns(table) {
      const result = await client.query<{ column_name: string }>(
        `SELECT column_name FROM information_schema.columns
          WHERE table_name = $1 AND table_schema = ANY (current_schemas(false))`,
        [table],
      );
      return result.rows.length === 0 ? null : new Set(result.rows.map((row) => row.column_name));
    },
    async rows(table, columns) {
      const list = columns.map((column) => quoteIdentifier('postgres', column)).join(', ');
      const result = await client.query(`SELECT ${list} FROM ${quoteIdentifier('postgres', table)}`);
      return result.rows as Record<string, unknown>[];
    },
    close: () => client.end(),
  };
}

async function openMysql(url: URL, description: string): Promise<SourceDatabase> {
  let connection: mysql.Connection;
  try {
    connection = await mysql.createConnection({
      host: url.hostname,
      port: url.port ? Number(url.port) : 3306,
      user: decodeURIComponent(url.username) || 'root',
      password: decodeURIComponent(url.password),
      database: decodeURIComponent(url.pathname.slice(1)),
      // Booleans are TINYINT(1) and JSON is text on MariaDB: the readers normalise both.
      supportBigNumbers: true,
      dateStrings: true,
    });
  } catch (error) {
    throw unreachable(description, error);
  }
  return {
    dialect: 'mysql',
    description,
    async columns(table) {
      const [rows] = await connection.query(
        `SELECT column_name AS name FROM information_schema.columns
          WHERE table_schema = DATABASE() AND table_name = ?`,
        [table],
      );
      const names = (rows as { name: string }[]).map((row) => row.name);
      return names.length === 0 ? null : new Set(names);
    },
    async rows(table, columns) {
      const list = columns.map((column) => quoteIdentifier('mysql', column)).join(', ');
      const [rows] = await connection.query(`SELECT ${list} FROM ${quoteIdentifier('mysql', table)}`);
      return rows as Record<string, unknown>[];
    },
    close: () => connection.end(),
  };
}

/** Quotes a table or column name as each dialect does (Prisma's names are case-sensitive: "OpenaiBot"). */
export function quoteIdentifier(dialect: 'postgres' | 'mysql', name: string): string {
  return dialect === 'postgres' ? `"${name.replace(/"/g, '""')}"` : `\`${name.replace(/`/g, '``')}\``;
}

function unreachable(description: string, error: unknown): KeywayError {
  return new KeywayError(
    'source_unreachable',
    `Could not connect to the source database ${description}: ${messageOf(error)}`,
    { fix: 'Check the --from URL (host, port, database, user and password) and that the server is up.' },
  );
}
