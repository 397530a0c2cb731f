import { SchemaCheckFailed } from '../db/schema/problems.ts';
import { KeywayError, messageOf } from '../errors.ts';
import { appVersion } from '../version.ts';
import type { CliIO } from './common.ts';
import { doctorCommand } from './doctor.ts';
import { EXIT_CODES, exitCodeFor } from './exit-codes.ts';
import { migrateCommand } from './migrate.ts';
import { serveCommand } from './serve.ts';
import { adminCommand } from './admin.ts';
import { vaultCommand } from './vault.ts';
import { loginCommand } from './login.ts';
import { credsCommand } from './creds.ts';
import { tokensCommand } from './tokens.ts';
import { botsCommand } from './bots.ts';
import { usageCommand } from './usage.ts';
import { importCommand } from './import.ts';

const HELP = `Keyway ${appVersion()}: a provider key stored once, encrypted, used by everything that needs it.

Usage:
  keyway serve [--port 3000] [--host 127.0.0.1] [--data ./data] [--database-url URL] [--migrate auto|check|off]
  keyway migrate status [--json] | up | plan [--all] | resolve NAME --applied|--rolled-back
  keyway doctor [--json] [--strict]
  keyway admin create-user --username U [--admin] --password-stdin | create-token --username U --name N
  keyway vault rotate-master-key [--batch-size 100]
  keyway login [--url URL] [--username U] [--password-stdin]
  keyway creds list | add --name N --provider P [--setting k=v] [--shared] [--secret-stdin] | test | rotate | rm
  keyway bots list | create --name N --credential C --model M […] | show | rm | sessions   (keyway bots help)
  keyway tokens list | create --name N [--expires-in-days D] | revoke ID
  keyway import chatbot-ui --from postgres://… [--dry-run] [--owner-map user=keywayuser,…]
  keyway import evolution-api --from postgres://…|mysql://… --server-url URL [--owner U] [--instances a,b] [--dry-run]
  keyway usage [--group-by day|credential|model|token] [--from D] [--to D] [--all] [--json]
  keyway --version

Database: the embedded database in --data (KEYWAY_DATA_DIR, default ./data), or a PostgreSQL server
with --database-url (DATABASE_URL). Flags override environment variables.
`;

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
        return await serveCommand(args, io, options.stop);
      case 'migrate':
        return await migrateCommand(args, io);
      case 'doctor':
        return await doctorCommand(args, io);
      case 'admin':
        return await adminCommand(args, io);
      case 'vault':
        return await vaultCommand(args, io);
      case 'login':
        return await loginCommand(args, io);
      case 'creds':
        return await credsCommand(args, io);
      case 'bots':
        return await botsCommand(args, io);
      case 'tokens':
        return await tokensCommand(args, io);
      case 'usage':
        return await usageCommand(args, io);
      case 'import':
        return await importCommand(args, io);
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
