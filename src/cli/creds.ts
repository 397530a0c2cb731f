import { KeywayError } from '../errors.ts';
import { ApiClient, table } from './api-client.ts';
import { parseFlags, type CliIO } from './common.ts';
import { readSecret } from './prompt.ts';
import {
  grantsTable,
  LIMIT_FLAGS,
  limitsFromFlags,
  parseSubject,
  resolveTeam,
  resolveUser,
  type GrantView,
} from './teams.ts';

const USAGE = [
  'keyway creds list [--json]',
  'keyway creds add --name N --provider P [--setting key=value …] [--shared] [--secret-stdin]   (asks for the key unless --secret-stdin)',
  'keyway creds test NAME|ID',
  'keyway creds rotate NAME|ID [--secret-stdin]',
  'keyway creds rm NAME|ID [--detach]',
  'keyway creds grant NAME|ID --to everyone|team:NAME|user:USERNAME|bot:NAME|token:NAME',
  "    [--models 'gpt-4o*,*-mini'] [--usd 20/month] [--tokens 2M/day] [--rpm 60] [--tpm 100k] [--expires 2027-01-01]",
  'keyway creds grants NAME|ID [--json]   who may use it, and what each grant has spent',
  'keyway creds revoke NAME|ID GRANT-ID   (the first characters of the id are enough)',
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
      to: { type: 'string' },
      models: { type: 'string' },
      expires: { type: 'string' },
      ...LIMIT_FLAGS,
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
    case 'grant': {
      if (!values.to)
        throw new KeywayError('usage', 'creds grant needs --to: whom the credential is shared with.', {
          fix: USAGE,
        });
      const credential = await resolve(api, positionals[0]);
      const subject = await resolveSubject(api, values.to);
      const models = values.models === undefined ? undefined : parseModels(values.models);
      const limits = limitsFromFlags(values, {});
      const expiresAt = values.expires === undefined ? undefined : parseExpiry(values.expires, new Date());
      const grant = await api.call<GrantView>('POST', `/api/credentials/${credential.id}/grants`, {
        subject,
        ...(models ? { models } : {}),
        ...(limits ? { limits } : {}),
        ...(expiresAt ? { expiresAt } : {}),
      });
      if (values.json) io.out(JSON.stringify(grant) + '\n');
      else io.out(`Granted ${credential.name} to ${values.to} (grant ${grant.id}).\n`);
      return 0;
    }
    case 'grants': {
      const credential = await resolve(api, positionals[0]);
      const { grants } = await api.call<{ grants: GrantView[] }>(
        'GET',
        `/api/credentials/${credential.id}/grants`,
      );
      io.out(values.json ? JSON.stringify(grants) + '\n' : grantsTable(grants));
      return 0;
    }
    case 'revoke': {
      const credential = await resolve(api, positionals[0]);
      const wanted = positionals[1]?.toLowerCase();
      if (!wanted)
        throw new KeywayError('usage', 'Name the grant to revoke (its id).', {
          fix: `\`keyway creds grants ${positionals[0]}\` lists them.`,
        });
      const { grants } = await api.call<{ grants: GrantView[] }>(
        'GET',
        `/api/credentials/${credential.id}/grants`,
      );
      const matches = grants.filter((grant) => grant.id.toLowerCase().startsWith(wanted));
      if (matches.length !== 1)
        throw new KeywayError(
          matches.length ? 'ambiguous' : 'not_found',
          matches.length
            ? `${matches.length} grants of ${credential.name} start with ${wanted}; give more of the id.`
            : `${credential.name} has no grant ${wanted}.`,
          { fix: `\`keyway creds grants ${positionals[0]}\` lists them.` },
        );
      await api.call('DELETE', `/api/credentials/${credential.id}/grants/${matches[0]!.id}`);
      io.out(`Revoked grant ${matches[0]!.id} of ${credential.name}.\n`);
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

/** `--to` as the API takes it: names become ids (teams, users, and the caller's bots and tokens). */
async function resolveSubject(api: ApiClient, text: string): Promise<{ type: string; id?: string }> {
  const subject = parseSubject(text);
  switch (subject.type) {
    case 'everyone':
      return { type: 'everyone' };
    case 'team':
      return { type: 'team', id: (await resolveTeam(api, subject.name)).id };
    case 'user':
      return { type: 'user', id: (await resolveUser(api, subject.name)).id };
    case 'bot':
    case 'token': {
      const owned = await api.call<{ id: string; name: string }[]>('GET', `/api/${subject.type}s`);
      const found =
        owned.find((item) => item.id === subject.name) ??
        owned.find((item) => item.name.toLowerCase() === subject.name.toLowerCase());
      if (!found)
        throw new KeywayError('not_found', `You have no ${subject.type} named ${subject.name}.`, {
          fix: `\`keyway ${subject.type}s list\` shows yours.`,
        });
      return { type: subject.type, id: found.id };
    }
  }
}

/** `gpt-4o*, *-mini` → `['gpt-4o*', '*-mini']`. */
export function parseModels(text: string): string[] {
  const models = text
    .split(',')
    .map((model) => model.trim())
    .filter((model) => model !== '');
  if (models.length === 0)
    throw new KeywayError(
      'usage',
      '--models takes model patterns separated by commas, such as gpt-4o*,*-mini.',
      {
        fix: USAGE,
      },
    );
  return models;
}

/** `2027-01-01` (the start of that day, UTC) or an ISO time such as `2027-01-01T12:00:00Z` → an ISO time to come. */
export function parseExpiry(text: string, now: Date): string {
  const day = /^\d{4}-\d{2}-\d{2}$/.test(text);
  const at = new Date(day ? `${text}T00:00:00Z` : text);
  // Date also reads "Jan 1 2027" (in local time) and rolls 2027-02-30 over to March: neither is meant.
  const valid =
    /^\d{4}-\d{2}-\d{2}(T|$)/.test(text) &&
    !Number.isNaN(at.getTime()) &&
    (!day || at.toISOString().slice(0, 10) === text);
  if (!valid)
    throw new KeywayError('usage', `--expires takes a date such as 2027-01-01; got "${text}".`, {
      fix: USAGE,
    });
  if (at.getTime() <= now.getTime())
    throw new KeywayError('usage', `--expires ${text} has passed: the grant would never work.`);
  return at.toISOString();
}
