import { AllowanceLedger } from './limits/allowance-ledger.ts';
import { LedgerRepository } from './limits/ledger.repository.ts';
import { LimitStatusReader } from './limits/limit-status.ts';
import { LimitsDirectory } from './limits/limits-directory.ts';
import { LimitsRepository } from './limits/limits.repository.ts';
import { LimitsService } from './limits/limits.service.ts';
import { SpendGuard } from './limits/spend-guard.ts';
import { GrantsRepository } from './sharing/grants.repository.ts';
import { GrantsService } from './sharing/grants.service.ts';
import { TeamsRepository } from './sharing/teams.repository.ts';
import { TeamsService } from './sharing/teams.service.ts';
import { PriceCatalogue } from './usage/prices.ts';
import { ResponsesRepository } from './responses/responses.repository.ts';
import { ResponsesService } from './responses/responses.service.ts';
import { sql } from 'kysely';
import { KeywayError } from './errors.ts';
import type { Config } from './config/config.ts';
import { createApp, type AppServices } from './app.ts';
import { AuditLogRepository } from './audit/audit-log.repository.ts';
import { AccessRepository } from './auth/access.repository.ts';
import { AccessWatch } from './auth/access-watch.ts';
import { AuthService } from './auth/auth.service.ts';
import { createChatModels } from './chat/chat-models.ts';
import { ConversationsRepository } from './chat/conversations.repository.ts';
import { ChatAttachments } from './chat/chat-attachments.ts';
import { ConversationsService } from './chat/conversations.service.ts';
import { SharesRepository } from './chat/shares/shares.repository.ts';
import { SharesService } from './chat/shares/shares.service.ts';
import { ConversationTreesRepository } from './chat/transfer/conversation-trees.repository.ts';
import { TransferService } from './chat/transfer/transfer.service.ts';
import { ChatPreferencesRepository } from './chat/chat-preferences.repository.ts';
import { ChatPreferencesService } from './chat/chat-preferences.service.ts';
import { ConversationTitles } from './chat/conversation-titles.ts';
import { FoldersRepository } from './chat/folders.repository.ts';
import { FoldersService } from './chat/folders.service.ts';
import { AssistantsRepository } from './library/assistants.repository.ts';
import { AssistantsService } from './library/assistants.service.ts';
import { AssistantModelsAdapter, assistantModelOptions } from './library/assistant-models.ts';
import { PresetsRepository } from './library/presets.repository.ts';
import { PresetsService } from './library/presets.service.ts';
import { PromptsRepository } from './library/prompts.repository.ts';
import { PromptsService } from './library/prompts.service.ts';
import { FilesRepository } from './files/files.repository.ts';
import { FilesService } from './files/files.service.ts';
import { LoginThrottleRepository } from './auth/login-throttle.repository.ts';
import { SessionsRepository } from './auth/sessions.repository.ts';
import { BotEngine } from './bots/bot-engine.ts';
import { BotKnowledge } from './bots/bot-knowledge.ts';
import { BotMedia } from './bots/bot-media.ts';
import type { Grounder } from './knowledge/grounding.ts';
import { botModelSource } from './bots/bot-model-source.ts';
import { BotQueueRepository } from './bots/bot-queue.repository.ts';
import { BotSessionsService } from './bots/bot-sessions.service.ts';
import { BotSessionsRepository, BotsRepository } from './bots/bots.repository.ts';
import { BotsService, botCredentialUsage } from './bots/bots.service.ts';
import { OutboxWorker } from './bots/outbox-worker.ts';
import { IngestionWorker } from './knowledge/ingestion-worker.ts';
import { checkDocumentAtUpload } from './knowledge/upload-check.ts';
import { KnowledgeRepository } from './knowledge/knowledge.repository.ts';
import { ExactVectorIndex } from './knowledge/exact-vectors.ts';
import { Retriever } from './knowledge/retrieval.ts';
import { RetrievalRepository } from './knowledge/retrieval.repository.ts';
import { VectorIndex } from './knowledge/vector-index.ts';
import { KNOWLEDGE_QUEUED_TOPIC, KnowledgeService } from './knowledge/knowledge.service.ts';
import { credentialReferences } from './credentials/credential-lookup.ts';
import { CredentialSecrets } from './credentials/credential-secrets.ts';
import { CredentialsRepository } from './credentials/credentials.repository.ts';
import { CredentialsService } from './credentials/credentials.service.ts';
import { gatewayCredentials, type GatewayCredentials } from './credentials/gateway-credentials.ts';
import { ModelResolver } from './credentials/model-resolver.ts';
import { createLocalChangeFeed, createPostgresChangeFeed, type ChangeFeed } from './db/change-feed.ts';
import { openDatabase, type Database } from './db/database.ts';
import { prepareSchema, type PreparedSchema } from './db/schema/lifecycle.ts';
import { schemaContext } from './db/schema/schema-context.ts';
import { SettingsRepository } from './db/settings.repository.ts';
import { startHttpServer, startingUpFetch } from './http/http-server.ts';
import { Readiness } from './http/readiness.ts';
import type { Logger } from './observability/logger.ts';
import { MetricsRegistry } from './observability/metrics.ts';
import type { SecretRedactor } from './observability/secret-redactor.ts';
import { createDefaultRegistry, type ProviderRegistry } from './providers/registry.ts';
import { createUpstreamClient } from './providers/upstream-client.ts';
import { PUBLIC_ONLY, type UpstreamPolicy } from './providers/upstream-url-guard.ts';
import { TokensRepository } from './tokens/tokens.repository.ts';
import { TokensService } from './tokens/tokens.service.ts';
import { UsersRepository } from './users/users.repository.ts';
import { UsersService } from './users/users.service.ts';
import { TRANSLATING_ADAPTERS } from './gateway/adapters/index.ts';
import { GatewayService } from './gateway/gateway.service.ts';
import { UsageRecorder } from './usage/usage-recorder.ts';
import { UsageRepository } from './usage/usage.repository.ts';
import { Cipher } from './vault/cipher.ts';
import { loadMasterKeys, masterKeyStorage } from './vault/master-key.ts';
import { verifyMasterKey } from './vault/vault-check.ts';

