import fs from 'node:fs';
import type { z } from 'zod';
import { createBotSchema, type BotView, type Trigger } from '../bots/bot.schema.ts';
import { validateTrigger } from '../bots/bot-rules.ts';
import { KeywayError, messageOf } from '../errors.ts';
import { ApiClient, table } from './api-client.ts';
import { parseFlags, type CliIO } from './common.ts';
import { promptVisible, readSecret } from './prompt.ts';

const USAGE = [
  'keyway bots list [--json]',
  'keyway bots create --name N --credential NAME|ID --model M [--json]',
  '    [--system-prompt TEXT | --system-prompt-file FILE] [--history N] [--temperature X] [--max-tokens N]',
  '    [--trigger all|none|keyword] [--operator equals|contains|startsWith|endsWith|regex] [--value V] [--case-sensitive]',
  '    [--keyword-finish K] [--expire-minutes N] [--debounce-seconds N] [--ignore PATTERN …]',
  '    [--fallback-bot NAME|ID] [--fallback-credential NAME|ID …] [--split] [--split-delay-ms N]',
  '    [--unknown-message TEXT] [--failure-message TEXT] [--webhook-url URL]',
  '    [--knowledge NAME|ID …] [--retrieval-token-budget N] [--cite-sources]',
  '    [--images] [--speech-to-text [--transcription-model M]]',
  '    [--evolution-url URL --evolution-instance NAME [--evolution-key-stdin]]   (asks for the instance key unless --evolution-key-stdin)',
  '    [--from-json FILE]   the whole POST /api/bots body; flags override it',
  'keyway bots show NAME|ID [--json]',
  'keyway bots rm NAME|ID [--yes]',
  'keyway bots sessions NAME|ID [--status opened|paused|closed] [--contact C] [--json]',
  'keyway bots sessions NAME|ID --contact C --set opened|paused|closed',
  'All take --url (or KEYWAY_URL) and use the token from `keyway login` or KEYWAY_TOKEN.',
].join('\n');

/** What a usage error suggests: the whole usage is long, so it is one command away, not repeated. */
const SEE_HELP = '`keyway bots help` lists every command and flag.';

const FLAGS = {
  url: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  name: { type: 'string' },
  credential: { type: 'string' },
  model: { type: 'string' },
  'system-prompt': { type: 'string' },
  'system-prompt-file': { type: 'string' },
  trigger: { type: 'string' },
  operator: { type: 'string' },
  value: { type: 'string' },
  'case-sensitive': { type: 'boolean' },
  'keyword-finish': { type: 'string' },
  'expire-minutes': { type: 'string' },
  'debounce-seconds': { type: 'string' },
  history: { type: 'string' },
  ignore: { type: 'string', multiple: true },
  'fallback-bot': { type: 'string' },
  'fallback-credential': { type: 'string', multiple: true },
  split: { type: 'boolean' },
  'split-delay-ms': { type: 'string' },
  temperature: { type: 'string' },
  'max-tokens': { type: 'string' },
  'unknown-message': { type: 'string' },
  'failure-message': { type: 'string' },
  'webhook-url': { type: 'string' },
  knowledge: { type: 'string', multiple: true },
  'retrieval-token-budget': { type: 'string' },
  'cite-sources': { type: 'boolean' },
  images: { type: 'boolean' },
  'speech-to-text': { type: 'boolean' },
  'transcription-model': { type: 'string' },
  'evolution-url': { type: 'string' },
  'evolution-instance': { type: 'string' },
  'evolution-key-stdin': { type: 'boolean' },
  'from-json': { type: 'string' },
  yes: { type: 'boolean' },
  status: { type: 'string' },
  contact: { type: 'string' },
  set: { type: 'string' },
} as const;

type Flag = keyof typeof FLAGS;
type Values = ReturnType<typeof parseFlags<typeof FLAGS>>['values'];

const COMMON: Flag[] = ['url', 'help'];
const CREATE_ONLY = Object.keys(FLAGS).filter(
  (flag) => !['url', 'help', 'yes', 'status', 'contact', 'set'].includes(flag),
) as Flag[];
/** Which flags each command takes: a flag given to the wrong command is a mistake worth saying so. */
const FLAGS_OF: Record<string, Flag[]> = {
  list: [...COMMON, 'json'],
  create: [...COMMON, ...CREATE_ONLY],
  show: [...COMMON, 'json'],
  rm: [...COMMON, 'yes'],
  sessions: [...COMMON, 'json', 'status', 'contact', 'set'],
};

