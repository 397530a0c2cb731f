import { AuditLogRepository } from '../audit/audit-log.repository.ts';
import { prepareSchema } from '../db/schema/lifecycle.ts';
import { createLocalChangeFeed } from '../db/change-feed.ts';
import { KeywayError } from '../errors.ts';
import { TokensRepository } from '../tokens/tokens.repository.ts';
import { TokensService } from '../tokens/tokens.service.ts';
import { UsersRepository } from '../users/users.repository.ts';
import { UsersService } from '../users/users.service.ts';
import { loadConfig } from '../config/config.ts';
import { DATABASE_FLAGS, parseFlags, withSchemaContext, type CliIO } from './common.ts';
import { readSecret } from './prompt.ts';

const USAGE = [
  'keyway admin create-user --username U [--admin] --password-stdin   create a user (the first admin, offline)',
  'keyway admin create-token --username U --name N [--expires-in-days D]   print a new API token for U (only the token)',
  'Each takes --data DIR or --database-url URL; on the embedded database, stop the server first.',
].join('\n');

/** Offline bootstrap: works on the database directly, before any admin can sign in. */
export async function adminCommand(args: string[], io: CliIO): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'create-user') return createUser(rest, io);
  if (sub === 'create-token') return createToken(rest, io);
  throw new KeywayError('usage', sub ? `Unknown admin command: ${sub}` : 'admin needs a command.', {
    fix: USAGE,
  });
}

async function createUser(args: string[], io: CliIO): Promise<number> {
  const { values } = parseFlags(
    args,
    {
      ...DATABASE_FLAGS,
      username: { type: 'string' },
      admin: { type: 'boolean' },
      'password-stdin': { type: 'boolean' },
    },
    USAGE,
  );
  if (!values.username) throw new KeywayError('usage', 'create-user needs --username.', { fix: USAGE });
  const password = await readSecret(values['password-stdin'] === true, `Password for ${values.username}: `);
  return withSchemaContext(io, values, 'admin create-user', async (ctx, database) => {
    await prepareSchema(ctx, loadConfig({}, io.env).migrate);
    const users = new UsersService({
      users: new UsersRepository(database.db),
      audit: new AuditLogRepository(database.db),
      changes: createLocalChangeFeed(),
    });
    const user = await users.createUnchecked(
      { username: values.username!, password, role: values.admin ? 'admin' : 'member' },
      null,
    );
    io.out(`Created ${user.role} ${user.username} (${user.id}).\n`);
    return 0;
  });
}

async function createToken(args: string[], io: CliIO): Promise<number> {
  const { values } = parseFlags(
    args,
    {
      ...DATABASE_FLAGS,
      username: { type: 'string' },
      name: { type: 'string' },
      'expires-in-days': { type: 'string' },
    },
    USAGE,
  );
  if (!values.username || !values.name)
    throw new KeywayError('usage', 'create-token needs --username and --name.', { fix: USAGE });
  const days = values['expires-in-days'] === undefined ? undefined : Number(values['expires-in-days']);
  if (days !== undefined && !(Number.isInteger(days) && days > 0))
    throw new KeywayError('usage', '--expires-in-days takes a whole number of days.', { fix: USAGE });
  return withSchemaContext(io, values, 'admin create-token', async (ctx, database) => {
    await prepareSchema(ctx, loadConfig({}, io.env).migrate);
    const user = await new UsersRepository(database.db).findByUsername(values.username!);
    if (!user)
      throw new KeywayError('not_found', `No user named ${values.username}.`, {
        fix: 'Create it with `keyway admin create-user`.',
      });
    const changes = createLocalChangeFeed();
    const tokens = new TokensService({
      repository: new TokensRepository(database.db),
      changes,
      audit: new AuditLogRepository(database.db),
      logger: ctx.logger,
    });
    const created = await tokens.createFor(
      user.id,
      { name: values.name!, expiresAt: days ? new Date(Date.now() + days * 86_400_000) : null },
      null,
    );
    tokens.close();
    io.out(`${created.token}\n`);
    return 0;
  });
}
