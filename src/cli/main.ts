import { SchemaCheckFailed } from '../db/schema/problems.ts';
import { KeywayError, messageOf } from '../errors.ts';
import { appVersion } from '../version.ts';
import type { CliIO } from './common.ts';
import { EXIT_CODES, exitCodeFor } from './exit-codes.ts';

const HELP = `Keyway ${appVersion()}: a provider key stored once, encrypted, used by everything that needs it.

Usage:
  keyway serve [--port 3000] [--host 127.0.0.1] [--data ./data] [--database-url URL] [--migrate auto|check|off]
  keyway migrate status [--json] | up | plan [--all] | resolve NAME --applied|--rolled-back
  keyway doctor [--json] [--strict]
  keyway admin create-user --username U [--admin] --password-stdin | create-token --username U --name N
  keyway vault rotate-master-key [--batch-size 100]
  keyway login [--url URL] [--username U] [--password-stdin]
  keyway creds list | add --name N --provider P [--setting k=v] [--shared] [--secret-stdin] | test | rotate | rm
  keyway creds grant C --to everyone|team:T|user:U|bot:B|token:N [--models 'gpt-4o*'] [limits] [--expires D]
  keyway creds grants C | revoke C GRANT-ID
  keyway teams list | show T | create NAME | rename T NEW | delete T | add T USER [--admin] | remove T USER
  keyway teams limits T [--usd 20/month] [--tokens 2M/day] [--rpm 60] [--tpm 100k] [--clear]
  keyway files add PATH… [--name N] | list [--json] | rm ID
  keyway bots list | create --name N --credential C --model M […] | show | rm | sessions   (keyway bots help)
  keyway tokens list | create --name N [--expires-in-days D] | revoke ID
  keyway import chatbot-ui --from postgres://… [--dry-run] [--owner-map user=keywayuser,…] [--embedding-model C/M] [--history]
  keyway import evolution-api --from postgres://…|mysql://… --server-url URL [--owner U] [--instances a,b] [--dry-run]
  keyway usage [--group-by day|credential|model|token|bot|user|team] [--from D] [--to D] [--all] [--json]
  keyway --version

Database: the embedded database in --data (KEYWAY_DATA_DIR, default ./data), or a PostgreSQL server
with --database-url (DATABASE_URL). Flags override environment variables.
`;

// Each command is imported when it runs: `keyway --help` or `keyway tokens list` then loads neither
// the server nor the database drivers (`serve` alone loads ~200 modules).

/**
 * Runs one command line and returns the exit code; failures are printed as facts and a fix, never a
 * stack. `stop`: what ends `serve` (bin/keyway passes one that SIGTERM and SIGINT fire).
 */
export async function runCli(
  argv: string[],
  io: CliIO,
  options: { stop?: AbortSignal } = {},
): Promise<number> {
  const [command, ...args] = argv;
  try {
    switch (command) {
      case 'serve':
        return await (await import('./serve.ts')).serveCommand(args, io, options.stop);
      case 'migrate':
        return await (await import('./migrate.ts')).migrateCommand(args, io);
      case 'doctor':
        return await (await import('./doctor.ts')).doctorCommand(args, io);
      case 'admin':
        return await (await import('./admin.ts')).adminCommand(args, io);
      case 'vault':
        return await (await import('./vault.ts')).vaultCommand(args, io);
      case 'login':
        return await (await import('./login.ts')).loginCommand(args, io);
      case 'creds':
        return await (await import('./creds.ts')).credsCommand(args, io);
      case 'bots':
        return await (await import('./bots.ts')).botsCommand(args, io);
      case 'tokens':
        return await (await import('./tokens.ts')).tokensCommand(args, io);
      case 'teams':
        return await (await import('./teams.ts')).teamsCommand(args, io);
      case 'files':
        return await (await import('./files.ts')).filesCommand(args, io);
      case 'usage':
        return await (await import('./usage.ts')).usageCommand(args, io);
      case 'import':
        return await (await import('./import.ts')).importCommand(args, io);
      case '--version':
      case 'version':
        io.out(`${appVersion()}\n`);
        return EXIT_CODES.ok;
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        io.out(HELP);
        return EXIT_CODES.ok;
      default:
        throw new KeywayError('usage', `Unknown command: ${command}`, {
          fix: 'Run `keyway --help` for the list.',
        });
    }
  } catch (error) {
    io.err(describeFailure(error));
    return exitCodeFor(error);
  }
}

function describeFailure(error: unknown): string {
  if (error instanceof SchemaCheckFailed) {
    const lines = [`keyway: cannot continue: the database schema has ${error.problems.length} problem(s).`];
    for (const problem of error.problems) {
      lines.push(`  ${problem.severity}: [${problem.code}] ${problem.message}`, `    fix: ${problem.fix}`);
    }
    return lines.join('\n') + '\n';
  }
  if (error instanceof KeywayError) {
    return `keyway: [${error.code}] ${error.message}\n${error.fix ? `  fix: ${error.fix}\n` : ''}`;
  }
  return `keyway: unexpected error: ${messageOf(error)}\n  This is a bug in Keyway; please report it with the command you ran.\n`;
}
