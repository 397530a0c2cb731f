import { randomBytes, randomUUID, timingSafeEqual, createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { AuditLog } from '../audit/audit-log.repository.ts';
import { isAdmin, type Principal } from '../auth/principal.ts';
import type { CredentialReferences } from '../credentials/credential-lookup.ts';
import type { CredentialUsage } from '../credentials/credential-usage.ts';
import type { ChangeFeed } from '../db/change-feed.ts';
import { isUniqueViolation } from '../db/unique-violation.ts';
import { limitsFrom } from '../limits/limits.ts';
import { KeywayError } from '../errors.ts';
import type { ChatRequest } from '../gateway/openai-types.ts';
import type { BotRoute, BotModels } from '../gateway/bot-models.ts';
import { isUuid } from '../ids.ts';
import {
  checkUpstreamUrl,
  policyForOwner,
  type UpstreamPolicies,
  type UpstreamPolicy,
} from '../providers/upstream-url-guard.ts';
import { hintFor, type Cipher } from '../vault/cipher.ts';
import type { Citation } from '../knowledge/grounding.ts';
import { questionOf, type BotKnowledge } from './bot-knowledge.ts';
import { compileIgnoreList, compileTrigger, type TriggerMatcher } from './bot-rules.ts';
import {
  botBehaviourSchema,
  type BotBehaviour,
  type BotView,
  type CreateBotInput,
  type Trigger,
  type UpdateBotInput,
} from './bot.schema.ts';
import type { BotRecord, BotRowInput, BotsRepository } from './bots.repository.ts';

/** The secrets of a bot, sealed together in one ciphertext bound to the bot's row. */
interface BotSecrets {
  inboundSecret: string;
  evolutionApiKey: string | null;
}

/** A bot ready to answer: settings parsed, matchers compiled and secrets opened once per version. */
export interface LoadedBot {
  record: BotRecord;
  behaviour: BotBehaviour;
  matchesTrigger: TriggerMatcher;
  isIgnored: (contact: string) => boolean;
  secrets: BotSecrets;
}

type SealedBotSecrets = Pick<BotRowInput, 'secretsKeyId' | 'secretsNonce' | 'secretsCiphertext'>;

const botAad = (id: string, ownerId: string) => `bot:${id}:${ownerId}`;

/**
 * Bots: their definitions and the rules for saving them (references the owner may use, regexes that
 * compile, URLs the upstream policy allows). Also the `bot:<name>` model names of `/v1` and the
 * credential-usage port the credentials capability asks before deleting a credential.
 */
export class BotsService implements BotModels {
  readonly #repository: BotsRepository;
  readonly #credentials: CredentialReferences;
  readonly #cipher: Cipher;
  readonly #policies: UpstreamPolicies;
  readonly #audit: AuditLog;
  readonly #changes: ChangeFeed;
  readonly #knowledge: BotKnowledge;
  readonly #logger: Logger;
  /** Loaded bots by id, checked against the row's version: a changed bot is loaded again. */
  readonly #loaded = new Map<string, LoadedBot>();
  /** `bot:<name>` resolutions by owner and name, dropped on any bot change. */
  readonly #byName = new Map<string, { bot: LoadedBot; expiresAt: number }>();
  readonly #unsubscribe: () => void;

  constructor(deps: {
    repository: BotsRepository;
    credentials: CredentialReferences;
    cipher: Cipher;
    policies: UpstreamPolicies;
    audit: AuditLog;
    changes: ChangeFeed;
    knowledge: BotKnowledge;
    logger: Logger;
  }) {
    this.#repository = deps.repository;
    this.#credentials = deps.credentials;
    this.#cipher = deps.cipher;
    this.#policies = deps.policies;
    this.#audit = deps.audit;
    this.#changes = deps.changes;
    this.#knowledge = deps.knowledge;
    this.#logger = deps.logger;
    this.#unsubscribe = deps.changes.subscribe((topic) => {
      if (topic === '*' || topic.startsWith('bot:') || topic.startsWith('credential:')) {
        this.#byName.clear();
        if (topic === '*') this.#loaded.clear();
        else if (topic.startsWith('bot:')) this.#loaded.delete(topic.slice(4));
      }
    });
  }

  async list(actor: Principal): Promise<BotView[]> {
    return (await this.#repository.listOwned(actor.userId)).map((row) => this.#view(row));
  }

  async get(actor: Principal, id: string): Promise<BotView> {
    return this.#view(await this.#find(actor, id));
  }

  async findByName(actor: Principal, name: string): Promise<BotView | undefined> {
    const row = await this.#repository.findOwnedByName(actor.userId, name);
    return row && this.#view(row);
  }

  async create(actor: Principal, input: CreateBotInput): Promise<BotView & { inboundSecret: string }> {
    const behaviour = this.#behaviour(input);
    await this.#checkReferences(actor, input, null);
    const id = randomUUID();
    const secrets: BotSecrets = {
      inboundSecret: newInboundSecret(),
      evolutionApiKey: input.channels.evolution?.apiKey ?? null,
    };
    if (input.channels.evolution && !secrets.evolutionApiKey)
      throw invalid('channels.evolution.apiKey', 'The Evolution API instance key is required.');
    const row = this.#row(input, behaviour, this.#seal(id, actor.userId, secrets));
    try {
      await this.#repository.insert(id, actor.userId, row);
    } catch (error) {
      if (isUniqueViolation(error)) throw nameTaken(input.name);
      throw error;
    }
    await this.#recordChange(actor, 'bot.create', id, { name: input.name });
    const created = (await this.#repository.findOwned(actor.userId, id))!;
    return { ...this.#view(created), inboundSecret: secrets.inboundSecret };
  }

  async update(actor: Principal, id: string, patch: UpdateBotInput): Promise<BotView> {
    const current = await this.#find(actor, id);
    const { behaviour: currentBehaviour, secrets } = this.#load(current);
    const merged: CreateBotInput = {
      ...currentBehaviour,
      ...stripUndefined(patch),
      name: patch.name ?? current.name,
      credentialId: patch.credentialId ?? current.credentialId ?? '',
      model: patch.model ?? current.model,
      fallbackCredentialIds: patch.fallbackCredentialIds ?? current.fallbackCredentialIds,
      fallbackBotId: patch.fallbackBotId === undefined ? current.fallbackBotId : patch.fallbackBotId,
      limits: patch.limits ?? limitsFrom(current.limits),
      channels: {
        webhook:
          patch.channels?.webhook !== undefined
            ? patch.channels.webhook
            : current.webhookUrl
              ? { callbackUrl: current.webhookUrl }
              : null,
        evolution:
          patch.channels?.evolution !== undefined
            ? patch.channels.evolution
            : current.evolutionServerUrl
              ? { serverUrl: current.evolutionServerUrl, instance: current.evolutionInstance! }
              : null,
      },
    };
    if (!merged.credentialId) throw invalid('credentialId', 'The bot has no credential; set credentialId.');
    const behaviour = this.#behaviour(merged);
    await this.#checkReferences(actor, merged, id);
    const evolution = merged.channels.evolution;
    const next: BotSecrets = {
      inboundSecret: patch.rotateInboundSecret ? newInboundSecret() : secrets.inboundSecret,
      evolutionApiKey: evolution ? (evolution.apiKey ?? secrets.evolutionApiKey) : null,
    };
    if (evolution && !next.evolutionApiKey)
      throw invalid('channels.evolution.apiKey', 'The Evolution API instance key is required.');
    let updated: boolean;
    try {
      updated = await this.#repository.update(
        actor.userId,
        id,
        current.version,
        this.#row(merged, behaviour, this.#seal(id, actor.userId, next)),
      );
    } catch (error) {
      if (isUniqueViolation(error)) throw nameTaken(merged.name);
      throw error;
    }
    if (!updated)
      throw new KeywayError('conflict', 'The bot was changed by someone else meanwhile; read it again.');
    await this.#recordChange(actor, 'bot.update', id, { fields: Object.keys(patch) });
    const view = this.#view((await this.#repository.findOwned(actor.userId, id))!);
    return patch.rotateInboundSecret ? { ...view, inboundSecret: next.inboundSecret } : view;
  }

  async delete(actor: Principal, id: string): Promise<void> {
    if (!isUuid(id) || !(await this.#repository.delete(actor.userId, id))) throw notFound();
    await this.#recordChange(actor, 'bot.delete', id, {});
  }

  /** A bot of the caller's, loaded for answering (scoped; 404 for anyone else's). */
  async loadOwned(actor: Principal, id: string): Promise<LoadedBot> {
    return this.#load(await this.#find(actor, id));
  }

  /**
   * A bot by id for the inbound hooks, authenticated by its inbound secret (constant-time). A bot
   * whose owner is disabled refuses the message (`bot_owner_disabled`), so the channel knows it was
   * not taken: nothing is stored, no provider is called.
   */
  async loadForHook(id: string, presentedSecret: string | undefined): Promise<LoadedBot> {
    if (!isUuid(id)) throw notFound();
    const row = await this.#repository.findById(id);
    if (!row) throw notFound();
    const bot = this.#load(row);
    if (!this.#verifyInboundSecret(bot, presentedSecret)) {
      throw new KeywayError(
        'invalid_secret',
        'The inbound secret is missing or wrong (x-keyway-secret header or ?secret=).',
      );
    }
    if (row.ownerDisabled) {
      throw new KeywayError(
        'bot_owner_disabled',
        `The bot "${row.name}" is stopped: its owner's account is disabled. The message was not accepted.`,
        { fix: 'An administrator can enable the account again; the bot then answers new messages.' },
      );
    }
    return bot;
  }

  async loadById(id: string): Promise<LoadedBot | undefined> {
    const row = await this.#repository.findById(id);
    return row && this.#load(row);
  }

  /** Constant-time check of a presented inbound secret. */
  #verifyInboundSecret(bot: LoadedBot, presented: string | undefined): boolean {
    if (!presented) return false;
    const expected = createHash('sha256').update(bot.secrets.inboundSecret).digest();
    const actual = createHash('sha256').update(presented).digest();
    return timingSafeEqual(expected, actual);
  }

  /** `/v1` with `model: "bot:<name>"`: the bot's prompt, knowledge, parameters and credentials. */
  async apply(
    principal: Principal,
    request: ChatRequest,
    options: { signal?: AbortSignal; log?: Logger; ground?: boolean } = {},
  ): Promise<{ request: ChatRequest; route: BotRoute }> {
    const name = request.model.slice('bot:'.length);
    const key = `${principal.userId}\u0000${name.toLowerCase()}`;
    let cached = this.#byName.get(key);
    if (!cached || cached.expiresAt <= Date.now()) {
      const row = await this.#repository.findOwnedByName(principal.userId, name);
      if (!row) {
        throw new KeywayError('model_not_found', `You have no bot named "${name}".`, {
          details: { param: 'model' },
        });
      }
      cached = { bot: this.#load(row), expiresAt: Date.now() + 60_000 };
      this.#byName.set(key, cached);
    }
    const bot = cached.bot;
    if (options.ground === false) return { request: withBot(bot, request, null), route: routeOf(bot) };
    // The caller is the owner (a bot is found among the caller's own), acting through the bot.
    const asker: Principal = { ...principal, botId: bot.record.id };
    const prepared = await this.prepare(bot, asker, request, {
      ...(options.signal ? { signal: options.signal } : {}),
      log: options.log ?? this.#logger.child({ botId: bot.record.id }),
    });
    return { request: prepared.request, route: routeOf(bot) };
  }

  /**
   * The bot's request: its prompt, the passages of its knowledge bases relevant to the last user
   * message (as its owner may read them), its parameters as defaults. Every way a bot answers — the
   * engine's turns on every channel, `bot:<name>` on `/v1` — goes through here.
   */
  async prepare(
    bot: LoadedBot,
    owner: Principal,
    request: ChatRequest,
    options: { signal?: AbortSignal; log: Logger },
  ): Promise<{ request: ChatRequest; citations: Citation[] }> {
    const grounding = await this.#knowledge.ground(
      owner,
      bot.behaviour,
      questionOf(request.messages),
      options,
    );
    return { request: withBot(bot, request, grounding.context), citations: grounding.citations };
  }

  async #find(actor: Principal, id: string): Promise<BotRecord> {
    if (!isUuid(id)) throw notFound();
    const row = await this.#repository.findOwned(actor.userId, id);
    if (!row) throw notFound();
    return row;
  }

  /** Which addresses the bot's callbacks (webhook, Evolution API) may reach: by its owner's role. */
  upstreamPolicy(record: BotRecord): UpstreamPolicy {
    return policyForOwner(this.#policies, record.ownerIsAdmin);
  }

  #load(row: BotRecord): LoadedBot {
    const cached = this.#loaded.get(row.id);
    if (
      cached &&
      cached.record.version === row.version &&
      cached.record.updatedAt.getTime() === row.updatedAt.getTime() &&
      cached.record.ownerDisabled === row.ownerDisabled &&
      cached.record.ownerIsAdmin === row.ownerIsAdmin
    )
      return cached;
    const behaviour = botBehaviourSchema.parse(row.config);
    const loaded: LoadedBot = {
      record: row,
      behaviour,
      matchesTrigger: storedTrigger(behaviour.trigger),
      isIgnored: compileIgnoreList(behaviour.ignore),
      secrets: this.#open(row),
    };
    this.#loaded.set(row.id, loaded);
    return loaded;
  }

  #behaviour(input: CreateBotInput): BotBehaviour {
    const behaviour = botBehaviourSchema.parse(input);
    compileTrigger(behaviour.trigger);
    for (const pattern of behaviour.ignore) {
      if (pattern.replaceAll('*', '') === '')
        throw invalid(
          'ignore',
          `"${pattern}" would ignore every contact; remove it or stop the bot instead.`,
        );
    }
    return behaviour;
  }

  /** Every reference must be something the owner may use; every URL one the upstream policy allows. */
  async #checkReferences(actor: Principal, input: CreateBotInput, selfId: string | null): Promise<void> {
    await this.#knowledge.check(actor, input.knowledgeBaseIds);
    for (const [field, id] of [
      ['credentialId', input.credentialId],
      ...input.fallbackCredentialIds.map((id, index) => [`fallbackCredentialIds.${index}`, id]),
    ] as [string, string][]) {
      try {
        await this.#credentials.findUsable(actor, id);
      } catch (error) {
        if (error instanceof KeywayError && error.code === 'not_found')
          throw invalid(field, 'No credential you may use has this id.');
        throw error;
      }
    }
    if (input.fallbackBotId) {
      if (input.fallbackBotId === selfId) throw invalid('fallbackBotId', 'A bot cannot be its own fallback.');
      const fallback = await this.#repository.findOwned(actor.userId, input.fallbackBotId);
      if (!fallback) throw invalid('fallbackBotId', 'You have no bot with this id.');
    }
    const urls: [string, string | undefined][] = [
      ['channels.webhook.callbackUrl', input.channels.webhook?.callbackUrl],
      ['channels.evolution.serverUrl', input.channels.evolution?.serverUrl],
    ];
    for (const [field, url] of urls) {
      if (url === undefined) continue;
      const verdict = checkUpstreamUrl(url, policyForOwner(this.#policies, isAdmin(actor)));
      if (!verdict.ok)
        throw new KeywayError('blocked_url', `${field}: ${verdict.message}`, { details: { field } });
    }
  }

  #row(input: CreateBotInput, behaviour: BotBehaviour, sealed: SealedBotSecrets): BotRowInput {
    return {
      name: input.name,
      credentialId: input.credentialId,
      model: input.model,
      config: behaviour,
      limits: input.limits,
      fallbackBotId: input.fallbackBotId,
      fallbackCredentialIds: [...new Set(input.fallbackCredentialIds)],
      webhookUrl: input.channels.webhook?.callbackUrl ?? null,
      evolutionServerUrl: input.channels.evolution
        ? withoutTrailingSlashes(input.channels.evolution.serverUrl)
        : null,
      evolutionInstance: input.channels.evolution?.instance ?? null,
      ...sealed,
    };
  }

  #seal(id: string, ownerId: string, secrets: BotSecrets): SealedBotSecrets {
    const sealed = this.#cipher.seal(JSON.stringify(secrets), botAad(id, ownerId));
    return { secretsKeyId: sealed.keyId, secretsNonce: sealed.nonce, secretsCiphertext: sealed.ciphertext };
  }

  #open(row: BotRecord): BotSecrets {
    return JSON.parse(
      this.#cipher.open(
        { keyId: row.secretsKeyId, nonce: row.secretsNonce, ciphertext: row.secretsCiphertext },
        botAad(row.id, row.ownerId),
      ),
    ) as BotSecrets;
  }

  #view(row: BotRecord): BotView {
    // The loaded bot is cached per version: a list does not parse and decrypt every bot each time.
    const { behaviour, secrets } = this.#load(row);
    const evolutionKey = row.evolutionServerUrl ? secrets.evolutionApiKey : null;
    return {
      id: row.id,
      name: row.name,
      credentialId: row.credentialId,
      model: row.model,
      ...behaviour,
      fallbackCredentialIds: row.fallbackCredentialIds,
      fallbackBotId: row.fallbackBotId,
      channels: {
        webhook: row.webhookUrl ? { callbackUrl: row.webhookUrl } : null,
        evolution:
          row.evolutionServerUrl && row.evolutionInstance
            ? {
                serverUrl: row.evolutionServerUrl,
                instance: row.evolutionInstance,
                apiKeyHint: evolutionKey ? hintFor(evolutionKey) : '',
              }
            : null,
      },
      hooks: { webhook: `/hooks/bots/${row.id}`, evolution: `/hooks/evolution/${row.id}` },
      limits: limitsFrom(row.limits),
      version: row.version,
      createdAt: row.createdAt.toISOString(),
      updatedAt: row.updatedAt.toISOString(),
    };
  }

  async #recordChange(actor: Principal, action: string, id: string, details: Record<string, unknown>) {
    await this.#audit.record({ actorId: actor.userId, action, targetType: 'bot', targetId: id, details });
    await this.#changes.publish(`bot:${id}`);
  }

  close(): void {
    this.#unsubscribe();
  }
}