const OPERATORS = ['equals', 'contains', 'startsWith', 'endsWith', 'regex'] as const;
const STATUSES = ['opened', 'paused', 'closed'] as const;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface Credential {
  id: string;
  name: string;
  provider: string;
  shared: boolean;
}

interface Session {
  id: string;
  contact: string;
  contactName: string | null;
  status: string;
  closeReason: string | null;
  messages: number;
  lastActivityAt: string;
}

/**
 * `keyway bots …`: bots through the HTTP API. The Evolution API instance key is read from stdin or a
 * hidden prompt, never from argv; the inbound secret is printed once, when the bot is created.
 */
export async function botsCommand(args: string[], io: CliIO): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === undefined) throw usage('bots needs a command.');
  if (sub === 'help' || sub === '--help' || sub === '-h') {
    io.out(USAGE + '\n');
    return 0;
  }
  if (!Object.hasOwn(FLAGS_OF, sub)) throw usage(`Unknown bots command: ${sub}`);
  const allowed = FLAGS_OF[sub]!;
  if (rest.some((arg) => /^--evolution-(api-)?key(=|$)/.test(arg)))
    throw usage(
      'The Evolution API instance key is never taken from a flag (it would stay in the shell history): pipe it to --evolution-key-stdin, or leave that out to be asked for it.',
    );
  const { values, positionals } = parseFlags(rest, FLAGS, SEE_HELP);
  if (values.help) {
    io.out(USAGE + '\n');
    return 0;
  }
  for (const flag of Object.keys(values) as Flag[]) {
    if (!allowed.includes(flag)) throw usage(`--${flag} does not go with \`bots ${sub}\`.`);
  }
  const wanted = sub === 'list' || sub === 'create' ? 0 : 1;
  if (positionals.length < wanted) throw usage(`Name the bot (its name or id): keyway bots ${sub} NAME|ID`);
  if (positionals.length > wanted)
    throw usage(`Unexpected argument "${positionals[wanted]}" for \`bots ${sub}\`.`);
  const api = () => ApiClient.fromEnvironment(io, values);

  switch (sub) {
    case 'list':
      return listBots(api(), values, io);
    case 'create':
      return createBot(values, io, api);
    case 'show': {
      const client = api();
      const bot = await resolveBot(client, positionals[0]!);
      if (values.json) io.out(JSON.stringify(bot) + '\n');
      else io.out(describeBot(bot, await namesFor(client), client.url));
      return 0;
    }
    case 'rm':
      return removeBot(api(), positionals[0]!, values, io);
    default:
      return sessionsCommand(api, positionals[0]!, values, io);
  }
}

async function listBots(api: ApiClient, values: Values, io: CliIO): Promise<number> {
  const bots = await api.call<BotView[]>('GET', '/api/bots');
  if (values.json) {
    io.out(JSON.stringify(bots) + '\n');
    return 0;
  }
  const names = await namesFor(api, bots);
  io.out(
    table(
      bots.map((bot) => ({
        name: bot.name,
        model: bot.model,
        credential: credentialLabel(bot.credentialId, names),
        trigger: describeTrigger(bot.trigger),
        channels: channelsOf(bot).join(', ') || '-',
        id: bot.id,
      })),
      ['name', 'model', 'credential', 'trigger', 'channels', 'id'],
    ),
  );
  return 0;
}

