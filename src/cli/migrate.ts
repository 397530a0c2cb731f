import { loadConfig } from '../config/config.ts';
import { loadMigrationFiles } from '../db/schema/migration-files.ts';
import { KeywayError } from '../errors.ts';
import { migrateUp, planSql, readSchemaStatus, resolveMigration, checkDrift } from '../db/schema/migrator.ts';
import { errorsIn } from '../db/schema/problems.ts';
import { appVersion } from '../version.ts';
import { DATABASE_FLAGS, describeDatabase, parseFlags, withSchemaContext, type CliIO } from './common.ts';

const USAGE = [
  'keyway migrate status [--json]     what is applied, what is pending, and any problem with the history',
  'keyway migrate up                  apply pending migrations (safe with many replicas: they take turns)',
  'keyway migrate plan [--all]        print the exact SQL `up` would run (--all: for every migration)',
  'keyway migrate resolve NAME --applied|--rolled-back   record the outcome of an unfinished migration',
  'Each takes --data DIR or --database-url URL (or KEYWAY_DATA_DIR / DATABASE_URL).',
].join('\n');

export async function migrateCommand(args: string[], io: CliIO): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case 'status':
      return status(rest, io);
    case 'up':
      return up(rest, io);
    case 'plan':
      return plan(rest, io);
    case 'resolve':
      return resolve(rest, io);
    default:
      throw new KeywayError('usage', sub ? `Unknown migrate command: ${sub}` : 'migrate needs a command.', {
        fix: USAGE,
      });
  }
}

async function status(args: string[], io: CliIO): Promise<number> {
  const { values } = parseFlags(args, { ...DATABASE_FLAGS, json: { type: 'boolean' } }, USAGE);
  return withSchemaContext(io, values, 'migrate status', async (ctx, database) => {
    const report = await readSchemaStatus(ctx);
    if (values.json) {
      io.out(
        JSON.stringify({
          applied: report.applied.map((row) => ({
            name: row.name,
            checksum: row.checksum,
            appliedAt: row.finishedAt ? new Date(row.finishedAt).toISOString() : null,
            appVersion: row.appVersion,
          })),
          pending: report.pending.map((migration) => migration.name),
          problems: report.problems.map(({ code, message, fix }) => ({ code, message, fix })),
        }) + '\n',
      );
      return 0;
    }
    const lines = [
      `Keyway ${appVersion()}, ${describeDatabase(database)}`,
      `Applied (${report.applied.length}):`,
    ];
    for (const row of report.applied) {
      const when = row.finishedAt ? new Date(row.finishedAt).toISOString() : 'UNFINISHED';
      lines.push(
        `  ${row.name.padEnd(32)} ${when}  by Keyway ${row.appVersion}  sha256 ${row.checksum.slice(0, 12)}…`,
      );
    }
    lines.push(`Pending (${report.pending.length}):${report.pending.length === 0 ? ' none' : ''}`);
    for (const migration of report.pending) lines.push(`  ${migration.name}`);
    lines.push(`Problems (${report.problems.length}):${report.problems.length === 0 ? ' none' : ''}`);
    for (const problem of report.problems)
      lines.push(`  [${problem.code}] ${problem.message}`, `    fix: ${problem.fix}`);
    io.out(lines.join('\n') + '\n');
    return 0;
  });
}

async function up(args: string[], io: CliIO): Promise<number> {
  const { values } = parseFlags(args, DATABASE_FLAGS, USAGE);
  return withSchemaContext(io, values, 'migrate up', async (ctx, database) => {
    const { applied } = await migrateUp(ctx);
    io.out(
      applied.length === 0
        ? `Nothing to apply: the ${describeDatabase(database)} is up to date.\n`
        : `Applied ${applied.length} migration${applied.length === 1 ? '' : 's'} to the ${describeDatabase(database)}:\n${applied.map((name) => `  ${name}\n`).join('')}`,
    );
    const drift = await checkDrift(ctx);
    for (const problem of drift)
      io.err(`${problem.severity}: [${problem.code}] ${problem.message}\n  fix: ${problem.fix}\n`);
    return errorsIn(drift).length > 0 ? 30 : 0;
  });
}

async function plan(args: string[], io: CliIO): Promise<number> {
  const { values } = parseFlags(args, { ...DATABASE_FLAGS, all: { type: 'boolean' } }, USAGE);
  if (values.all) {
    // Every migration, whatever the database holds: no connection needed.
    io.out(planSql(loadMigrationFiles(loadConfig({}, io.env).migrationsDir), appVersion()) + '\n');
    return 0;
  }
  return withSchemaContext(io, values, 'migrate plan', async (ctx) => {
    const report = await readSchemaStatus(ctx);
    if (report.pending.length === 0) {
      io.out('-- Nothing to apply: the database is up to date.\n');
      return 0;
    }
    io.out(planSql(report.pending, appVersion()) + '\n');
    return 0;
  });
}

async function resolve(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseFlags(
    args,
    { ...DATABASE_FLAGS, applied: { type: 'boolean' }, 'rolled-back': { type: 'boolean' } },
    USAGE,
  );
  const [name] = positionals;
  if (!name || values.applied === values['rolled-back']) {
    throw new KeywayError(
      'usage',
      'migrate resolve needs a migration name and exactly one of --applied or --rolled-back.',
      { fix: USAGE },
    );
  }
  return withSchemaContext(io, values, 'migrate resolve', async (ctx) => {
    await resolveMigration(ctx, name, values.applied ? 'applied' : 'rolled-back');
    io.out(`Recorded migration ${name} as ${values.applied ? 'applied' : 'rolled back'}.\n`);
    return 0;
  });
}
