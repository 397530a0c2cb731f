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
  /**
   * Every row of a table, only the named columns (each must exist). Refuses (`source_rows_hidden`)
   * rather than return part of a table that row-level security hides from the connecting role.
   */
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
    // A host that drops packets would otherwise hang the import forever (mysql2 gives up after 10 s).
    connectionTimeoutMillis: 15_000,
    ...(schema ? { options: `-c search_path=${quoteIdentifier('postgres', schema)}` } : {}),
  });
  // The server may close the connection at any moment (restart, pg_terminate_backend): pg then
  // emits 'error', which would end the process with a stack trace were nobody listening.
  let lost: unknown = null;
  client.on('error', (error) => (lost ??= error));
  client.on('end', () => (lost ??= new Error('the server closed the connection')));
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => {});
    throw unreachable(description, error);
  }
  const query = async <R extends Record<string, unknown>>(text: string, params: unknown[] = []) => {
    try {
      return (await client.query<R>(text, params)).rows;
    } catch (error) {
      if (lost !== null || isConnectionLoss(error)) throw connectionLost(description, lost ?? error);
      throw error;
    }
  };
  return {
    dialect: 'postgres',
    description,
    async columns(table) {
      const rows = await query<{ column_name: string }>(
        `SELECT column_name FROM information_schema.columns
          WHERE table_name = $1 AND table_schema = ANY (current_schemas(false))`,
        [table],
      );
      return rows.length === 0 ? null : new Set(rows.map((row) => row.column_name));
    },
    async rows(table, columns) {
      await refuseHiddenRows(query, description, table);
      const list = columns.map((column) => quoteIdentifier('postgres', column)).join(', ');
      return query(`SELECT ${list} FROM ${quoteIdentifier('postgres', table)}`);
    },
    close: () => client.end().catch(() => {}),
  };
}

/**
 * Row-level security filters rows silently: a Supabase role that may SELECT but is subject to the
 * policies reads an empty `profiles`, and the import would plan nothing. `row_security_active` says
 * whether the policies apply to this role here (not the owner, no BYPASSRLS, not a superuser); then
 * even the visible rows may be only some of them, so the import refuses.
 */
async function refuseHiddenRows(
  query: <R extends Record<string, unknown>>(text: string, params?: unknown[]) => Promise<R[]>,
  description: string,
  table: string,
): Promise<void> {
  const [state] = await query<{ active: boolean; role: string; owner: string; estimate: string | null }>(
    `SELECT row_security_active(c.oid) AS active, current_user AS role, pg_get_userbyid(c.relowner) AS owner,
            GREATEST(c.reltuples, s.n_live_tup)::bigint::text AS estimate
       FROM pg_class c LEFT JOIN pg_stat_all_tables s ON s.relid = c.oid
      WHERE c.oid = to_regclass($1)`,
    [quoteIdentifier('postgres', table)],
  );
  if (!state?.active) return;
  const [visible] = await query<{ n: string }>(
    `SELECT count(*)::text AS n FROM ${quoteIdentifier('postgres', table)}`,
  );
  const estimate = Number(state.estimate ?? -1);
  const counts =
    estimate > 0
      ? `${visible?.n ?? 0} row(s) are visible to it, of about ${estimate} in the table`
      : `${visible?.n ?? 0} row(s) are visible to it`;
  throw new KeywayError(
    'source_rows_hidden',
    `Row-level security hides rows of "${table}" from role ${state.role} on ${description}: ${counts}. Nothing was imported.`,
    {
      fix: `Connect --from as the table's owner (${state.owner}; on Supabase, the postgres role) or as a role with BYPASSRLS.`,
    },
  );
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
  // A killed or restarted server makes mysql2 emit 'error': without a listener, a crash.
  let lost: unknown = null;
  connection.on('error', (error: unknown) => (lost ??= error));
  const query = async (text: string, params: unknown[] = []) => {
    try {
      const [rows] = await connection.query(text, params);
      return rows as Record<string, unknown>[];
    } catch (error) {
      if (lost !== null || isConnectionLoss(error)) throw connectionLost(description, lost ?? error);
      throw error;
    }
  };
  return {
    dialect: 'mysql',
    description,
    async columns(table) {
      const rows = await query(
        `SELECT column_name AS name FROM information_schema.columns
          WHERE table_schema = DATABASE() AND table_name = ?`,
        [table],
      );
      const names = rows.map((row) => String(row.name));
      return names.length === 0 ? null : new Set(names);
    },
    async rows(table, columns) {
      const list = columns.map((column) => quoteIdentifier('mysql', column)).join(', ');
      return query(`SELECT ${list} FROM ${quoteIdentifier('mysql', table)}`);
    },
    close: async () => {
      if (lost !== null) return connection.destroy();
      await connection.end().catch(() => connection.destroy());
    },
  };
}

/** Quotes a table or column name as each dialect does (Prisma's names are case-sensitive: "OpenaiBot"). */
export function quoteIdentifier(dialect: 'postgres' | 'mysql', name: string): string {
  return dialect === 'postgres' ? `"${name.replace(/"/g, '""')}"` : `\`${name.replace(/`/g, '``')}\``;
}

function unreachable(description: string, error: unknown): KeywayError {
  return new KeywayError(
    'source_unreachable',
    `Could not connect to the source database ${description}: ${reasonOf(error)}`,
    { fix: 'Check the --from URL (host, port, database, user and password) and that the server is up.' },
  );
}

function connectionLost(description: string, error: unknown): KeywayError {
  return new KeywayError(
    'source_unreachable',
    `Lost the connection to the source database ${description} while reading it: ${reasonOf(error)}`,
    {
      fix: 'Nothing was imported. Check that the source server is up and stays up (it was restarted, or the connection was killed), then run the import again.',
    },
  );
}

/** Errors that mean the connection is gone, not that a statement failed (pg and mysql2 alike). */
function isConnectionLoss(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, fatal } = error as { code?: unknown; fatal?: unknown };
  if (fatal === true) return true; // mysql2: the connection cannot be used any more
  if (typeof code === 'string') {
    // SQLSTATE class 08 (connection exception) and 57P01–57P03 (shutdown); socket errors.
    if (/^08|^57P0[1-3]$|^E(CONNRESET|CONNREFUSED|PIPE|TIMEDOUT|HOSTUNREACH|NETUNREACH|NOTFOUND)$/.test(code))
      return true;
  }
  return /Connection terminated|not queryable|connection (is )?lost|closed state/i.test(messageOf(error));
}

/** A driver's reason in a few words: Node's connect errors can be an AggregateError without a message. */
function reasonOf(error: unknown): string {
  const message = messageOf(error).trim();
  const code = (error as { code?: unknown } | null)?.code;
  if (message) return message;
  if (error instanceof AggregateError) {
    const inner = error.errors.map((item) => reasonOf(item)).filter(Boolean);
    if (inner.length > 0) return [...new Set(inner)].join('; ');
  }
  return typeof code === 'string' ? code : 'no reason given';
}