async function createBot(values: Values, io: CliIO, api: () => ApiClient): Promise<number> {
  const body = draftFromFlags(values);
  const evolution = evolutionOf(body);
  const keyFromStdin = values['evolution-key-stdin'] === true;
  if (keyFromStdin && !evolution)
    throw usage(
      '--evolution-key-stdin needs the Evolution channel: --evolution-url and --evolution-instance.',
    );
  const needsKey = evolution !== undefined && (keyFromStdin || typeof evolution.apiKey !== 'string');
  if (needsKey && !keyFromStdin && !process.stdin.isTTY)
    throw usage(
      'The Evolution API instance key is read from stdin with --evolution-key-stdin, or asked for on a terminal; it is never taken from a flag.',
    );
  // Everything that can be checked without the server is checked before asking for anything.
  checkDraft(body, { resolved: false });

  const client = api();
  const names = await resolveReferences(client, body);
  checkDraft(body, { resolved: true });
  if (needsKey && evolution) {
    const key = await readSecret(
      keyFromStdin,
      `API key of the Evolution API instance "${String(evolution.instance)}": `,
    );
    if (!key) throw usage('No Evolution API instance key was given.');
    evolution.apiKey = key;
  }

  const created = await client.call<BotView>('POST', '/api/bots', body);
  const hooks = hookUrls(client.url, created);
  if (values.json) {
    io.out(JSON.stringify({ ...created, hookUrls: hooks }) + '\n');
    return 0;
  }
  io.out(`Created bot ${created.name} (${created.id}).\n\n`);
  io.out(describeBot(created, names, client.url));
  io.out(
    [
      '',
      'Inbound secret (shown only now: store it, Keyway cannot show it again):',
      `  ${created.inboundSecret ?? '(none returned)'}`,
      '',
      'Point the channels at Keyway:',
      `  generic webhook  POST ${hooks.webhook}`,
      `                   with header x-keyway-secret: ${created.inboundSecret ?? ''}`,
      ...(created.channels.evolution
        ? [
            `  Evolution API    ${hooks.evolution}`,
            `                   as the instance's webhook URL, event MESSAGES_UPSERT; use an address of this Keyway that the Evolution server can reach`,
          ]
        : []),
      '',
    ].join('\n'),
  );
  return 0;
}

async function removeBot(api: ApiClient, nameOrId: string, values: Values, io: CliIO): Promise<number> {
  const bot = await resolveBot(api, nameOrId);
  if (!values.yes) {
    if (!process.stdin.isTTY) throw usage(`Deleting bot ${bot.name} needs --yes when not run on a terminal.`);
    const answer = await promptVisible(`Delete bot ${bot.name} (${bot.id}) and all its sessions? [y/N] `);
    if (!/^y(es)?$/i.test(answer.trim())) {
      io.err('Nothing deleted.\n');
      return 1;
    }
  }
  await api.call('DELETE', `/api/bots/${bot.id}`);
  io.out(`Deleted bot ${bot.name}.\n`);
  return 0;
}

async function sessionsCommand(
  api: () => ApiClient,
  nameOrId: string,
  values: Values,
  io: CliIO,
): Promise<number> {
  const status = values.status;
  if (status !== undefined && !isOneOf(STATUSES, status))
    throw usage(`--status takes opened, paused or closed, got "${status}".`);
  const set = values.set;
  if (set !== undefined) {
    if (!isOneOf(STATUSES, set)) throw usage(`--set takes opened, paused or closed, got "${set}".`);
    if (!values.contact) throw usage('--set needs --contact: whose session to change.');
    if (status !== undefined) throw usage('--status filters the list; it does not go with --set.');
  }
  const client = api();
  const bot = await resolveBot(client, nameOrId);
  if (set !== undefined) {
    const session = await client.call<Session>(
      'POST',
      `/api/bots/${bot.id}/sessions/${encodeURIComponent(values.contact!)}/status`,
      { status: set },
    );
    if (values.json) io.out(JSON.stringify(session) + '\n');
    else io.out(`The session of ${session.contact} with ${bot.name} is now ${session.status}.\n`);
    return 0;
  }
  const query = status ? `?status=${status}&limit=500` : '?limit=500';
  let sessions = await client.call<Session[]>('GET', `/api/bots/${bot.id}/sessions${query}`);
  if (values.contact) sessions = sessions.filter((session) => session.contact === values.contact);
  if (values.json) {
    io.out(JSON.stringify(sessions) + '\n');
    return 0;
  }
  io.out(
    table(
      sessions.map((session) => ({
        contact: session.contact,
        name: session.contactName ?? '',
        status: session.status + (session.closeReason ? ` (${session.closeReason})` : ''),
        messages: String(session.messages),
        'last activity': session.lastActivityAt,
      })),
      ['contact', 'name', 'status', 'messages', 'last activity'],
    ),
  );
  return 0;
}

// ——— building the POST body ———

type Draft = Record<string, unknown>;

