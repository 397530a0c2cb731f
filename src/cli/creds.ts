import { KeywayError } from '../errors.ts';
import { ApiClient, table } from './api-client.ts';
import { parseFlags, type CliIO } from './common.ts';
import { readSecret } from './prompt.ts';

const USAGE = [
  'keyway creds list [--json]',
  'keyway creds add --name N --provider P [--setting key=value …] [--shared] [--secret-stdin]   (asks for the key unless --secret-stdin)',
  'keyway creds test NAME|ID',
  'keyway creds rotate NAME|ID [--secret-stdin]',
  'keyway creds rm NAME|ID [--detach]',
  'All take --url (or KEYWAY_URL) and use the token from `keyway login` or KEYWAY_TOKEN.',
].join('\n');

interface Credential {
  id: string;
  name: string;
  provider: string;
  shared: boolean;
  hint: string;
  status: string;
  statusMessage: string | null;
  duplicates: { id: string; name: string }[];
  usedBy: { bots: number };
  lastUsedAt: string | null;
  warnings?: string[];
}

/** `keyway creds …`: the vault through the HTTP API. Keys are read from a prompt or stdin, never argv. */
export async function credsCommand(args: string[], io: CliIO): Promise<number> {
  const [sub, ...rest] = args;
  const { values, positionals } = parseFlags(
    rest,
    {
      url: { type: 'string' },
      json: { type: 'boolean' },
      name: { type: 'string' },
      provider: { type: 'string' },
      setting: { type: 'string', multiple: true },
      shared: { type: 'boolean' },
      'secret-stdin': { type: 'boolean' },
      detach: { type: 'boolean' },
    },
    USAGE,
  );
  const api = ApiClient.fromEnvironment(io, values);
  switch (sub) {
    case 'list': {
      const credentials = await api.call<Credential[]>('GET', '/api/credentials');
      if (values.json) {
        io.out(JSON.stringify(credentials) + '\n');
        return 0;
      }
      io.out(
        table(
          credentials.map((credential) => ({
            id: credential.id,
            name: credential.name + (credential.shared ? ' (shared)' : ''),
            provider: credential.provider,
            key: credential.hint,
            status: credential.status,
            bots: String(credential.usedBy.bots),
            duplicates: credential.duplicates.map((duplicate) => duplicate.name).join(', '),
          })),
          ['id', 'name', 'provider', 'key', 'status', 'bots', 'duplicates'],
        ),
      );
      return 0;
    }
    case 'add': {
      if (!values.name || !values.provider)
        throw new KeywayError('usage', 'creds add needs --name and --provider.', { fix: USAGE });
      const settings = parseSettings(values.setting ?? []);
      const secret = await readSecret(
        values['secret-stdin'] === true,
        `API key for ${values.name} (leave empty if the provider needs none): `,
      );
      const created = await api.call<Credential>('POST', '/api/credentials', {
        name: values.name,
        provider: values.provider,
        ...(secret ? { secret } : {}),
        ...(Object.keys(settings).length ? { settings } : {}),
        ...(values.shared ? { shared: true } : {}),
      });
      io.out(`Stored ${created.name} (${created.provider}, ${created.hint}) as ${created.id}.\n`);
      for (const warning of created.warnings ?? []) io.err(`warning: ${warning}\n`);
      return 0;
    }
    case 'test': {
      const credential = await resolve(api, positionals[0]);
      const result = await api.call<{ status: string; message: string | null; models: number | null }>(
        'POST',
        `/api/credentials/${credential.id}/test`,
      );
      io.out(
        result.status === 'valid'
          ? `${credential.name}: valid (${result.models} models)\n`
          : `${credential.name}: INVALID: ${result.message}\n`,
      );
      return result.status === 'valid' ? 0 : 1;
    }
    case 'rotate': {
      const credential = await resolve(api, positionals[0]);
      const secret = await readSecret(
        values['secret-stdin'] === true,
        `New API key for ${credential.name}: `,
      );
      const rotated = await api.call<Credential & { version: number }>(
        'POST',
        `/api/credentials/${credential.id}/rotate`,
        { secret },
      );
      io.out(`Rotated ${rotated.name}: now ${rotated.hint}, version ${rotated.version}.\n`);
      for (const warning of rotated.warnings ?? []) io.err(`warning: ${warning}\n`);
      return 0;
    }
    case 'rm': {
      const credential = await resolve(api, positionals[0]);
      await api.call('DELETE', `/api/credentials/${credential.id}${values.detach ? '?detach=true' : ''}`);
      io.out(`Deleted ${credential.name}.\n`);
      return 0;
    }
    default:
      throw new KeywayError('usage', sub ? `Unknown creds command: ${sub}` : 'creds needs a command.', {
        fix: USAGE,
      });
  }
}

async function resolve(api: ApiClient, nameOrId: string | undefined): Promise<Credential> {
  if (!nameOrId) throw new KeywayError('usage', 'Name the credential (its name or id).', { fix: USAGE });
  const credentials = await api.call<Credential[]>('GET', '/api/credentials');
  const matches = credentials.filter(
    (credential) => credential.id === nameOrId || credential.name.toLowerCase() === nameOrId.toLowerCase(),
  );
  if (matches.length === 1) return matches[0]!;
  if (matches.length > 1)
    throw new KeywayError(
      'ambiguous',
      `Both a shared credential and yours are named ${nameOrId}; use its id.`,
      { details: { ids: matches.map((m) => m.id) } },
    );
  throw new KeywayError('not_found', `No credential named ${nameOrId}.`, {
    fix: '`keyway creds list` shows them.',
  });
}

function parseSettings(pairs: string[]): Record<string, string> {
  const settings: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at < 1) throw new KeywayError('usage', `--setting takes key=value, got "${pair}".`, { fix: USAGE });
    settings[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return settings;
}
