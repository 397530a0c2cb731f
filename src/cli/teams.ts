import { KeywayError } from '../errors.ts';
import { limitsSchema, PERIODS, type Limits, type Period } from '../limits/limits.ts';
import { ApiClient, table } from './api-client.ts';
import { parseFlags, type CliIO } from './common.ts';
import { formatUsd } from './usage.ts';

const USAGE = [
  'keyway teams list [--json]',
  'keyway teams show TEAM [--json]',
  'keyway teams create NAME [limit flags]',
  'keyway teams rename TEAM NEW-NAME',
  'keyway teams delete TEAM',
  'keyway teams add TEAM USERNAME [--admin]      adds a member, or changes their role',
  'keyway teams remove TEAM USERNAME',
  'keyway teams limits TEAM [limit flags | --clear]   shows the limits without flags',
  'Limit flags: --usd 20/month  --tokens 2M/day  --rpm 60  --tpm 100k   (periods: day, week, month, total;',
  '  a flag set to "none" removes that limit, the others stay)',
  'TEAM is a name or an id. All take --url (or KEYWAY_URL) and use the token from `keyway login` or KEYWAY_TOKEN.',
].join('\n');

/** What `GET /api/teams` and `GET /api/teams/:id` answer (docs/sharing.md). */
interface Team {
  id: string;
  name: string;
  limits: Limits;
  myRole: 'member' | 'admin' | null;
  memberCount: number;
  members?: { userId: string; username: string; role: 'member' | 'admin' }[];
  grants?: GrantView[];
}

/** A grant as the API shows it; `creds grants` prints the same. */
export interface GrantView {
  id: string;
  credentialId: string;
  subject: { type: SubjectType; id?: string | null; name?: string | null };
  models: string[] | null;
  limits: Limits;
  expiresAt: string | null;
  /** Spent in the current window of the grant's usd and tokens limits; null where it has no such limit. */
  spent: { usd: number | null; tokens: number | null };
}

/** The flags that set limits, shared by `teams create|limits` and `creds grant`. */
export const LIMIT_FLAGS = {
  usd: { type: 'string' },
  tokens: { type: 'string' },
  rpm: { type: 'string' },
  tpm: { type: 'string' },
} as const;

type LimitFlagValues = { [flag in keyof typeof LIMIT_FLAGS]?: string | undefined };

/** How many arguments each command takes. */
const ARGUMENTS: Record<string, number> = {
  list: 0,
  show: 1,
  create: 1,
  rename: 2,
  delete: 1,
  add: 2,
  remove: 2,
  limits: 1,
};