/** The body of POST /api/bots: `--from-json` first, each flag given on top of it. */
function draftFromFlags(values: Values): Draft {
  const body: Draft = values['from-json'] ? readJsonObject(values['from-json']) : {};
  const put = (key: string, value: unknown) => {
    if (value !== undefined) body[key] = value;
  };
  put('name', values.name);
  put('credentialId', values.credential);
  put('model', values.model);
  if (values['system-prompt'] !== undefined && values['system-prompt-file'] !== undefined)
    throw usage('Give the system prompt once: --system-prompt or --system-prompt-file.');
  put('systemPrompt', values['system-prompt']);
  if (values['system-prompt-file'] !== undefined)
    put('systemPrompt', readText(values['system-prompt-file'], '--system-prompt-file').replace(/\s+$/, ''));
  put('historyWindow', numberFlag(values, 'history', { integer: true }));
  put('keywordFinish', values['keyword-finish']);
  put('expireMinutes', numberFlag(values, 'expire-minutes', { integer: true }));
  put('debounceSeconds', numberFlag(values, 'debounce-seconds', { integer: false }));
  put('ignore', values.ignore);
  put('fallbackBotId', values['fallback-bot']);
  put('fallbackCredentialIds', values['fallback-credential']);
  put('unknownMessage', values['unknown-message']);
  put('failureMessage', values['failure-message']);
  put('knowledgeBaseIds', values.knowledge);
  put('retrievalTokenBudget', numberFlag(values, 'retrieval-token-budget', { integer: true }));
  if (values['cite-sources']) put('citeSources', true);
  if (values.images) put('images', true);
  if (values['speech-to-text']) put('speechToText', true);
  put('transcriptionModel', values['transcription-model']);

  const temperature = numberFlag(values, 'temperature', { integer: false });
  const maxTokens = numberFlag(values, 'max-tokens', { integer: true });
  if (temperature !== undefined || maxTokens !== undefined) {
    body.params = {
      ...objectOr(body.params),
      ...(temperature !== undefined ? { temperature } : {}),
      ...(maxTokens !== undefined ? { maxTokens } : {}),
    };
  }

  const delayMs = numberFlag(values, 'split-delay-ms', { integer: true });
  if (values.split || delayMs !== undefined) {
    body.split = { ...objectOr(body.split), enabled: true, ...(delayMs !== undefined ? { delayMs } : {}) };
  }

  const trigger = triggerFromFlags(values, body.trigger);
  if (trigger) body.trigger = trigger;

  if (
    values['webhook-url'] !== undefined ||
    values['evolution-url'] !== undefined ||
    values['evolution-instance'] !== undefined
  ) {
    const channels = objectOr(body.channels);
    if (values['webhook-url'] !== undefined) channels.webhook = { callbackUrl: values['webhook-url'] };
    if (values['evolution-url'] !== undefined || values['evolution-instance'] !== undefined) {
      const evolution = {
        ...objectOr(channels.evolution),
        ...(values['evolution-url'] !== undefined ? { serverUrl: values['evolution-url'] } : {}),
        ...(values['evolution-instance'] !== undefined ? { instance: values['evolution-instance'] } : {}),
      };
      if (evolution.serverUrl === undefined || evolution.instance === undefined)
        throw usage('The Evolution channel needs both --evolution-url and --evolution-instance.');
      channels.evolution = evolution;
    }
    body.channels = channels;
  }

  const missing = (['name', 'credentialId', 'model'] as const).filter((key) => body[key] === undefined);
  if (missing.length)
    throw usage(
      `bots create needs ${missing.map((key) => (key === 'credentialId' ? '--credential' : `--${key}`)).join(', ')} (or the fields in --from-json).`,
    );
  return body;
}

function triggerFromFlags(values: Values, fromJson: unknown): Draft | undefined {
  const type = values.trigger;
  if (type !== undefined && !isOneOf(['all', 'none', 'keyword'] as const, type))
    throw usage(`--trigger takes all, none or keyword, got "${type}".`);
  const operator = values.operator;
  if (operator !== undefined && !isOneOf(OPERATORS, operator))
    throw usage(`--operator takes ${OPERATORS.join(', ')}, got "${operator}".`);
  const keywordFlags = operator !== undefined || values.value !== undefined || values['case-sensitive'];
  if (keywordFlags && type !== undefined && type !== 'keyword')
    throw usage('--operator, --value and --case-sensitive go with --trigger keyword.');

  let trigger = fromJson === undefined ? undefined : objectOr(fromJson);
  if (type !== undefined) trigger = type === 'keyword' && trigger?.type === 'keyword' ? trigger : { type };
  // A keyword flag alone means a keyword trigger.
  if (keywordFlags && trigger?.type !== 'keyword') trigger = { type: 'keyword' };
  if (!trigger || trigger.type !== 'keyword') return trigger;
  if (operator !== undefined) trigger.operator = operator;
  if (values.value !== undefined) trigger.value = values.value;
  if (values['case-sensitive']) trigger.caseSensitive = true;
  if (trigger.operator === undefined) throw usage('A keyword trigger needs --operator.');
  if (trigger.value === undefined || trigger.value === '') throw usage('A keyword trigger needs --value.');
  return trigger;
}

