import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../config/config.ts';
import type { Database } from '../db/database.ts';
import { SettingsRepository } from '../db/settings.repository.ts';
import { Cipher } from '../vault/cipher.ts';
import { GENERATED_KEY_FILE, loadMasterKeys } from '../vault/master-key.ts';
import { inspectMasterKey } from '../vault/vault-check.ts';
import { diagnoseSchema } from '../db/schema/lifecycle.ts';
import type { SchemaProblem } from '../db/schema/problems.ts';
import { KeywayError } from '../errors.ts';
import { describeVectorSearch, probeVectorSearch } from '../knowledge/vector-index.ts';
import { appVersion } from '../version.ts';
import { DATABASE_FLAGS, describeDatabase, parseFlags, withSchemaContext, type CliIO } from './common.ts';
import { exitCodeFor, exitCodeForCode } from './exit-codes.ts';

const USAGE = 'keyway doctor [--json] [--strict] [--data DIR | --database-url URL]';

/**
 * `keyway doctor`: every check a start makes, on demand, changing nothing. Exits 0 when healthy,
 * else with the exit code of the first error (see exit-codes.ts). `--strict` makes warnings errors.
 */
export async function doctorCommand(args: string[], io: CliIO): Promise<number> {
  const { values } = parseFlags(
    args,
    { ...DATABASE_FLAGS, json: { type: 'boolean' }, strict: { type: 'boolean' } },
    USAGE,
  );
  const strict = values.strict === true;
  try {
    return await withSchemaContext(io, values, 'doctor', async (ctx, database) => {
      const report = await diagnoseSchema(ctx, { strict });
      const vectorSearch = await probeVectorSearch(database);
      const vault = report.drift ? await checkVault(io, database) : null;
      const problems: DoctorProblem[] = [...report.problems, ...(vault?.problem ? [vault.problem] : [])];
      const ok = report.ok && !vault?.problem;
      const firstError = problems.find((problem) => problem.severity === 'error');
      const exitCode = firstError ? exitCodeForCode(firstError.code) : 0;
      if (values.json) {
        io.out(
          JSON.stringify({
            ok: ok,
            exitCode,
            version: appVersion(),
            database: { kind: database.kind, location: database.location },
            applied: report.status.applied.map((row) => row.name),
            pending: report.status.pending.map((migration) => migration.name),
            driftChecked: report.drift !== null,
            vectorSearch: { ...vectorSearch, description: describeVectorSearch(vectorSearch) },
            problems: problems,
          }) + '\n',
        );
        return exitCode;
      }
      const lines = [
        `Keyway ${appVersion()} doctor: ${describeDatabase(database)}${strict ? ' (strict)' : ''}`,
        '✔ connected',
      ];
      const historyProblems = report.status.problems.length + (report.status.pending.length > 0 ? 1 : 0);
      if (historyProblems === 0) {
        lines.push(
          `✔ migration history: ${report.status.applied.length} applied, none pending, checksums match`,
        );
      }
      if (report.drift && report.drift.length === 0) {
        lines.push(
          `✔ live schema matches the expected schema (${Object.keys(ctx.expected.tables).length} tables)`,
        );
      } else if (!report.drift) {
        lines.push(
          '… live schema not compared: it is compared once the history is clean and nothing is pending',
        );
      }
      if (vault?.line) lines.push(vault.line);
      lines.push(
        `${vectorSearch.kind === 'pgvector' ? '✔' : 'ℹ'} vector search: ${describeVectorSearch(vectorSearch)}`,
      );
      for (const problem of problems) lines.push(...describeProblem(problem));
      const errors = problems.filter((problem) => problem.severity === 'error').length;
      const warnings = problems.length - errors;
      lines.push(
        ok
          ? `OK${warnings ? ` (${warnings} warning${warnings === 1 ? '' : 's'})` : ''}`
          : `FAILED: ${errors} error(s), ${warnings} warning(s); exit code ${exitCode}`,
      );
      io.out(lines.join('\n') + '\n');
      return exitCode;
    });
  } catch (error) {
    // Could not even look (unreachable server, locked data directory): still answer in the asked format.
    if (!(error instanceof KeywayError) || !values.json) throw error;
    const problem = { code: error.code, severity: 'error', message: error.message, fix: error.fix ?? '' };
    io.out(
      JSON.stringify({
        ok: false,
        exitCode: exitCodeFor(error),
        version: appVersion(),
        problems: [problem],
      }) + '\n',
    );
    return exitCodeFor(error);
  }
}

/** The master key: configured, and the one the vault was sealed with. Reads only. */
async function checkVault(
  io: CliIO,
  database: Database,
): Promise<{ line?: string; problem?: DoctorProblem }> {
  const config = loadConfig({}, io.env);
  let cipher: Cipher;
  try {
    const storage =
      database.kind === 'embedded'
        ? ({ kind: 'embedded', dataDir: database.location } as const)
        : ({ kind: 'postgres' } as const);
    if (
      storage.kind === 'embedded' &&
      !config.masterKey.key &&
      !config.masterKey.keyFile &&
      !fs.existsSync(path.join(storage.dataDir, GENERATED_KEY_FILE))
    ) {
      return { line: '… master key: none yet (the first start generates one in the data directory)' };
    }
    const keys = loadMasterKeys(config.masterKey, storage);
    cipher = new Cipher(keys.current, keys.readable);
  } catch (error) {
    if (!(error instanceof KeywayError)) throw error;
    return { problem: { code: error.code, severity: 'error', message: error.message, fix: error.fix ?? '' } };
  }
  const state = await inspectMasterKey(cipher, new SettingsRepository(database.db));
  if (state.state === 'wrong') {
    return {
      problem: {
        code: 'master_key_wrong',
        severity: 'error',
        message: `The configured master key (id ${cipher.current.id}) is not the one the vault was sealed with (id ${state.sealedWith}).`,
        fix: 'Configure the key this database was set up with (KEYWAY_MASTER_KEY or KEYWAY_MASTER_KEY_FILE).',
      },
    };
  }
  return {
    line:
      state.state === 'verified'
        ? `✔ master key ${cipher.current.id} opens the vault`
        : `… master key ${cipher.current.id}: the vault is not sealed yet (first start)`,
  };
}

type DoctorProblem = Omit<SchemaProblem, 'code'> & { code: string };

function describeProblem(problem: DoctorProblem): string[] {
  const mark = problem.severity === 'error' ? '✖' : '⚠';
  return [`${mark} [${problem.code}] ${problem.message}`, `    fix: ${problem.fix}`];
}
