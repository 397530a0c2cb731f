import { KeywayError } from '../errors.ts';
import { ApiClient, table } from './api-client.ts';
import { parseFlags, type CliIO } from './common.ts';

const USAGE = [
  'keyway tokens list [--json]',
  'keyway tokens create --name N [--expires-in-days D]   prints the token once',
  'keyway tokens revoke ID',
].join('\n');

interface Token {
  id: string;
  name: string;
  prefix: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  createdAt: string;
  token?: string;
}

/** `keyway tokens …`: the caller's API tokens through the HTTP API. */
export async function tokensCommand(args: string[], io: CliIO): Promise<number> {
  const [sub, ...rest] = args;
  const { values, positionals } = parseFlags(
    rest,
    {
      url: { type: 'string' },
      json: { type: 'boolean' },
      name: { type: 'string' },
      'expires-in-days': { type: 'string' },
    },
    USAGE,
  );
  const api = ApiClient.fromEnvironment(io, values);
  switch (sub) {
    case 'list': {
      const tokens = await api.call<Token[]>('GET', '/api/tokens');
      if (values.json) io.out(JSON.stringify(tokens) + '\n');
      else {
        io.out(
          table(
            tokens.map((token) => ({
              id: token.id,
              name: token.name,
              token: `${token.prefix}…`,
              expires: token.expiresAt ?? 'never',
              'last used': token.lastUsedAt ?? 'never',
            })),
            ['id', 'name', 'token', 'expires', 'last used'],
          ),
        );
      }
      return 0;
    }
    case 'create': {
      if (!values.name) throw new KeywayError('usage', 'tokens create needs --name.', { fix: USAGE });
      const days = values['expires-in-days'] === undefined ? undefined : Number(values['expires-in-days']);
      const created = await api.call<Token>('POST', '/api/tokens', {
        name: values.name,
        ...(days ? { expiresInDays: days } : {}),
      });
      io.out(`${created.token}\n`);
      io.err(`Created token "${created.name}" (${created.id}). It is shown this once; store it now.\n`);
      return 0;
    }
    case 'revoke': {
      if (!positionals[0])
        throw new KeywayError('usage', 'tokens revoke needs the token id.', { fix: USAGE });
      await api.call('DELETE', `/api/tokens/${positionals[0]}`);
      io.out(`Revoked ${positionals[0]}.\n`);
      return 0;
    }
    default:
      throw new KeywayError('usage', sub ? `Unknown tokens command: ${sub}` : 'tokens needs a command.', {
        fix: USAGE,
      });
  }
}