const REFERENCE_KEYS = {
  credentialId: true,
  fallbackCredentialIds: true,
  fallbackBotId: true,
  knowledgeBaseIds: true,
} as const;
const withoutReferences = createBotSchema.omit(REFERENCE_KEYS);

/**
 * Checks the body with the same schema the server uses, so a bad value is a usage error here, not a
 * round trip. Before names are resolved to ids the references are left out.
 */
function checkDraft(body: Draft, options: { resolved: boolean }): void {
  const parsed = (options.resolved ? createBotSchema : withoutReferences).safeParse(
    options.resolved ? body : omitKeys(body, Object.keys(REFERENCE_KEYS)),
  );
  if (!parsed.success) throw usage(`Invalid bot: ${describeIssue(parsed.error.issues[0]!)}`);
  const trigger = (parsed.data as { trigger: Trigger }).trigger;
  try {
    validateTrigger(trigger);
  } catch (error) {
    throw usage(messageOf(error));
  }
}

/** Credential and bot names become ids; returns the names for printing the bot. */
async function resolveReferences(api: ApiClient, body: Draft): Promise<Names> {
  const names = await namesFor(api);
  const credentials = [...names.credentials.values()];
  body.credentialId = resolveCredential(credentials, body.credentialId, '--credential');
  if (body.fallbackCredentialIds !== undefined) {
    if (!Array.isArray(body.fallbackCredentialIds))
      throw usage('fallbackCredentialIds must be a list of credential names or ids.');
    body.fallbackCredentialIds = body.fallbackCredentialIds.map((ref) =>
      resolveCredential(credentials, ref, '--fallback-credential'),
    );
  }
  if (body.knowledgeBaseIds !== undefined) {
    if (!Array.isArray(body.knowledgeBaseIds))
      throw usage('knowledgeBaseIds must be a list of knowledge base names or ids.');
    body.knowledgeBaseIds = body.knowledgeBaseIds.map((ref) => resolveKnowledge(names, ref));
  }
  if (typeof body.fallbackBotId === 'string') {
    const fallback = await resolveBot(api, body.fallbackBotId);
    body.fallbackBotId = fallback.id;
    names.bots.set(fallback.id, fallback.name);
  }
  return names;
}

function resolveCredential(credentials: Credential[], ref: unknown, flag: string): string {
  if (typeof ref !== 'string' || ref === '') throw usage(`${flag} takes a credential's name or id.`);
  const matches = credentials.filter(
    (credential) => credential.id === ref || credential.name.toLowerCase() === ref.toLowerCase(),
  );
  if (matches.length === 1) return matches[0]!.id;
  if (matches.length > 1)
    throw new KeywayError('ambiguous', `Both a shared credential and yours are named ${ref}; use its id.`, {
      details: { ids: matches.map((match) => match.id) },
    });
  // An id the list does not show is the server's to judge (it answers with the reason).
  if (UUID.test(ref)) return ref;
  throw new KeywayError('not_found', `No credential named ${ref}.`, {
    fix: '`keyway creds list` shows them.',
  });
}

function resolveKnowledge(names: Names, ref: unknown): string {
  if (typeof ref !== 'string' || ref === '') throw usage("--knowledge takes a knowledge base's name or id.");
  for (const [id, name] of names.knowledge)
    if (id === ref || name.toLowerCase() === ref.toLowerCase()) return id;
  // An id the list does not show is the server's to judge (it answers 404 naming the field).
  if (UUID.test(ref)) return ref;
  throw new KeywayError('not_found', `No knowledge base named ${ref}.`, {
    fix: '`GET /api/knowledge` lists yours.',
  });
}

