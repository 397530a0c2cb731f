import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';

// Secret scans for the canary tests: where a plaintext secret could end up on disk.

/** Every byte of every file under a directory, searched for each needle. */
export function filesContaining(dir: string, needles: string[]): string[] {
  const hits: string[] = [];
  const walk = (current: string) => {
    for (const entry of fs.readdirSync(current, { withFileTypes: true })) {
      const full = path.join(current, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile()) {
        const bytes = fs.readFileSync(full);
        for (const needle of needles)
          if (bytes.includes(Buffer.from(needle))) hits.push(`${full} holds ${needle.slice(0, 12)}…`);
      }
    }
  };
  walk(dir);
  return hits;
}

/**
 * The whole PostgreSQL database as text: pg_dump when the installed one can dump this server, else
 * every row of every table with bytea shown both as hex and decoded (nothing is skipped either way).
 */
export async function dumpPostgres(url: string): Promise<{ how: string; text: string }> {
  try {
    return {
      how: 'pg_dump',
      text: execFileSync('pg_dump', ['--dbname', url], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    };
  } catch {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const tables = await client.query<{ table_name: string }>(
        `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()`,
      );
      let text = '';
      for (const { table_name } of tables.rows) {
        const rows = await client.query(`SELECT * FROM "${table_name}"`);
        for (const row of rows.rows) {
          for (const value of Object.values(row)) {
            text +=
              (Buffer.isBuffer(value)
                ? value.toString('hex') + ' ' + value.toString('latin1')
                : JSON.stringify(value)) + '\n';
          }
        }
      }
      return { how: 'a full SELECT of every table (the installed pg_dump is older than this server)', text };
    } finally {
      await client.end();
    }
  }
}