export interface KeywayDeps {
  logger: Logger;
  redactor: SecretRedactor;
  version: string;
  /** Tests register extra providers; the default registry otherwise. */
  providers?: ProviderRegistry;
  /** Tests whose fake providers listen on loopback let members reach them; `PUBLIC_ONLY` otherwise. */
  membersUpstreamPolicy?: UpstreamPolicy;
}

/** Everything a running Keyway is made of, wired once. */
export interface Keyway {
  app: ReturnType<typeof createApp>;
  services: AppServices;
  readiness: Readiness;
  cipher: Cipher;
  /** The vault as the gateway uses it (tests open stored secrets through it). */
  gatewayCredentials: GatewayCredentials;
  /** Verifies (or seals, on first start) the master key; then opens setup when no user exists. */
  verifyVault(): Promise<void>;
  /** Starts the background work (bot turns left by other nodes, reply delivery); after the schema is verified. */
  startBackground(): void;
  close(): Promise<void>;
}

/**
 * The composition root: repositories → services → app, over an open database. No request is served
 * until `readiness` says so.
 */
export async function assembleKeyway(
  database: Database,
  config: Readonly<Config>,
  deps: KeywayDeps,
): Promise<Keyway> {
  const { logger, redactor, version } = deps;
  const keys = loadMasterKeys(config.masterKey, masterKeyStorage(config.database));
  if (keys.generatedAt) {
    logger.warn(
      { file: keys.generatedAt },
      `Generated a new master key in ${keys.generatedAt}. Back it up now: losing it loses every stored secret, and nobody can recover them.`,
    );
  }
  const cipher = new Cipher(keys.current, keys.readable);
  const changes: ChangeFeed =
    database.kind === 'postgres' && config.database.kind === 'postgres'
      ? await createPostgresChangeFeed({
          url: config.database.url,
          logger,
          publish: async (channel, payload) => {
            await sql`SELECT pg_notify(${channel}, ${payload})`.execute(database.db);
          },
        })
      : createLocalChangeFeed();
  const upstreamPolicies = {
    admins: config.upstream,
    members: deps.membersUpstreamPolicy ?? PUBLIC_ONLY,
  };
  // Every call names its policy (by the credential's or bot's owner); one that forgot would get the strictest.
  const upstream = createUpstreamClient(PUBLIC_ONLY, {
    connectTimeoutMs: config.gateway.connectTimeoutMs,
  });
  const audit = new AuditLogRepository(database.db);
  const accessRepository = new AccessRepository(database.db);
  const usersRepository = new UsersRepository(database.db);
  const settings = new SettingsRepository(database.db);
  const users = new UsersService({ users: usersRepository, audit, changes });
  const providers = deps.providers ?? createDefaultRegistry();
  const botsRepository = new BotsRepository(database.db);
  const credentialsRepository = new CredentialsRepository(database.db);
  const credentialSecrets = new CredentialSecrets({
    cipher,
    policies: upstreamPolicies,
    audit,
    changes,
    redactor,
    logger,
  });
  const credentials = new CredentialsService({
    repository: credentialsRepository,
    secrets: credentialSecrets,
    providers,
    upstream,
    policies: upstreamPolicies,
    usage: botCredentialUsage(botsRepository),
    audit,
    changes,
  });
  const modelResolver = new ModelResolver({
    repository: credentialsRepository,
    providers,
    secrets: credentialSecrets,
    upstream,
    changes,
  });
  const credentialsForGateway = gatewayCredentials(modelResolver, credentialSecrets, providers);
  const usage = new UsageRepository(database.db);
  const usageRecorder = new UsageRecorder({
    repository: usage,
    // Batched by the recorder: keeps `lastUsedAt` without a write per request.
    recordUse: (uses) => credentialsRepository.touchLastUsed(uses),
    logger,
  });
  const knowledgeRepository = new KnowledgeRepository(database.db);
  const bots: BotsService = new BotsService({
    repository: botsRepository,
    credentials: credentialReferences(credentialsRepository),
    cipher,
    policies: upstreamPolicies,
    audit,
    changes,
    knowledge: new BotKnowledge({
      // Retrieval embeds through the gateway, which serves `bot:<name>` through the bots: built after them.
      grounder: () => grounder,
      // The knowledge service's rule (defined below: it needs the gateway, which needs the bots).
      bases: {
        readable: (principal, id) =>
          knowledge.get(principal, id).then(
            () => true,
            (error: unknown) =>
              error instanceof KeywayError && error.code === 'not_found' ? false : Promise.reject(error),
          ),
      },
      defaultTokenBudget: config.retrievalTokenBudget,
    }),
    logger,
  });
  const ledgerRepository = new LedgerRepository(database.db);
  const limitsRepository = new LimitsRepository(database.db);
  const ledger = new AllowanceLedger({ repository: ledgerRepository, logger });
  const limitsDirectory = new LimitsDirectory({ repository: limitsRepository, changes });
  const prices = new PriceCatalogue();
  const spendGuard = new SpendGuard({
    directory: limitsDirectory,
    ledger,
    prices,
    defaultMaxTokens: config.gateway.defaultMaxTokens,
  });
  const limitStatus = new LimitStatusReader({ repository: ledgerRepository, ledger });
  const grantsRepository = new GrantsRepository(database.db);
  const teamsRepository = new TeamsRepository(database.db);
  const grants = new GrantsService({
    grants: grantsRepository,
    credentials: credentialsRepository,
    teams: teamsRepository,
    status: limitStatus,
    audit,
    changes,
  });
  const access = new AccessWatch({
    changes,
    stillHasAccess: (principal) => accessRepository.stillHasAccess(principal),
    logger,
  });
  const gateway: GatewayService = new GatewayService({
    credentials: credentialsForGateway,
    upstream,
    adapters: TRANSLATING_ADAPTERS,
    usage: usageRecorder,
    timeouts: {
      firstByteMs: config.gateway.firstByteTimeoutMs,
      idleMs: config.gateway.idleTimeoutMs,
      retries: config.gateway.retries,
      maxRetryAfterMs: 20_000,
    },
    logger,
    bots,
    // `assistant:<name>`: the assistants (defined below, with the chat's models) as the caller may use them.
    assistants: new AssistantModelsAdapter({
      assistants: {
        list: (principal) => assistants.list(principal),
        byName: (principal, name) => assistants.byName(principal, name),
      },
      grounder: () => grounder,
      knowledgeBases: {
        readable: (principal, id) =>
          knowledge.get(principal, id).then(
            () => true,
            (error: unknown) =>
              error instanceof KeywayError && error.code === 'not_found' ? false : Promise.reject(error),
          ),
      },
      tokenBudget: config.retrievalTokenBudget,
      logger,
    }),
    access,
    limits: spendGuard,
  });
  const botQueue = new BotQueueRepository(database.db);
  const botSessions = new BotSessionsRepository(database.db);
  const outbox = new OutboxWorker({ queue: botQueue, bots, upstream, logger });
  const botEngine = new BotEngine({
    bots,
    sessions: botSessions,
    queue: botQueue,
    gateway,
    media: new BotMedia({ upstream, gateway, bots, maxBytes: config.fileSizeLimitBytes }),
    logger,
    onQueued: (delaysMs) => outbox.queued(delaysMs),
  });
  const filesRepository = new FilesRepository(database.db);
  const vectorIndex = new VectorIndex(database, logger);
  const ingestion = new IngestionWorker({
    repository: knowledgeRepository,
    gateway,
    logger,
    vectors: vectorIndex,
    signal: changes,
    topic: KNOWLEDGE_QUEUED_TOPIC,
    leaseMs: config.ingestionLeaseMs,
  });
  const files = new FilesService({
    repository: filesRepository,
    audit,
    maxBytes: config.fileSizeLimitBytes,
    checkReadable: checkDocumentAtUpload,
  });
  const knowledge: KnowledgeService = new KnowledgeService({
    repository: knowledgeRepository,
    providerOf: (principal, model) => gateway.providerOf(principal, model),
    files: filesRepository,
    // Every node's worker hears it (NOTIFY on PostgreSQL); a lost one is caught by the poll.
    queued: () => void changes.publish(KNOWLEDGE_QUEUED_TOPIC).catch(() => {}),
    teams: teamsRepository,
  });
  const grounder: Grounder = new Retriever({
    repository: new RetrievalRepository(database.db),
    vectors: vectorIndex,
    exact: new ExactVectorIndex(database.db),
    gateway,
    files: filesRepository,
    wholeFileTokens: config.wholeFileTokens,
  });
  const chatModels = createChatModels({
    models: (principal) => gateway.models(principal),
    resolveModel: (principal, model) => modelResolver.resolveModel(principal, model),
    usable: (principal) => modelResolver.usable(principal),
    isProvider: (id) => providers.get(id) !== undefined,
    extraSources: [
      botModelSource(bots),
      // Defined just below (it checks its model with these): asked lazily.
      assistantModelOptions({
        list: (principal) => assistants.list(principal),
        byName: (principal, name) => assistants.byName(principal, name),
      }),
    ],
  });
  const assistants = new AssistantsService({
    repository: new AssistantsRepository(database.db),
    models: chatModels,
    knowledgeBases: {
      readable: (principal, id) =>
        knowledge.get(principal, id).then(
          () => true,
          (error: unknown) =>
            error instanceof KeywayError && error.code === 'not_found' ? false : Promise.reject(error),
        ),
    },
    teams: teamsRepository,
  });
  const conversationsRepository = new ConversationsRepository(database.db);
  const chatPreferences = new ChatPreferencesService({
    preferences: new ChatPreferencesRepository(database.db),
    settings,
    models: chatModels,
  });
  const conversations = new ConversationsService({
    repository: conversationsRepository,
    gateway,
    models: chatModels,
    attachments: new ChatAttachments({ files, knowledgeBases: knowledge }),
    grounder,
    assistants,
    titles: new ConversationTitles({ gateway, models: chatPreferences, repository: conversationsRepository }),
    tokenBudget: config.retrievalTokenBudget,
    logger,
  });
  const conversationTrees = new ConversationTreesRepository(database.db);
  const services: AppServices = {
    users,
    auth: new AuthService({
      users: usersRepository,
      usersService: users,
      sessions: new SessionsRepository(database.db),
      throttle: new LoginThrottleRepository(database.db),
      settings,
      trustedProxies: config.trustedProxies,
    }),
    tokens: new TokensService({ repository: new TokensRepository(database.db), changes, audit, logger }),
    credentials,
    providers,
    usage,
    usageRecorder,
    gateway,
    bots,
    botSessions: new BotSessionsService({ bots, sessions: botSessions }),
    botEngine,
    conversations,
    presets: new PresetsService({
      repository: new PresetsRepository(database.db),
      models: chatModels,
      teams: teamsRepository,
    }),
    assistants,
    prompts: new PromptsService({ repository: new PromptsRepository(database.db) }),
    chatTransfer: new TransferService({ trees: conversationTrees }),
    chatShares: new SharesService({ shares: new SharesRepository(database.db), trees: conversationTrees }),
    chatFolders: new FoldersService({ repository: new FoldersRepository(database.db) }),
    chatPreferences,
    grants,
    teams: new TeamsService({
      teams: teamsRepository,
      grants: grantsRepository,
      grantViews: grants,
      users: usersRepository,
      audit,
      changes,
    }),
    limits: new LimitsService({
      repository: limitsRepository,
      credentials: credentialsRepository,
      status: limitStatus,
      audit,
      changes,
    }),
    responses: new ResponsesService({ gateway, repository: new ResponsesRepository(database.db), logger }),
    files,
    knowledge,
    grounder,
  };
  const metrics = new MetricsRegistry();
  const readiness = new Readiness({
    probe: async () => {
      await sql`SELECT 1`.execute(database.db);
    },
  });
  metrics.gauge('keyway_build_info', 'Always 1; labelled with the running version.').set(1, { version });
  metrics
    .gauge('keyway_ready', '1 when this node is ready for traffic.')
    .collect(() => (readiness.ready ? 1 : 0));
  metrics
    .gauge('process_resident_memory_bytes', 'Resident memory size in bytes.')
    .collect(() => process.memoryUsage.rss());
  metrics
    .gauge('process_uptime_seconds', 'Seconds since the process started.')
    .collect(() => Math.round(process.uptime()));
  const app = createApp({
    logger,
    metrics,
    readiness,
    version,
    bodyLimitBytes: config.bodyLimitBytes,
    transcriptionBodyLimitBytes: config.transcriptionBodyLimitBytes,
    fileSizeLimitBytes: config.fileSizeLimitBytes,
    importBodyLimitBytes: config.importBodyLimitBytes,
    webDir: config.webDir,
    services,
  });

  return {
    app,
    services,
    readiness,
    cipher,
    gatewayCredentials: credentialsForGateway,
    async verifyVault() {
      const outcome = await verifyMasterKey(cipher, settings);
      logger.info(
        { keyId: cipher.current.id },
        outcome === 'created' ? 'sealed the vault check with this master key' : 'master key verified',
      );
    },
    startBackground() {
      // Off the path to ready: the first priced or upstream request would otherwise wait for these.
      prices
        .load()
        .catch((error: unknown) => logger.error({ err: error }, 'loading the price catalogue failed'));
      upstream
        .preload()
        .catch((error: unknown) => logger.error({ err: error }, 'loading the HTTP client failed'));
      botEngine.start();
      outbox.start();
      ingestion.start();
    },
    async close() {
      await botEngine.stop();
      await outbox.stop();
      await ingestion.stop();
      bots.close();
      // Answers still being stored write usage too: they finish first.
      await conversations.close();
      await usageRecorder.close();
      await ledger.close();
      limitsDirectory.close();
      services.tokens.close();
      modelResolver.close();
      credentialSecrets.close();
      access.close();
      await changes.close();
      await upstream.close();
    },
  };
}