/** `keyway teams …`: teams, their members and limits through the HTTP API. */
export async function teamsCommand(args: string[], io: CliIO): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'help' || sub === '--help' || sub === '-h') {
    io.out(USAGE + '\n');
    return 0;
  }
  const { values, positionals } = parseFlags(
    rest,
    {
      url: { type: 'string' },
      json: { type: 'boolean' },
      admin: { type: 'boolean' },
      clear: { type: 'boolean' },
      ...LIMIT_FLAGS,
    },
    USAGE,
  );
  if (sub === undefined || !Object.hasOwn(ARGUMENTS, sub))
    throw usage(sub ? `Unknown teams command: ${sub}` : 'teams needs a command.');
  const wanted = ARGUMENTS[sub]!;
  if (positionals.length !== wanted)
    throw usage(
      positionals.length < wanted
        ? `\`teams ${sub}\` needs ${wanted === 1 ? 'one argument' : 'two arguments'}.`
        : `Unexpected argument "${positionals[wanted]}" for \`teams ${sub}\`.`,
    );
  const api = ApiClient.fromEnvironment(io, values);
  const [first = '', second = ''] = positionals;
  switch (sub) {
    case 'list': {
      const { teams } = await api.call<{ teams: Team[] }>('GET', '/api/teams');
      if (values.json) io.out(JSON.stringify(teams) + '\n');
      else
        io.out(
          table(
            teams.map((team) => ({
              id: team.id,
              name: team.name,
              members: String(team.memberCount),
              'your role': team.myRole ?? '-',
              limits: describeLimits(team.limits),
            })),
            ['id', 'name', 'members', 'your role', 'limits'],
          ),
        );
      return 0;
    }
    case 'show': {
      const team = await api.call<Team>('GET', `/api/teams/${(await resolveTeam(api, first)).id}`);
      if (values.json) {
        io.out(JSON.stringify(team) + '\n');
        return 0;
      }
      io.out(`${team.name} (${team.id})\nlimits: ${describeLimits(team.limits)}\n\nMembers\n`);
      io.out(
        table(
          (team.members ?? []).map((member) => ({ username: member.username, role: member.role })),
          ['username', 'role'],
        ),
      );
      io.out('\nGrants to the team\n' + grantsTable(team.grants ?? []));
      return 0;
    }
    case 'create': {
      const limits = limitsFromFlags(values, {});
      const created = await api.call<Team>('POST', '/api/teams', {
        name: first,
        ...(limits ? { limits } : {}),
      });
      io.out(`Created team ${created.name} (${created.id}).\n`);
      return 0;
    }
    case 'rename': {
      const team = await resolveTeam(api, first);
      const renamed = await api.call<Team>('PATCH', `/api/teams/${team.id}`, { name: second });
      io.out(`Renamed ${team.name} to ${renamed.name}.\n`);
      return 0;
    }
    case 'delete': {
      const team = await resolveTeam(api, first);
      await api.call('DELETE', `/api/teams/${team.id}`);
      io.out(`Deleted team ${team.name}; the grants made to it are gone with it.\n`);
      return 0;
    }
    case 'add': {
      const team = await resolveTeam(api, first);
      const user = await resolveUser(api, second);
      const role = values.admin ? 'admin' : 'member';
      await api.call('PUT', `/api/teams/${team.id}/members/${user.id}`, { role });
      io.out(`${user.username} is a team ${role} of ${team.name}.\n`);
      return 0;
    }
    case 'remove': {
      const team = await resolveTeam(api, first);
      // The team's own member list resolves the username, so a team admin needs no user list.
      const detail = await api.call<Team>('GET', `/api/teams/${team.id}`);
      const member = (detail.members ?? []).find(
        (candidate) =>
          candidate.username.toLowerCase() === second.toLowerCase() || candidate.userId === second,
      );
      if (!member)
        throw new KeywayError('not_found', `${second} is not a member of ${team.name}.`, {
          fix: `\`keyway teams show ${JSON.stringify(team.name)}\` lists the members.`,
        });
      await api.call('DELETE', `/api/teams/${team.id}/members/${member.userId}`);
      io.out(`Removed ${member.username} from ${team.name}.\n`);
      return 0;
    }
    case 'limits': {
      if (values.clear && hasLimitFlag(values))
        throw usage('--clear removes every limit; it does not go with --usd, --tokens, --rpm or --tpm.');
      const team = await resolveTeam(api, first);
      const limits = values.clear ? {} : limitsFromFlags(values, team.limits);
      if (limits === undefined) {
        if (values.json) io.out(JSON.stringify(team.limits) + '\n');
        else io.out(`${team.name}: ${describeLimits(team.limits)}\n`);
        return 0;
      }
      const saved = await api.call<{ limits: Limits }>('PUT', `/api/teams/${team.id}/limits`, limits);
      io.out(`${team.name}: ${describeLimits(saved.limits)}\n`);
      return 0;
    }
    default:
      throw usage(`Unknown teams command: ${sub}`);
  }
}

function usage(message: string): KeywayError {
  return new KeywayError('usage', message, { fix: USAGE });
}

