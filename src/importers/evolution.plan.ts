import { createBotSchema } from '../bots/bot.schema.ts';
import { validateTrigger } from '../bots/bot-rules.ts';
import { KeywayError, messageOf } from '../errors.ts';
import type { ProviderRegistry } from '../providers/registry.ts';
import { checkUpstreamUrl } from '../providers/upstream-url-guard.ts';
import type { UpstreamPolicy } from '../providers/upstream-url-guard.ts';
import type {
  EvolutionBot,
  EvolutionInstance,
  EvolutionRelease,
  EvolutionSessionFields,
  EvolutionSetting,
  EvolutionSnapshot,
} from './evolution.reader.ts';
import {
  checkCredentialSettings,
  slug,
  uniqueName,
  type BotInput,
  type ImportPlan,
  type PlanNote,
  type PlannedBot,
  type PlannedCredential,
} from './import-plan.ts';

export interface EvolutionPlanOptions {
  providers: ProviderRegistry;
  policy: UpstreamPolicy;
  /** The Keyway user who owns everything imported (Evolution API has no users). */
  owner: string;
  /** Where Keyway reaches Evolution API; null only for a dry run (the channel is then left out). */
  serverUrl: string | null;
  /** Only these instances (by name); null: all. */
  instances: readonly string[] | null;
}

const PLACEHOLDER_ID = '00000000-0000-4000-8000-000000000000';

/** Evolution's default typing delay per character, in ms: a value other than it is worth reporting. */
const DEFAULT_TIME_PER_CHAR = 50;

/**
 * What Evolution API's OpenAI integration becomes in Keyway, without touching either. Each distinct
 * OpenAI key is one credential, however many instances held it (Evolution could not share one);
 * each chat-completion `OpenaiBot` is one bot, its unset fields taken from its instance's
 * `OpenaiSetting` as Evolution does, with the instance's fallback bot and the Evolution channel
 * (server URL and the instance's token). What has no Keyway equivalent is reported. Pure.
 */
