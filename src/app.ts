import { registerLimitsRoutes } from './limits/limits.routes.ts';
import type { LimitsService } from './limits/limits.service.ts';
import type { GrantsService } from './sharing/grants.service.ts';
import type { TeamsService } from './sharing/teams.service.ts';
import { registerSharingRoutes } from './sharing/sharing.routes.ts';
import { FILE_UPLOAD_PATH, MULTIPART_OVERHEAD_BYTES, registerFilesRoutes } from './files/files.routes.ts';
import type { FilesService } from './files/files.service.ts';
import type { Grounder } from './knowledge/grounding.ts';
import { registerKnowledgeRoutes } from './knowledge/knowledge.routes.ts';
import type { KnowledgeService } from './knowledge/knowledge.service.ts';
import type { AssistantsService } from './library/assistants.service.ts';
import { registerLibraryRoutes } from './library/library.routes.ts';
import type { PresetsService } from './library/presets.service.ts';
import type { PromptsService } from './library/prompts.service.ts';
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import type { Logger } from 'pino';
import type { AuthService } from './auth/auth.service.ts';
import { registerAuthRoutes } from './auth/auth.routes.ts';
import type { BotEngine } from './bots/bot-engine.ts';
import type { BotSessionsService } from './bots/bot-sessions.service.ts';
import { registerBotsRoutes } from './bots/bots.routes.ts';
import type { BotsService } from './bots/bots.service.ts';
import { registerConversationsRoutes } from './chat/conversations.routes.ts';
import { registerSharesRoutes } from './chat/shares/shares.routes.ts';
import type { SharesService } from './chat/shares/shares.service.ts';
import {
  DEFAULT_IMPORT_BODY_LIMIT_BYTES,
  IMPORT_PATH,
  registerTransferRoutes,
} from './chat/transfer/transfer.routes.ts';
import type { TransferService } from './chat/transfer/transfer.service.ts';
import type { ConversationsService } from './chat/conversations.service.ts';
import { registerChatPreferencesRoutes } from './chat/chat-preferences.routes.ts';
import type { ChatPreferencesService } from './chat/chat-preferences.service.ts';
import { registerFoldersRoutes } from './chat/folders.routes.ts';
import type { FoldersService } from './chat/folders.service.ts';
import { registerCredentialsRoutes } from './credentials/credentials.routes.ts';
import type { CredentialsService } from './credentials/credentials.service.ts';
import { ApiRegistry } from './http/api-registry.ts';
import type { AppEnv } from './http/app-env.ts';
import { authenticate } from './http/authenticate.ts';
import { bodyLimit } from './http/body-limit.ts';
import { errorBody, handleError, handleNotFound } from './http/errors.ts';
import { healthRoutes } from './http/health.routes.ts';
import type { Readiness } from './http/readiness.ts';
import { requestContext } from './http/request-context.ts';
import { webAssets } from './http/web-assets.ts';
import type { MetricsRegistry } from './observability/metrics.ts';
import { registerProvidersRoutes } from './providers/providers.routes.ts';
import type { ProviderRegistry } from './providers/registry.ts';
import { registerTokensRoutes } from './tokens/tokens.routes.ts';
import type { TokensService } from './tokens/tokens.service.ts';
import { registerUsersRoutes } from './users/users.routes.ts';
import { registerGatewayRoutes } from './gateway/gateway.routes.ts';
import type { GatewayService } from './gateway/gateway.service.ts';
import type { ResponsesService } from './responses/responses.service.ts';
import type { UsageRecorder } from './usage/usage-recorder.ts';
import { registerUsageRoutes } from './usage/usage.routes.ts';
import type { UsageRepository } from './usage/usage.repository.ts';
import type { UsersService } from './users/users.service.ts';

export interface AppServices {
  bots: BotsService;
  botSessions: BotSessionsService;
  botEngine: BotEngine;
  gateway: GatewayService;
  usage: UsageRepository;
  usageRecorder: UsageRecorder;
  auth: AuthService;
  tokens: TokensService;
  users: UsersService;
  credentials: CredentialsService;
  providers: ProviderRegistry;
  conversations: ConversationsService;
  /** The library: presets, assistants (also `assistant:<name>` on /v1) and saved prompts. */
  presets: PresetsService;
  assistants: AssistantsService;
  prompts: PromptsService;
  /** Export and import of whole conversations. */
  chatTransfer: TransferService;
  /** Read-only share links to a conversation. */
  chatShares: SharesService;
  chatFolders: FoldersService;
  chatPreferences: ChatPreferencesService;
  teams: TeamsService;
  grants: GrantsService;
  limits: LimitsService;
  responses: ResponsesService;
  files: FilesService;
  knowledge: KnowledgeService;
  /** Retrieval for the chat and the bots: knowledge bases and attached files as cited sources. */
  grounder: Grounder;
}

export interface AppDeps {
  logger: Logger;
  metrics: MetricsRegistry;
  readiness: Readiness;
  version: string;
  bodyLimitBytes: number;
  transcriptionBodyLimitBytes: number;
  /** `POST /api/files`: the largest file (the body may hold the multipart framing on top); 20 MiB by default. */
  fileSizeLimitBytes?: number;
  /** `POST /api/import/conversations`: the largest export accepted; 50 MiB by default. */
  importBodyLimitBytes?: number;
  /** The built web app to serve at `/`; without one (or without its index.html) `/` answers JSON. */
  webDir?: string | undefined;
  services: AppServices;
}