/**
 * Re-seals one batch of bot secrets under the cipher's current key (a step of a master-key rotation);
 * returns how many it re-sealed, 0 when none is left.
 */
export async function resealBotSecrets(
  cipher: Cipher,
  repository: BotsRepository,
  batch: number,
): Promise<number> {
  const rows = await repository.sealedNotUnder(cipher.current.id, batch);
  for (const row of rows) {
    const aad = botAad(row.id, row.ownerId);
    const sealed = cipher.seal(
      cipher.open({ keyId: row.keyId, nonce: row.nonce, ciphertext: row.ciphertext }, aad),
      aad,
    );
    await repository.reseal(row.id, sealed.keyId, sealed.nonce, sealed.ciphertext);
  }
  return rows.length;
}

/** The credential-usage port over the bots table: which bots use a credential, and detaching them. */
export function botCredentialUsage(repository: BotsRepository): CredentialUsage {
  return {
    async botsUsing(credentialIds) {
      const byCredential = new Map<string, { id: string; name: string }[]>();
      for (const row of await repository.botsUsing(credentialIds)) {
        const list = byCredential.get(row.credentialId) ?? [];
        if (!list.some((bot) => bot.id === row.id)) list.push({ id: row.id, name: row.name });
        byCredential.set(row.credentialId, list);
      }
      return byCredential;
    },
    detach: (credentialId) => repository.detachCredential(credentialId),
  };
}