async function resolveBot(api: ApiClient, nameOrId: string): Promise<BotView> {
  const bots = await api.call<BotView[]>('GET', '/api/bots');
  const exact = bots.filter((bot) => bot.id === nameOrId || bot.name === nameOrId);
  const matches = exact.length
    ? exact
    : bots.filter((bot) => bot.name.toLowerCase() === nameOrId.toLowerCase());
  if (matches.length === 1) return matches[0]!;
  if (matches.length > 1)
    throw new KeywayError('ambiguous', `Several bots are named ${nameOrId}; use its id.`, {
      details: { ids: matches.map((match) => match.id) },
    });
  throw new KeywayError('not_found', `No bot named ${nameOrId}.`, { fix: '`keyway bots list` shows them.' });
}

// ——— printing ———

interface Names {
  credentials: Map<string, Credential>;
  bots: Map<string, string>;
  knowledge: Map<string, string>;
}

async function namesFor(api: ApiClient, bots?: BotView[]): Promise<Names> {
  const credentials = await api.call<Credential[]>('GET', '/api/credentials');
  const allBots = bots ?? (await api.call<BotView[]>('GET', '/api/bots'));
  const knowledge = await api.call<{ id: string; name: string }[]>('GET', '/api/knowledge');
  return {
    credentials: new Map(credentials.map((credential) => [credential.id, credential])),
    bots: new Map(allBots.map((bot) => [bot.id, bot.name])),
    knowledge: new Map(knowledge.map((base) => [base.id, base.name])),
  };
}

function credentialLabel(id: string | null, names: Names): string {
  if (id === null) return '(none: the credential was deleted)';
  const credential = names.credentials.get(id);
  return credential ? credential.name + (credential.shared ? ' (shared)' : '') : id;
}

function describeTrigger(trigger: Trigger): string {
  if (trigger.type !== 'keyword') return trigger.type;
  return `keyword ${trigger.operator} ${JSON.stringify(trigger.value)}${trigger.caseSensitive ? ' (case-sensitive)' : ''}`;
}

function channelsOf(bot: BotView): string[] {
  return [bot.channels.webhook ? 'webhook' : '', bot.channels.evolution ? 'evolution' : ''].filter(Boolean);
}

function hookUrls(base: string, bot: BotView): { webhook: string; evolution: string | null } {
  const secret = bot.inboundSecret ? `?secret=${encodeURIComponent(bot.inboundSecret)}` : '';
  return {
    webhook: base + bot.hooks.webhook,
    evolution: bot.channels.evolution ? base + bot.hooks.evolution + secret : null,
  };
}