export function planEvolutionImport(snapshot: EvolutionSnapshot, options: EvolutionPlanOptions): ImportPlan {
  const plan: ImportPlan = {
    source: 'evolution-api',
    users: [{ username: options.owner, origin: '--owner' }],
    credentials: [],
    bots: [],
    skipped: [],
    notes: [],
  };
  if (snapshot.missingColumns.length > 0) {
    plan.notes.push({
      kind: 'source',
      origin: 'schema',
      message: `this Evolution API version has no column ${snapshot.missingColumns.join(', ')}: read as unset`,
    });
  }
  plan.notes.push({ kind: 'source', origin: 'version', message: releaseNote(snapshot.release) });
  if (options.serverUrl !== null) {
    const verdict = checkUpstreamUrl(options.serverUrl, options.policy);
    if (!verdict.ok) {
      throw new KeywayError('blocked_url', `--server-url: ${verdict.message}`, {
        fix: 'If Evolution API runs on a private network, allow it with KEYWAY_UPSTREAM_ALLOW_PRIVATE=true (for the servers too).',
      });
    }
  }
  const wanted = options.instances ? new Set(options.instances) : null;
  for (const name of options.instances ?? []) {
    if (!snapshot.instances.some((instance) => instance.name === name))
      plan.skipped.push({
        kind: 'bot',
        origin: `instance ${name}`,
        message: 'no such instance (--instances)',
      });
  }
  const instances = new Map(
    snapshot.instances
      .filter((instance) => wanted === null || wanted.has(instance.name))
      .map((instance) => [instance.id, instance]),
  );

  // One credential per distinct key, named after the first OpenaiCreds row that holds it.
  const credentialNames = new Set<string>();
  const byKey = new Map<string, PlannedCredential>();
  const credentialOf = new Map<string, PlannedCredential>();
  const byInstanceName = <T extends { instanceId: string }>(rows: T[], label: (row: T) => string) =>
    [...rows].sort(
      (a, b) =>
        (instances.get(a.instanceId)?.name ?? '').localeCompare(instances.get(b.instanceId)?.name ?? '') ||
        label(a).localeCompare(label(b)),
    );
  for (const creds of byInstanceName(snapshot.creds, (row) => row.name ?? row.id)) {
    const instance = instances.get(creds.instanceId);
    if (!instance) continue;
    const origin = `OpenaiCreds "${creds.name ?? creds.id}" of instance ${instance.name}`;
    if (!creds.apiKey) {
      plan.skipped.push({ kind: 'credential', origin, message: 'no API key' });
      continue;
    }
    const existing = byKey.get(creds.apiKey);
    if (existing) {
      credentialOf.set(creds.id, existing);
      plan.notes.push({
        kind: 'credential',
        origin,
        message: `the same key as ${existing.origin}: one credential, ${existing.name}, serves both`,
      });
      continue;
    }
    const checked = checkCredentialSettings(options.providers, options.policy, 'openai', {});
    if (!checked.ok) throw new Error(checked.reason);
    const name = uniqueName(
      slug(creds.name ?? `evolution-${instance.name}`, 'evolution-openai'),
      credentialNames,
    );
    const planned: PlannedCredential = {
      ref: `credential:${creds.id}`,
      owner: options.owner,
      name,
      provider: 'openai',
      settings: checked.settings,
      secret: creds.apiKey,
      origin,
    };
    plan.credentials.push(planned);
    byKey.set(creds.apiKey, planned);
    credentialOf.set(creds.id, planned);
  }

  const settingOf = new Map(snapshot.settings.map((setting) => [setting.instanceId, setting]));
  const botNames = new Set<string>();
  const plannedById = new Map<string, PlannedBot>();
  const instanceOf = new Map<PlannedBot, string>();
  for (const bot of byInstanceName(snapshot.bots, (row) => `${row.description ?? ''}\u0000${row.id}`)) {
    const instance = instances.get(bot.instanceId);
    if (!instance) continue;
    const origin = `bot "${bot.description ?? bot.id}" of instance ${instance.name}`;
    if (bot.botType === 'assistant') {
      plan.skipped.push({
        kind: 'bot',
        origin,
        message:
          'an assistant-mode bot (OpenAI Assistants API) has no Keyway equivalent: recreate it as a chat bot with its instructions as the system prompt',
      });
      continue;
    }
    const credential = credentialOf.get(bot.openaiCredsId);
    if (!credential) {
      plan.skipped.push({ kind: 'bot', origin, message: 'its OpenaiCreds row has no API key' });
      continue;
    }
    if (!bot.model) {
      plan.skipped.push({ kind: 'bot', origin, message: 'no model is set' });
      continue;
    }
    const setting = settingOf.get(bot.instanceId);
    const mapped = mapBot(bot, setting, instance, options.serverUrl, snapshot.release);
    if (!mapped.ok) {
      plan.skipped.push({ kind: 'bot', origin, message: mapped.reason });
      continue;
    }
    // Validated by the very schema POST /api/bots uses, so the apply step cannot refuse it.
    const valid = createBotSchema.safeParse({ name: 'check', credentialId: PLACEHOLDER_ID, ...mapped.input });
    if (!valid.success) {
      plan.skipped.push({
        kind: 'bot',
        origin,
        message: valid.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; '),
      });
      continue;
    }
    const name = uniqueName(slug(`${instance.name}-${bot.description ?? 'bot'}`, 'evolution-bot'), botNames);
    const planned: PlannedBot = {
      owner: options.owner,
      credentialRef: credential.ref,
      fallbackBotName: null,
      input: { name, ...mapped.input },
      origin,
    };
    for (const message of mapped.notes) plan.notes.push({ kind: 'bot', origin: `bot ${name}`, message });
    plannedById.set(bot.id, planned);
    instanceOf.set(planned, instance.name);
  }

  // The instance's fallback bot: every other bot of the instance falls back to it. It is created first.
  const fallbackIds = new Set<string>();
  for (const bot of snapshot.bots) {
    const planned = plannedById.get(bot.id);
    const fallbackId = settingOf.get(bot.instanceId)?.openaiIdFallback;
    if (!planned || !fallbackId) continue;
    const fallback = plannedById.get(fallbackId);
    if (!fallback) {
      if (fallbackId !== bot.id)
        plan.notes.push({
          kind: 'bot',
          origin: `bot ${planned.input.name}`,
          message: "the instance's fallback bot is not imported, so it has none",
        });
      continue;
    }
    if (fallback === planned) continue;
    planned.fallbackBotName = fallback.input.name;
    fallbackIds.add(fallbackId);
  }
  for (const id of fallbackIds) plan.bots.push(plannedById.get(id)!);
  for (const [id, planned] of plannedById) if (!fallbackIds.has(id)) plan.bots.push(planned);
  plan.notes.push(...oneWebhookPerInstance(plan.bots, instanceOf));
  return plan;
}

