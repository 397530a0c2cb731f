import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { SqlSession } from '../database.ts';
import type { ExpectedSchema } from './drift.ts';
import type { SchemaProblem } from './problems.ts';

/**
 * A live schema that passed the full drift check against an expected snapshot: its fingerprint, and
 * the warnings that check reported (a restart logs them again without running it).
 */
export interface VerifiedSchema {
  fingerprint: string;
  warnings: SchemaProblem[];
}

/** Where the last verification is kept. A lost or unreadable record only costs the full check. */
export interface VerifiedSchemaStore {
  read(): VerifiedSchema | null;
  write(verified: VerifiedSchema): void;
}

/**
 * Every catalog row the drift check reads, or that the text it compares depends on (a renamed
 * sequence or type changes a default's text), by oid and row version (`xmin`: any ALTER, RENAME,
 * CREATE or DROP writes a new row version), with the compared attributes spelled out besides. Equal
 * fingerprints mean the drift check would read exactly what it read before: only raw columns, no
 * deparsing, so on a just-opened PGlite this costs a fraction of the check's catalog reads.
 */
const FINGERPRINT_SQL = `
WITH ns AS (SELECT oid FROM pg_namespace WHERE nspname = current_schema()),
     rels AS (SELECT c.oid FROM pg_class c JOIN ns ON c.relnamespace = ns.oid)
SELECT md5(string_agg(entry, E'\\n' ORDER BY entry)) AS fingerprint FROM (
  SELECT concat_ws(' ', 'schema', current_schema(), current_setting('search_path'),
                   current_setting('server_version_num')) AS entry
  UNION ALL SELECT concat_ws(' ', 'class', c.oid, c.xmin, c.relname, c.relkind, c.relam)
    FROM pg_class c JOIN ns ON c.relnamespace = ns.oid
  UNION ALL SELECT concat_ws(' ', 'type', t.oid, t.xmin, t.typname) FROM pg_type t JOIN ns ON t.typnamespace = ns.oid
  UNION ALL SELECT concat_ws(' ', 'attribute', a.attrelid, a.attnum, a.xmin, a.attname, a.atttypid, a.atttypmod,
                             a.attnotnull, a.attisdropped, a.attidentity, a.attgenerated, a.atthasdef)
    FROM pg_attribute a JOIN rels ON a.attrelid = rels.oid WHERE a.attnum > 0
  UNION ALL SELECT concat_ws(' ', 'default', d.oid, d.xmin, d.adrelid, d.adnum)
    FROM pg_attrdef d JOIN rels ON d.adrelid = rels.oid
  UNION ALL SELECT concat_ws(' ', 'index', x.indexrelid, x.xmin, x.indrelid, x.indisunique, x.indisprimary)
    FROM pg_index x JOIN rels ON x.indrelid = rels.oid
  UNION ALL SELECT concat_ws(' ', 'constraint', k.oid, k.xmin, k.conrelid, k.conname, k.contype)
    FROM pg_constraint k JOIN rels ON k.conrelid = rels.oid
) entries`;

/**
 * The live catalog's fingerprint together with the snapshot it is checked against: a new Keyway
 * (another expected schema) never trusts a verification made against the old one.
 */
export async function schemaFingerprint(
  session: SqlSession,
  expected: ExpectedSchema | { digest: string },
): Promise<string> {
  const [row] = await session.query<{ fingerprint: string }>(FINGERPRINT_SQL);
  const snapshot = 'digest' in expected ? expected.digest : digestOf(JSON.stringify(expected));
  return `v1:${row?.fingerprint}:${snapshot}`;
}

export function digestOf(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Keeps the last verification in a small JSON file (the embedded database's data directory). */
export function verifiedSchemaFile(file: string): VerifiedSchemaStore {
  return {
    read() {
      try {
        const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<VerifiedSchema>;
        if (typeof parsed.fingerprint !== 'string' || !Array.isArray(parsed.warnings)) return null;
        return { fingerprint: parsed.fingerprint, warnings: parsed.warnings };
      } catch {
        return null;
      }
    },
    write(verified) {
      // Written whole, then renamed: a crash never leaves half a record. Failing to write is harmless.
      const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}`);
      try {
        fs.writeFileSync(temporary, `${JSON.stringify(verified)}\n`);
        fs.renameSync(temporary, file);
      } catch {
        fs.rmSync(temporary, { force: true });
      }
    },
  };
}