export interface RunningKeyway {
  readonly url: string;
  readonly database: Database;
  /** Set while no user exists: the one-time token that `POST /api/setup` needs. */
  readonly setupToken: string | null;
  /** Graceful stop: not ready, stop accepting, finish in-flight requests, close the database. */
  shutdown(reason: string): Promise<void>;
}

/**
 * Starts a node: listen → database → keyway → schema → vault → ready. Throws a `KeywayError`, with
 * nothing left open, when it cannot start. The port is bound first, so a port in use is reported
 * before a data directory or a master key is created; until the app exists every request gets 503.
 * When `stop` fires during start-up, the step under way finishes, everything is closed, and it throws
 * `startup_interrupted`.
 */
export async function startKeyway(
  config: Readonly<Config>,
  deps: KeywayDeps,
  options: {
    stop?: AbortSignal;
    /** The database, when its opening started earlier (`keyway serve` starts it before loading this module). */
    database?: Promise<Database>;
    /**
     * The schema check started on that database (undefined when a stop came first, which a
     * checkpoint below has thrown for by the time it is awaited).
     */
    schema?: Promise<PreparedSchema | undefined>;
  } = {},
): Promise<RunningKeyway> {
  const started = performance.now();
  const { logger } = deps;
  const startingUp = startingUpFetch(deps.version);
  let keyway: Keyway | undefined;
  let server: Awaited<ReturnType<typeof startHttpServer>>;
  try {
    server = await startHttpServer((request) => (keyway ? keyway.app.fetch(request) : startingUp(request)), {
      port: config.port,
      host: config.host,
    });
  } catch (error) {
    await options.database?.then((opened) => opened.close()).catch(() => {});
    throw error;
  }
  logger.info({ url: server.url }, `listening on ${server.url}`);
  let database: Database | undefined;

  const shutdown = async (reason: string) => {
    keyway?.readiness.markNotReady('shutting down');
    logger.info({ reason }, 'shutting down: finishing in-flight requests');
    const { forced } = await server.close(config.shutdownTimeoutMs);
    if (forced)
      logger.warn(`in-flight requests did not finish within ${config.shutdownTimeoutMs} ms and were cut off`);
    await keyway?.close();
    await database?.close();
    logger.info('stopped');
  };
  const checkpoint = () => {
    if (options.stop?.aborted) {
      throw new KeywayError(
        'startup_interrupted',
        `${String(options.stop.reason)} during start-up: stopped.`,
      );
    }
  };

  let setupToken: string | null;
  try {
    // A database opened earlier is taken first, so that shutdown closes it whatever happens next.
    if (!options.database) checkpoint();
    const opened = await (options.database ??
      openDatabase(config.database, {
        purpose: 'serve',
        onStaleLock: (message) => logger.warn(message),
      }));
    database = opened;
    logger.info(
      { database: opened.kind, location: opened.location },
      `opened the ${opened.kind} database at ${opened.location}`,
    );
    checkpoint();
    const assembled = await assembleKeyway(opened, config, deps);
    assembled.readiness.markNotReady('verifying the database schema');
    keyway = assembled;
    checkpoint();
    if (config.migrate === 'off') {
      logger.warn(
        '--migrate off: the database schema is NOT checked. Keyway may fail at any query if it is behind or altered.',
      );
    }
    const { applied, warnings } =
      (await options.schema) ?? (await prepareSchema(schemaContext(opened, config, deps), config.migrate));
    for (const warning of warnings) logger.warn({ code: warning.code, fix: warning.fix }, warning.message);
    logger.info(
      { applied },
      applied.length > 0 ? `applied ${applied.length} migration(s)` : 'schema is up to date',
    );
    checkpoint();
    assembled.readiness.markNotReady('verifying the master key');
    await assembled.verifyVault();
    setupToken = await assembled.services.auth.openSetup();
    checkpoint();
  } catch (error) {
    await shutdown(
      error instanceof KeywayError && error.code === 'startup_interrupted' ? error.message : 'startup failed',
    );
    throw error;
  }
  keyway.readiness.markReady();
  keyway.startBackground();
  if (setupToken) {
    logger.info('no user exists yet: setup is open (the one-time setup command is printed on stderr)');
    // The password is left empty: a placeholder that passed the password rules would be pasted as is.
    process.stderr.write(
      `\n  Keyway has no users yet. Create the first admin (the token works once, for this run),\n` +
        `  with a password of at least 10 characters between the empty quotes:\n` +
        `    curl -X POST ${server.url}/api/setup -H 'content-type: application/json' \\\n` +
        `         -d '{"token":"${setupToken}","username":"admin","password":""}'\n` +
        `  or, with the server stopped: keyway admin create-user --username admin --admin --password-stdin\n\n`,
    );
  }
  logger.info({ ms: Math.round(performance.now() - started) }, `ready on ${server.url}`);
  return { url: server.url, database: database!, setupToken, shutdown };
}