/** A team by id or (case-insensitive) name, among those the caller may see. */
export async function resolveTeam(api: ApiClient, nameOrId: string): Promise<Team> {
  const { teams } = await api.call<{ teams: Team[] }>('GET', '/api/teams');
  const team =
    teams.find((candidate) => candidate.id === nameOrId) ??
    teams.find((candidate) => candidate.name.toLowerCase() === nameOrId.toLowerCase());
  if (!team)
    throw new KeywayError('not_found', `No team named ${nameOrId}.`, {
      fix: '`keyway teams list` shows them.',
    });
  return team;
}

/** A user by username or id; listing users takes an admin. */
export async function resolveUser(
  api: ApiClient,
  nameOrId: string,
): Promise<{ id: string; username: string }> {
  const users = await api
    .call<{ id: string; username: string }[]>('GET', '/api/users')
    .catch((error: unknown) => {
      if (error instanceof KeywayError && error.code === 'forbidden')
        throw new KeywayError(
          'forbidden',
          `Finding the user ${nameOrId} takes an admin (only admins list users).`,
          {
            fix: 'Ask an admin, or use the user id instead of the username.',
          },
        );
      throw error;
    });
  const user = users.find(
    (candidate) => candidate.id === nameOrId || candidate.username.toLowerCase() === nameOrId.toLowerCase(),
  );
  if (!user) throw new KeywayError('not_found', `No user named ${nameOrId}.`);
  return user;
}

// ---- Pure parts: limits and grant subjects as typed on a command line ----

/**
 * `20/month`, `$2.50/day`, `2M/week`, `500k/total` → `{amount, period}`. Tokens are whole numbers and
 * take k and M; dollars take a `$` and cents.
 */
export function parseAmountPerPeriod(
  text: string,
  kind: 'usd' | 'tokens',
): { amount: number; period: Period } {
  const flag = `--${kind}`;
  const example = kind === 'usd' ? '20/month' : '2M/day';
  const slash = text.lastIndexOf('/');
  if (slash < 0)
    throw new KeywayError(
      'usage',
      `${flag} takes an amount and a period, such as ${example}; got "${text}".`,
      {
        fix: `Periods: ${PERIODS.join(', ')}.`,
      },
    );
  const period = text
    .slice(slash + 1)
    .trim()
    .toLowerCase();
  if (!(PERIODS as readonly string[]).includes(period))
    throw new KeywayError('usage', `${flag}: "${period}" is not a period.`, {
      fix: `Periods: ${PERIODS.join(', ')} (such as ${example}).`,
    });
  const amountText = text.slice(0, slash).trim();
  const amount =
    kind === 'usd'
      ? parseNumber(amountText.replace(/^\$/, ''), flag, false)
      : parseNumber(amountText, flag, true);
  return { amount, period: period as Period };
}

/** A positive number; `whole` ones also take thousands separators and a k or M suffix. */
function parseNumber(text: string, flag: string, whole: boolean): number {
  const match = /^(\d[\d_,]*(?:\.\d+)?)([kKmM]?)$/.exec(text.trim());
  const scale = { '': 1, k: 1e3, m: 1e6 }[match?.[2]?.toLowerCase() ?? ''] ?? 1;
  const value = match && (whole || match[2] === '') ? Number(match[1]!.replace(/[_,]/g, '')) * scale : NaN;
  if (!Number.isFinite(value) || value <= 0 || (whole && !Number.isInteger(value)))
    throw new KeywayError(
      'usage',
      `${flag} takes ${whole ? 'a whole number such as 100000, 100k or 2M' : 'a positive number such as 20 or 2.50'}; got "${text}".`,
    );
  return value;
}

const hasLimitFlag = (values: LimitFlagValues) =>
  values.usd !== undefined ||
  values.tokens !== undefined ||
  values.rpm !== undefined ||
  values.tpm !== undefined;

/**
 * The limits the flags ask for, on top of `current` (a flag set to `none` removes that limit);
 * undefined when no limit flag was given.
 */