/**
 * Evolution API keeps ONE webhook per instance, and Keyway gives each bot its own URL (there is no
 * per-instance route): of an instance's bots, only the one whose URL is set receives messages, and
 * through it its fallback bot. Said plainly for every instance with more than one bot.
 */
function oneWebhookPerInstance(bots: PlannedBot[], instanceOf: Map<PlannedBot, string>): PlanNote[] {
  const byInstance = new Map<string, PlannedBot[]>();
  for (const bot of bots) {
    const instance = instanceOf.get(bot)!;
    byInstance.set(instance, [...(byInstance.get(instance) ?? []), bot]);
  }
  const notes: PlanNote[] = [];
  for (const [instance, group] of [...byInstance].sort(([a], [b]) => a.localeCompare(b))) {
    if (group.length < 2) continue;
    const names = group.map((bot) => bot.input.name);
    const fallbacks = new Set(group.map((bot) => bot.fallbackBotName).filter((name) => name !== null));
    const entries = group.filter((bot) => !fallbacks.has(bot.input.name));
    const advice =
      entries.length === 1
        ? `set ${entries[0]!.input.name}'s URL: what its trigger does not match goes to its fallback bot ${entries[0]!.fallbackBotName ?? ''}`.trimEnd()
        : `only one of ${entries.map((bot) => bot.input.name).join(', ')} can receive messages (with its fallback bot): merge their triggers into one bot, or choose one`;
    notes.push({
      kind: 'source',
      origin: `instance ${instance}`,
      message: `Evolution API sends an instance's messages to ONE webhook, and ${names.length} bots were planned for it (${names.join(', ')}), each with its own URL: ${advice}; the others receive nothing`,
    });
  }
  return notes;
}

/** What the report says about the source's version, and so about its `none` triggers. */
function releaseNote(release: EvolutionRelease): string {
  switch (release.kind) {
    case 'at-least-2.3':
      return `Evolution API 2.3 or later (migration ${release.migration} applied): a bot with trigger "none" answers every message there, so it is imported with trigger all`;
    case 'before-2.3':
      return `Evolution API before 2.3 (last migration ${release.latest ?? 'unknown'}): a bot with trigger "none" starts only explicitly or as a fallback, so it is imported with trigger none`;
    case 'unknown':
      return `the Evolution API version is unknown (${release.reason}): bots with trigger "none" are imported with trigger none; if this was 2.3 or later, they answered every message there: set their trigger to all`;
  }
}

type MappedBot = { ok: true; input: Omit<BotInput, 'name'>; notes: string[] } | { ok: false; reason: string };