/** Builds the HTTP application from its dependencies. Does no I/O: tests call `app.request()`. */
export function createApp(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use(requestContext(deps.logger, deps.metrics));
  app.use(wellFormedPath);
  // `/v1` has the same gates, answering in OpenAI's envelope (src/gateway/gateway.routes.ts).
  const apiLimit = bodyLimit(deps.bodyLimitBytes);
  const uploadLimit = bodyLimit((deps.fileSizeLimitBytes ?? 20 * 1024 * 1024) + MULTIPART_OVERHEAD_BYTES);
  const isUpload = (c: Context<AppEnv>) => c.req.method === 'POST' && c.req.path === FILE_UPLOAD_PATH;
  const importLimit = bodyLimit(deps.importBodyLimitBytes ?? DEFAULT_IMPORT_BODY_LIMIT_BYTES);
  const isImport = (c: Context<AppEnv>) => c.req.method === 'POST' && c.req.path === IMPORT_PATH;
  // Evolution API's webhooks carry an image or a voice note in base64 when "webhook base64" is on:
  // room for a file at the size limit (4 base64 characters per 3 bytes), so that one just over it is
  // still taken, and answered as unreadable, rather than refused and lost.
  const evolutionLimit = bodyLimit(
    Math.max(
      deps.bodyLimitBytes,
      Math.ceil(((deps.fileSizeLimitBytes ?? 20 * 1024 * 1024) * 4) / 3) + MULTIPART_OVERHEAD_BYTES,
    ),
  );
  const isEvolutionHook = (c: Context<AppEnv>) =>
    c.req.method === 'POST' && c.req.path.startsWith('/hooks/evolution/');
  for (const prefix of ['/api/*', '/hooks/*']) {
    // Until the schema and the vault are verified, nothing may touch the database.
    app.use(prefix, async (c, next) => {
      if (!deps.readiness.ready)
        return c.json(errorBody(c, 'not_ready', `Keyway is not ready: ${deps.readiness.reason}.`), 503);
      return next();
    });
    app.use(prefix, (c, next) =>
      (isUpload(c)
        ? uploadLimit
        : isImport(c)
          ? importLimit
          : isEvolutionHook(c)
            ? evolutionLimit
            : apiLimit)(c, next),
    );
  }
  app.use('/api/*', authenticate({ auth: deps.services.auth, tokens: deps.services.tokens }));

  app.route('/', healthRoutes(deps));
  const api = new ApiRegistry();
  registerAuthRoutes(app, api, deps.services.auth);
  registerUsersRoutes(app, api, deps.services.users);
  registerTokensRoutes(app, api, deps.services.tokens);
  registerProvidersRoutes(app, api, deps.services.providers);
  registerCredentialsRoutes(app, api, deps.services.credentials);
  registerBotsRoutes(app, api, {
    bots: deps.services.bots,
    sessions: deps.services.botSessions,
    engine: deps.services.botEngine,
  });
  registerUsageRoutes(app, api, deps.services.usage, deps.services.usageRecorder);
  registerConversationsRoutes(app, api, deps.services.conversations);
  registerLibraryRoutes(app, api, deps.services);
  registerTransferRoutes(app, api, deps.services.chatTransfer);
  registerSharesRoutes(app, api, deps.services.chatShares, deps.readiness);
  registerFoldersRoutes(app, api, deps.services.chatFolders);
  registerChatPreferencesRoutes(app, api, deps.services.chatPreferences);
  registerSharingRoutes(app, api, { teams: deps.services.teams, grants: deps.services.grants });
  registerLimitsRoutes(app, api, deps.services.limits);
  registerFilesRoutes(app, api, deps.services.files);
  registerKnowledgeRoutes(app, api, deps.services.knowledge, deps.services.grounder);
  registerGatewayRoutes(app, {
    gateway: deps.services.gateway,
    tokens: deps.services.tokens,
    readiness: deps.readiness,
    bodyLimitBytes: deps.bodyLimitBytes,
    transcriptionBodyLimitBytes: deps.transcriptionBodyLimitBytes,
    responses: deps.services.responses,
  });
  // Built at the first request, not at start-up: converting every schema takes ~0.1 s.
  let openapi: Record<string, unknown> | undefined;
  app.get('/api/openapi.json', (c) => c.json((openapi ??= api.document(deps.version))));

  const serverInfo = (c: Context<AppEnv>) =>
    c.json({ name: 'keyway', version: deps.version, ready: deps.readiness.ready });
  if (deps.webDir) {
    // The web app answers what no route did: `/`, its files, and the pages of its client-side routes.
    const web = webAssets({ distDir: deps.webDir, fallbackRoot: serverInfo });
    app.get('/', web);
    app.get('/assets/*', web);
    app.notFound(web);
  } else {
    app.get('/', serverInfo);
    app.notFound(handleNotFound);
  }
  app.onError(handleError);
  return app;
}

/**
 * A path with a malformed percent escape (`%E0%A4%A`, a lone `%`) is refused here, once, with 400
 * `invalid_path`: a route that decodes a parameter can then never meet one.
 */
const wellFormedPath: MiddlewareHandler<AppEnv> = async (c, next) => {
  const url = c.req.url;
  const start = url.indexOf('/', url.indexOf('//') + 2);
  const end = url.indexOf('?', start);
  const path = url.slice(start, end === -1 ? undefined : end);
  if (path.includes('%')) {
    try {
      decodeURIComponent(path);
    } catch {
      return c.json(errorBody(c, 'invalid_path', 'The path holds a malformed percent escape.'), 400);
    }
  }
  return next();
};