export function limitsFromFlags(values: LimitFlagValues, current: Limits): Limits | undefined {
  if (!hasLimitFlag(values)) return undefined;
  const limits: Limits = { ...current };
  const set = <K extends keyof Limits>(
    key: K,
    text: string | undefined,
    parse: (text: string) => Limits[K],
  ) => {
    if (text === undefined) return;
    if (text.trim().toLowerCase() === 'none') delete limits[key];
    else limits[key] = parse(text);
  };
  set('usd', values.usd, (text) => parseAmountPerPeriod(text, 'usd'));
  set('tokens', values.tokens, (text) => parseAmountPerPeriod(text, 'tokens'));
  set('requestsPerMinute', values.rpm, (text) => parseNumber(text, '--rpm', true));
  set('tokensPerMinute', values.tpm, (text) => parseNumber(text, '--tpm', true));
  const checked = limitsSchema.safeParse(limits);
  if (!checked.success)
    throw new KeywayError(
      'usage',
      `Those limits are out of range: ${checked.error.issues[0]?.message ?? 'invalid'}.`,
    );
  return checked.data;
}

/** `$20.00/month, 2,000,000 tokens/day, 60 requests/min`, or `none`. */
export function describeLimits(limits: Limits): string {
  const parts: string[] = [];
  if (limits.usd) parts.push(`${formatUsd(limits.usd.amount)}/${limits.usd.period}`);
  if (limits.tokens)
    parts.push(`${limits.tokens.amount.toLocaleString('en-US')} tokens/${limits.tokens.period}`);
  if (limits.requestsPerMinute)
    parts.push(`${limits.requestsPerMinute.toLocaleString('en-US')} requests/min`);
  if (limits.tokensPerMinute) parts.push(`${limits.tokensPerMinute.toLocaleString('en-US')} tokens/min`);
  return parts.length ? parts.join(', ') : 'none';
}

export const SUBJECT_TYPES = ['everyone', 'team', 'user', 'bot', 'token'] as const;
export type SubjectType = (typeof SUBJECT_TYPES)[number];

/** `everyone`, `team:Physics 101`, `user:alice`, `bot:support`, `token:ci` → who a grant is for. */
export function parseSubject(
  text: string,
): { type: 'everyone' } | { type: Exclude<SubjectType, 'everyone'>; name: string } {
  const fix = '--to takes everyone, team:NAME, user:USERNAME, bot:NAME or token:NAME.';
  if (text.trim().toLowerCase() === 'everyone') return { type: 'everyone' };
  const colon = text.indexOf(':');
  const type = text.slice(0, colon).trim().toLowerCase();
  const name = text.slice(colon + 1).trim();
  if (colon < 0 || type === 'everyone' || !(SUBJECT_TYPES as readonly string[]).includes(type))
    throw new KeywayError('usage', `Cannot tell whom "${text}" names.`, { fix });
  if (name === '') throw new KeywayError('usage', `"${text}" names no ${type}.`, { fix });
  return { type: type as Exclude<SubjectType, 'everyone'>, name };
}

/** How a grant's subject reads in a table: `everyone`, `team Physics 101`. */
export function describeSubject(subject: GrantView['subject']): string {
  return subject.type === 'everyone' ? 'everyone' : `${subject.type} ${subject.name ?? subject.id ?? '?'}`;
}

/** Grants as a table, with what each has spent in its current window. */
export function grantsTable(grants: GrantView[]): string {
  return table(
    grants.map((grant) => ({
      id: grant.id,
      to: describeSubject(grant.subject),
      models: grant.models?.join(', ') ?? 'all',
      limits: describeLimits(grant.limits),
      spent:
        [
          grant.spent.usd === null ? null : formatUsd(grant.spent.usd),
          grant.spent.tokens === null ? null : `${grant.spent.tokens.toLocaleString('en-US')} tokens`,
        ]
          .filter((part) => part !== null)
          .join(', ') || '-',
      expires: grant.expiresAt?.slice(0, 10) ?? 'never',
    })),
    ['id', 'to', 'models', 'limits', 'spent', 'expires'],
  );
}