/** Every setting of a bot, grouped; never a secret (the Evolution key only as its hint). */
function describeBot(bot: BotView, names: Names, base: string): string {
  const quoted = (text: string | null) => (text ? JSON.stringify(text) : '(none)');
  const params = Object.entries(bot.params)
    .map(([key, value]) => `${key} ${Array.isArray(value) ? JSON.stringify(value) : String(value)}`)
    .join(', ');
  const { evolution, webhook } = bot.channels;
  const sections: [string, [string, string][]][] = [
    [
      `${bot.name}  (${bot.id})`,
      [
        ['model', bot.model],
        ['credential', credentialLabel(bot.credentialId, names)],
        [
          'fallback credentials',
          bot.fallbackCredentialIds.map((id) => credentialLabel(id, names)).join(', ') || 'none',
        ],
        ['version', `${bot.version} (created ${bot.createdAt}, updated ${bot.updatedAt})`],
      ],
    ],
    [
      'Prompt',
      [
        ['system prompt', bot.systemPrompt || '(none)'],
        [
          'seed messages',
          bot.seedMessages.length
            ? `${bot.seedMessages.length} (${bot.seedMessages.map((m) => m.role).join(', ')})`
            : 'none',
        ],
        ['history window', `${bot.historyWindow} message(s)`],
        ['parameters', params || "the provider's defaults"],
      ],
    ],
    [
      'Trigger and sessions',
      [
        ['trigger', describeTrigger(bot.trigger)],
        ['keyword finish', quoted(bot.keywordFinish)],
        ['expires after', bot.expireMinutes ? `${bot.expireMinutes} min of inactivity` : 'never'],
        ['debounce', bot.debounceSeconds ? `${bot.debounceSeconds} s` : 'off'],
        ['ignore', bot.ignore.join(', ') || 'nobody'],
        [
          'fallback bot',
          bot.fallbackBotId ? (names.bots.get(bot.fallbackBotId) ?? bot.fallbackBotId) : 'none',
        ],
        [
          'human takeover',
          `operator messages ${bot.takeover.pauseOnFromMe ? 'pause' : 'do not pause'} the session` +
            `${bot.takeover.listenFromMe ? ' and are answered' : ''}`,
        ],
      ],
    ],
    [
      'Replies',
      [
        ['split', bot.split.enabled ? `on blank lines, ${bot.split.delayMs} ms apart` : 'off'],
        ['unknown content', quoted(bot.unknownMessage)],
        ['on failure', quoted(bot.failureMessage)],
      ],
    ],
    [
      'Knowledge and media',
      [
        [
          'knowledge bases',
          bot.knowledgeBaseIds.map((id) => names.knowledge.get(id) ?? `${id} (not readable)`).join(', ') ||
            'none',
        ],
        [
          'retrieved tokens',
          bot.retrievalTokenBudget ? `at most ${bot.retrievalTokenBudget}` : 'the server default',
        ],
        ['sources line', bot.citeSources ? 'on messaging channels' : 'off'],
        ['images', bot.images ? 'sent to the model' : 'unreadable content'],
        [
          'voice notes',
          bot.speechToText ? `transcribed with ${bot.transcriptionModel}` : 'unreadable content',
        ],
      ],
    ],
    [
      'Channels',
      [
        ['HTTP', `POST ${base}/api/bots/${bot.id}/messages`],
        ['webhook in', `POST ${base}${bot.hooks.webhook} (header x-keyway-secret)`],
        ['webhook replies', webhook ? `POST ${webhook.callbackUrl} (signed)` : 'none'],
        [
          'Evolution API',
          evolution
            ? `${evolution.serverUrl}, instance ${evolution.instance}, key ${evolution.apiKeyHint}`
            : 'not connected',
        ],
        ...(evolution
          ? ([['Evolution webhook', `${base}${bot.hooks.evolution}?secret=<inbound secret>`]] as [
              string,
              string,
            ][])
          : []),
      ],
    ],
  ];
  const width = Math.max(...sections.flatMap(([, rows]) => rows.map(([label]) => label.length)));
  return (
    sections
      .map(
        ([title, rows]) =>
          title +
          '\n' +
          rows
            .map(
              ([label, value]) =>
                `  ${label.padEnd(width)}  ${value.replace(/\n/g, '\n' + ' '.repeat(width + 4))}`,
            )
            .join('\n'),
      )
      .join('\n\n') + '\n'
  );
}

// ——— small helpers ———

function usage(message: string): KeywayError {
  return new KeywayError('usage', message, { fix: SEE_HELP });
}

function isOneOf<T extends string>(options: readonly T[], value: string): value is T {
  return (options as readonly string[]).includes(value);
}

function numberFlag(values: Values, flag: Flag, options: { integer: boolean }): number | undefined {
  const raw = values[flag];
  if (raw === undefined) return undefined;
  const text = String(raw).trim();
  const value = Number(text);
  if (text === '' || !Number.isFinite(value) || (options.integer && !Number.isInteger(value)))
    throw usage(`--${flag} takes ${options.integer ? 'a whole number' : 'a number'}, got "${String(raw)}".`);
  return value;
}

function readText(file: string, flag: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw usage(`${flag}: cannot read ${file}: ${messageOf(error)}`);
  }
}

function readJsonObject(file: string): Draft {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readText(file, '--from-json'));
  } catch (error) {
    if (error instanceof KeywayError) throw error;
    throw usage(`--from-json: ${file} is not valid JSON: ${messageOf(error)}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw usage(`--from-json: ${file} must hold one JSON object, the body of POST /api/bots.`);
  return parsed as Draft;
}

function objectOr(value: unknown): Draft {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? { ...(value as Draft) } : {};
}

function omitKeys(body: Draft, keys: string[]): Draft {
  return Object.fromEntries(Object.entries(body).filter(([key]) => !keys.includes(key)));
}

function evolutionOf(body: Draft): Draft | undefined {
  const channels = body.channels;
  if (typeof channels !== 'object' || channels === null) return undefined;
  const evolution = (channels as Draft).evolution;
  return typeof evolution === 'object' && evolution !== null ? (evolution as Draft) : undefined;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  return `${issue.path.join('.') || 'body'}: ${issue.message}`;
}
