import { diagnoseSchema } from '../db/schema/lifecycle.ts';
import type { SchemaProblem } from '../db/schema/problems.ts';
import { KeywayError } from '../errors.ts';
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
      const firstError = report.problems.find((problem) => problem.severity === 'error');
      const exitCode = firstError ? exitCodeForCode(firstError.code) : 0;
      if (values.json) {
        io.out(
          JSON.stringify({
            ok: report.ok,
            exitCode,
            version: appVersion(),
            database: { kind: database.kind, location: database.location },
            applied: report.status.applied.map((row) => row.name),
            pending: report.status.pending.map((migration) => migration.name),
            driftChecked: report.drift !== null,
            problems: report.problems,
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
        lines.push('… live schema not compared: resolve the history problems first');
      }
      for (const problem of report.problems) lines.push(...describeProblem(problem));
      const errors = report.problems.filter((problem) => problem.severity === 'error').length;
      const warnings = report.problems.length - errors;
      lines.push(
        report.ok
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

function describeProblem(problem: SchemaProblem): string[] {
  const mark = problem.severity === 'error' ? '✖' : '⚠';
  return [`${mark} [${problem.code}] ${problem.message}`, `    fix: ${problem.fix}`];
}