/** One OpenaiBot (its unset fields from the instance's OpenaiSetting) as Keyway's bot fields. */
export function mapBot(
  bot: EvolutionBot,
  setting: EvolutionSetting | undefined,
  instance: EvolutionInstance,
  serverUrl: string | null,
  release: EvolutionRelease,
): MappedBot {
  const notes: string[] = [];
  const field = <K extends keyof EvolutionSessionFields>(key: K): EvolutionSessionFields[K] =>
    bot[key] ?? setting?.[key] ?? null;

  const input: Omit<BotInput, 'name'> = { model: bot.model!, historyWindow: 10 };
  const system = bot.systemMessages.join('\n\n').trim();
  if (system) input.systemPrompt = system;
  // Evolution sends the seed messages after the system ones: the assistant's, then the user's.
  const seeds = [
    ...bot.assistantMessages.map((content) => ({ role: 'assistant' as const, content })),
    ...bot.userMessages.map((content) => ({ role: 'user' as const, content })),
  ];
  if (seeds.length > 0) input.seedMessages = seeds;
  if (bot.maxTokens !== null && bot.maxTokens > 0) input.params = { maxTokens: bot.maxTokens };

  switch (bot.triggerType) {
    case 'all':
      input.trigger = { type: 'all' };
      break;
    case 'keyword': {
      if (!bot.triggerValue) return { ok: false, reason: 'a keyword trigger without a keyword' };
      const operator = bot.triggerOperator ?? 'equals';
      const trigger = { type: 'keyword', operator, value: bot.triggerValue, caseSensitive: false } as const;
      // The check a bot gets when it is saved: a regex RE2 cannot run in linear time is not imported.
      try {
        validateTrigger(trigger);
      } catch (error) {
        return { ok: false, reason: `its trigger regex cannot be used: ${messageOf(error)}` };
      }
      input.trigger = trigger;
      break;
    }
    case 'advanced':
      input.trigger = { type: 'none' };
      notes.push(
        'its "advanced" trigger has no Keyway equivalent: imported with trigger none (sessions start only when started explicitly); set a keyword or regex trigger',
      );
      break;
    case 'none':
      // Since 2.3, Evolution's findBotByTrigger matches `none` with `all`: every message.
      input.trigger = { type: release.kind === 'at-least-2.3' ? 'all' : 'none' };
      break;
    default:
      // An unset trigger matches nothing in any version: the bot starts only explicitly (or as the
      // fallback), Keyway's `none`.
      input.trigger = { type: 'none' };
  }

  const keywordFinish = field('keywordFinish');
  if (keywordFinish) input.keywordFinish = keywordFinish;
  const expire = field('expire');
  if (expire !== null && expire > 0) input.expireMinutes = expire;
  const debounce = field('debounceTime');
  if (debounce !== null && debounce > 0) input.debounceSeconds = debounce;
  // Evolution drops a message from the instance's ignoreJids before it looks for a bot, and then
  // the bot's own list applies too: both lists, not the bot's instead of the instance's.
  const ignore = [...new Set([...(setting?.ignoreJids ?? []), ...(bot.ignoreJids ?? [])].map(ignoreEntry))];
  if (ignore.length > 0) input.ignore = ignore;
  input.takeover = {
    pauseOnFromMe: field('stopBotFromMe') ?? false,
    listenFromMe: field('listeningFromMe') ?? false,
  };
  const split = field('splitMessages') ?? false;
  const delay = field('delayMessage');
  input.split = { enabled: split, delayMs: delay !== null && delay > 0 ? delay : 0 };
  const timePerChar = field('timePerChar');
  if (split && timePerChar !== null && timePerChar !== DEFAULT_TIME_PER_CHAR) {
    notes.push(
      `timePerChar ${timePerChar} ms has no equivalent: Keyway waits a fixed ${input.split.delayMs} ms between parts`,
    );
  }
  const unknownMessage = field('unknownMessage');
  if (unknownMessage) input.unknownMessage = unknownMessage;

  if (field('keepOpen')) notes.push('keepOpen has no equivalent: a finished session closes');
  if (!bot.enabled)
    notes.push(
      'disabled in Evolution API; Keyway bots have no disabled state: it answers once the webhook points at it',
    );
  if (bot.functionUrl) notes.push('functionUrl (function calling) has no equivalent and was left out');
  // Evolution transcribes voice notes (with whisper-1 and the bot's OpenAI key) when the instance's
  // OpenaiSetting says so, and sends images to the model as image_url parts: Keyway's bot does both.
  if (setting?.speechToText) input.speechToText = true;
  input.images = true;

  if (serverUrl === null) {
    notes.push('no --server-url: the Evolution channel is left out');
  } else if (!instance.token) {
    notes.push(`instance ${instance.name} has no token: the Evolution channel is left out`);
  } else {
    input.channels = { evolution: { serverUrl, instance: instance.name, apiKey: instance.token } };
  }
  return { ok: true, input, notes };
}

/** Evolution ignores `@g.us` (every group) and `@s.whatsapp.net` (every contact): Keyway's wildcards. */
function ignoreEntry(jid: string): string {
  return jid.startsWith('@') ? `*${jid}` : jid;
}