/**
 * The bot's messages (system prompt, retrieved context, seed messages) before the caller's, its
 * parameters as defaults.
 */
function withBot(bot: LoadedBot, request: ChatRequest, context: string | null): ChatRequest {
  const { behaviour } = bot;
  const prefix = [
    ...(behaviour.systemPrompt ? [{ role: 'system' as const, content: behaviour.systemPrompt }] : []),
    ...(context ? [{ role: 'system' as const, content: context }] : []),
    ...behaviour.seedMessages,
  ];
  const params = behaviour.params;
  const defaults: Record<string, unknown> = {
    temperature: params.temperature,
    top_p: params.topP,
    max_tokens: params.maxTokens,
    presence_penalty: params.presencePenalty,
    frequency_penalty: params.frequencyPenalty,
    stop: params.stop,
  };
  const merged: Record<string, unknown> = { ...request };
  for (const [key, value] of Object.entries(defaults))
    if (value !== undefined && merged[key] === undefined) merged[key] = value;
  return { ...(merged as ChatRequest), messages: [...prefix, ...request.messages] };
}

export function routeOf(bot: LoadedBot): BotRoute {
  const { record } = bot;
  if (!record.credentialId) {
    throw new KeywayError(
      'bot_without_credential',
      `The bot "${record.name}" has no credential (it was deleted); set one to use the bot.`,
    );
  }
  return {
    botId: record.id,
    name: record.name,
    limits: limitsFrom(record.limits),
    targets: [record.credentialId, ...record.fallbackCredentialIds].map((credentialId) => ({
      credentialId,
      model: record.model,
    })),
  };
}

/**
 * The trigger of a stored bot. A regex saved before triggers ran on RE2 may use what RE2 refuses
 * (a lookahead): that bot must still list and load, so its trigger starts no session (a fallback bot
 * or an explicit start still work) until it is saved again, which names the problem.
 */
function storedTrigger(trigger: Trigger): TriggerMatcher {
  try {
    return compileTrigger(trigger);
  } catch (error) {
    if (error instanceof KeywayError) return () => false;
    throw error;
  }
}

const newInboundSecret = () => `kwh_${randomBytes(24).toString('base64url')}`;

const notFound = () => new KeywayError('not_found', 'No such bot.');

const invalid = (field: string, message: string) =>
  new KeywayError('validation_failed', `${field}: ${message}`, { details: { field } });

const nameTaken = (name: string) =>
  new KeywayError('name_taken', `You already have a bot named "${name}".`, { fix: 'Choose another name.' });

function withoutTrailingSlashes(url: string): string {
  let end = url.length;
  while (end > 0 && url[end - 1] === '/') end--;
  return url.slice(0, end);
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, entry]) => entry !== undefined)) as Partial<T>;
}
