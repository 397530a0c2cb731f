import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig, type Config } from '../config/config.ts';
import { createPostgresChangeFeed } from '../db/change-feed.ts';
import { sql } from 'kysely';
import { prepareSchema } from '../db/schema/lifecycle.ts';
import { SettingsRepository } from '../db/settings.repository.ts';
import { KeywayError, messageOf } from '../errors.ts';
import { planChatbotUiImport } from '../importers/chatbot-ui.plan.ts';
import { KNOWLEDGE_QUEUED_TOPIC } from '../knowledge/knowledge.service.ts';
import { readChatbotUi } from '../importers/chatbot-ui.reader.ts';
import { readChatbotUiHistory } from '../importers/chatbot-ui-history.reader.ts';
import { planEvolutionImport } from '../importers/evolution.plan.ts';
import { readEvolution } from '../importers/evolution.reader.ts';
import { createBotWriter } from '../importers/bot-writer.ts';
import { applyImport, type ImportResult } from '../importers/import-applier.ts';
import type { ImportPlan } from '../importers/import-plan.ts';
import { renderImportReport } from '../importers/import-report.ts';
import { openSourceDatabase, type SourceDatabase } from '../importers/source-database.ts';
import { SecretRedactor } from '../observability/secret-redactor.ts';
import { createDefaultRegistry } from '../providers/registry.ts';
import { UsersRepository } from '../users/users.repository.ts';
import { Cipher } from '../vault/cipher.ts';
import { loadMasterKeys, masterKeyStorage } from '../vault/master-key.ts';
import { inspectMasterKey, verifyMasterKey } from '../vault/vault-check.ts';
import { EMBEDDED_PGDATA, openMemoryDatabase, type Database } from '../db/database.ts';
import type { SchemaContext } from '../db/schema/migrator.ts';
import { schemaContext } from '../db/schema/schema-context.ts';
import { masterKeyFrom } from '../vault/cipher.ts';
import { GENERATED_KEY_FILE } from '../vault/master-key.ts';
import { appVersion } from '../version.ts';
import {
  commandLogger,
  DATABASE_FLAGS,
  describeDatabase,
  parseFlags,
  withSchemaContext,
  type CliIO,
} from './common.ts';

const USAGE = [
  'keyway import chatbot-ui --from postgres://… [--dry-run] [--owner-map chatbotuser=keywayuser,…]',
  '                         [--embedding-model CREDENTIAL/MODEL] [--history]',
  '  a user per Chatbot-UI profile and a credential per key it holds; custom models become openai-compatible credentials;',
  '  files become text files, and with --embedding-model each collection a knowledge base embedded with that model;',
  "  with --history also each profile's workspaces and chat folders (as folders), chats with their messages,",
  '  prompts, presets and assistants',
  'keyway import evolution-api --from postgres://…|mysql://… --server-url http://evolution:8080 [--owner U] [--instances a,b]',
  '                            [--webhook-secrets FILE] [--dry-run]',
  '  one credential per distinct OpenAI key, one bot per OpenaiBot with its triggers, session settings and Evolution channel',
  'Each takes --data DIR or --database-url URL (or KEYWAY_DATA_DIR / DATABASE_URL) and the master key as `serve` does;',
  'on the embedded database, stop the server first. A second run imports nothing twice; a failed run changes nothing.',
].join('\n');

/** `keyway import chatbot-ui|evolution-api`: offline, one transaction, idempotent. */
export async function importCommand(args: string[], io: CliIO): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'chatbot-ui') return importChatbotUi(rest, io);
  if (sub === 'evolution-api') return importEvolution(rest, io);
  throw new KeywayError('usage', sub ? `Unknown import source: ${sub}` : 'import needs a source.', {
    fix: USAGE,
  });
}

async function importChatbotUi(args: string[], io: CliIO): Promise<number> {
  const { values } = parseFlags(
    args,
    {
      ...DATABASE_FLAGS,
      from: { type: 'string' },
      'dry-run': { type: 'boolean' },
      'owner-map': { type: 'string' },
      'embedding-model': { type: 'string' },
      history: { type: 'boolean' },
    },
    USAGE,
  );
  const withHistory = values.history === true;
  const ownerMap = parseOwnerMap(values['owner-map']);
  const embeddingModel = values['embedding-model']?.trim();
  if (values['embedding-model'] !== undefined && !embeddingModel)
    throw new KeywayError('usage', '--embedding-model needs a model name.', { fix: USAGE });
  return runImport(io, values, 'import chatbot-ui', async (source, context) =>
    planChatbotUiImport(await readChatbotUi(source), {
      ...context,
      ownerMap,
      embeddingModel,
      history: withHistory ? await readChatbotUiHistory(source) : undefined,
    }),
  );
}

async function importEvolution(args: string[], io: CliIO): Promise<number> {
  const { values } = parseFlags(
    args,
    {
      ...DATABASE_FLAGS,
      from: { type: 'string' },
      'dry-run': { type: 'boolean' },
      instances: { type: 'string' },
      owner: { type: 'string' },
      'server-url': { type: 'string' },
      'webhook-secrets': { type: 'string' },
    },
    USAGE,
  );
  const serverUrl = values['server-url'];
  if (!serverUrl && !values['dry-run']) {
    throw new KeywayError(
      'usage',
      "--server-url is required: Evolution API's database does not hold its own address, and bots answer through it.",
      { fix: 'Add --server-url http://evolution:8080 (the URL Keyway will reach Evolution API at).' },
    );
  }
  if (serverUrl && !/^https?:\/\/[^/\s]+/.test(serverUrl)) {
    throw new KeywayError('usage', '--server-url must be an http:// or https:// URL.', { fix: USAGE });
  }
  const instances = values.instances
    ?.split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  const secretsFile = values['webhook-secrets'];
  return runImport(
    io,
    values,
    'import evolution-api',
    async (source, context, db) => {
      // The source first: what it holds (or cannot give) matters before who will own it.
      const snapshot = await readEvolution(source);
      const owner = await resolveEvolutionOwner(new UsersRepository(db), values.owner);
      return planEvolutionImport(snapshot, {
        ...context,
        owner,
        serverUrl: serverUrl ? serverUrl.replace(/\/+$/, '') : null,
        instances: instances ?? null,
      });
    },
    (result) => {
      if (result.dryRun || result.createdBots.length === 0) return [];
      if (!secretsFile) {
        return [
          `Each imported bot answers Evolution API at its webhook (see the table). Its inbound secret was not printed:`,
          `  run again with --webhook-secrets FILE on a fresh import, or make a new one with PATCH /api/bots/:id {"rotateInboundSecret": true}.`,
          `  Evolution API keeps one webhook per instance: set one bot's URL per instance (see the notes).`,
        ];
      }
      writeWebhookSecrets(secretsFile, result, serverUrl!);
      return [
        `The webhook URL of each new bot, with its inbound secret, is in ${secretsFile} (readable by you only): set it as the`,
        `  instance's webhook in Evolution API (event MESSAGES_UPSERT), replacing KEYWAY_URL with this Keyway's address.`,
        `  Evolution API keeps one webhook per instance: set one bot's URL per instance (see the notes).`,
      ];
    },
  );
}

type PlanContext = {
  providers: ReturnType<typeof createDefaultRegistry>;
  policy: ReturnType<typeof loadConfig>['upstream'];
  maxFileBytes: number;
};

async function runImport(
  rawIo: CliIO,
  values: {
    data?: string | undefined;
    'database-url'?: string | undefined;
    from?: string | undefined;
    'dry-run'?: boolean | undefined;
  },
  purpose: string,
  buildPlan: (
    source: SourceDatabase,
    context: PlanContext,
    db: Parameters<typeof applyImport>[1]['db'],
  ) => Promise<ImportPlan>,
  /** After a committed import: writes what it must and returns lines for the end of the report. */
  afterCommit: (result: ImportResult) => string[] = () => [],
): Promise<number> {
  if (!values.from) throw new KeywayError('usage', `${purpose} needs --from URL.`, { fix: USAGE });
  const from = values.from;
  const dryRun = values['dry-run'] === true;
  // Every secret the import touches is registered here, and everything it prints goes through it.
  const redactor = new SecretRedactor();
  registerUrlPassword(redactor, from);
  const io: CliIO = {
    env: rawIo.env,
    out: (text) => rawIo.out(redactor.redact(text)),
    err: (text) => rawIo.err(redactor.redact(text)),
  };
  const config = loadConfig({ data: values.data, 'database-url': values['database-url'] }, io.env);
  // A dry run into an embedded database that does not exist yet plans against one in memory.
  const standIn = dryRun && config.database.kind === 'embedded' && !embeddedExists(config.database.dataDir);
  const importFrom = async (
    source: SourceDatabase,
    ctx: SchemaContext,
    database: Database,
  ): Promise<number> => {
    // A dry run changes nothing, not even the schema: it only checks that it is current (an
    // embedded database that does not exist yet is stood in for by an empty one in memory).
    await prepareSchema(ctx, standIn ? 'auto' : dryRun ? 'check' : config.migrate);
    const keys = dryRun
      ? dryRunMasterKeys(config)
      : loadMasterKeys(config.masterKey, masterKeyStorage(config.database));
    if (keys.generatedAt) {
      io.err(
        dryRun
          ? `A real import would generate a new master key in ${keys.generatedAt} (this dry run wrote none).\n`
          : `Generated a new master key in ${keys.generatedAt}. Back it up now: losing it loses every stored secret.\n`,
      );
    }
    const cipher = new Cipher(keys.current, keys.readable);
    const settings = new SettingsRepository(database.db);
    if (dryRun) {
      const state = await inspectMasterKey(cipher, settings);
      if (state.state === 'wrong') await verifyMasterKey(cipher, settings);
    } else {
      await verifyMasterKey(cipher, settings);
    }

    const providers = createDefaultRegistry();
    const plan = await buildPlan(
      source,
      { providers, policy: config.upstream, maxFileBytes: config.fileSizeLimitBytes },
      database.db,
    );
    for (const credential of plan.credentials) if (credential.secret) redactor.register(credential.secret);
    for (const bot of plan.bots) {
      const key = bot.input.channels?.evolution?.apiKey;
      if (key) redactor.register(key);
    }
    const into =
      standIn && config.database.kind === 'embedded'
        ? `the embedded database in ${path.resolve(config.database.dataDir)} (it does not exist yet: planned against an empty one in memory)`
        : `the ${describeDatabase(database)}`;
    io.err(
      `${dryRun ? 'Planning' : 'Importing'} from ${source.description} into ${into}: ${plan.users.length} user(s), ${plan.credentials.length} credential(s), ${plan.bots.length} bot(s)${
        plan.history
          ? `, ${plan.history.folders.length} folder(s), ${plan.history.conversations.length} conversation(s), ${plan.history.prompts.length} prompt(s), ${plan.history.presets.length} preset(s), ${plan.history.assistants.length} assistant(s)`
          : ''
      }.\n`,
    );

    let lastProgress = 0;
    const result = await applyImport(plan, {
      db: database.db,
      cipher,
      dryRun,
      bots: createBotWriter({ cipher, policy: config.upstream }),
      onProgress: (done, total) => {
        if (total < 100) return;
        const now = Date.now();
        if (done === total || now - lastProgress >= 1000) {
          lastProgress = now;
          io.err(`  ${done}/${total} (${Math.floor((done / total) * 100)}%)\n`);
        }
      },
    });

    // Servers read credentials from the database on a cache miss; tell the other nodes to drop
    // their cached model-name resolutions now that the import has committed (never before).
    const topics = [
      ...result.createdCredentialIds.map((id) => `credential:${id}`),
      ...result.createdBots.map((bot) => `bot:${bot.id}`),
      // The running servers' ingestion workers embed what the import queued now, not at their next poll.
      ...(result.queuedIngestions > 0 ? [KNOWLEDGE_QUEUED_TOPIC] : []),
    ];
    if (!dryRun && topics.length > 0 && config.database.kind === 'postgres') {
      const feed = await createPostgresChangeFeed({
        url: config.database.url,
        logger: ctx.logger,
        publish: async (channel, payload) => {
          await sql`SELECT pg_notify(${channel}, ${payload})`.execute(database.db);
        },
      });
      try {
        for (const topic of topics) await feed.publish(topic);
      } finally {
        await feed.close();
      }
    }
    for (const bot of result.createdBots) redactor.register(bot.inboundSecret);
    const closing = afterCommit(result);
    io.out(renderImportReport(result, plan.notes) + closing.map((line) => line + '\n').join(''));
    return 0;
  };
  try {
    // The source first: a wrong or unreachable --from fails before anything of Keyway's is touched.
    const source = await openSourceDatabase(from);
    try {
      if (standIn) {
        return await withMemoryDatabase(config, (ctx, database) => importFrom(source, ctx, database));
      }
      return await withSchemaContext(io, values, purpose, (ctx, database) =>
        importFrom(source, ctx, database),
      );
    } finally {
      await source.close();
    }
  } catch (error) {
    // Messages from the source database or drivers pass through the redactor like everything else.
    if (error instanceof KeywayError) {
      throw new KeywayError(error.code, redactor.redact(error.message), {
        ...(error.fix ? { fix: redactor.redact(error.fix) } : {}),
      });
    }
    throw new KeywayError('import_failed', `The import failed: ${redactor.redact(messageOf(error))}`, {
      fix: 'Nothing was imported: the import runs in one transaction. Correct the cause and run it again.',
    });
  }
}

function embeddedExists(dataDir: string): boolean {
  return fs.existsSync(path.join(path.resolve(dataDir), EMBEDDED_PGDATA));
}

/**
 * A dry run into an embedded database that does not exist yet: opening it would create the data
 * directory (PGlite's initdb), so the plan is made against an empty, migrated database in memory.
 */
async function withMemoryDatabase<T>(
  config: Config,
  fn: (ctx: SchemaContext, database: Database) => Promise<T>,
): Promise<T> {
  const database = await openMemoryDatabase();
  try {
    return await fn(
      schemaContext(database, config, { logger: commandLogger(config), version: appVersion() }),
      database,
    );
  } finally {
    await database.close();
  }
}

/**
 * The master key for a dry run, which must write nothing: the configured one, the embedded key file
 * if there is one, else a throwaway key (a real run would generate and keep one; nothing sealed in a
 * dry run survives its rollback).
 */
function dryRunMasterKeys(config: Config): ReturnType<typeof loadMasterKeys> {
  const storage = masterKeyStorage(config.database);
  const configured = config.masterKey.key || config.masterKey.keyFile;
  if (configured || storage.kind === 'postgres') return loadMasterKeys(config.masterKey, storage);
  const file = path.join(path.resolve(storage.dataDir), GENERATED_KEY_FILE);
  if (fs.existsSync(file)) return loadMasterKeys(config.masterKey, storage);
  return { current: masterKeyFrom(randomBytes(32)), readable: [], generatedAt: file };
}

/** `a=b,c=d` → Map; a usage error on anything else. */
export function parseOwnerMap(text: string | undefined): Map<string, string> {
  const map = new Map<string, string>();
  if (!text) return map;
  for (const pair of text.split(',')) {
    const [from, to, ...rest] = pair.split('=').map((part) => part.trim());
    if (!from || !to || rest.length > 0) {
      throw new KeywayError('usage', `--owner-map: "${pair}" is not chatbotuser=keywayuser.`, { fix: USAGE });
    }
    map.set(from, to);
  }
  return map;
}

/** The Keyway user who will own Evolution's credentials and bots: --owner, else the only admin. */
async function resolveEvolutionOwner(users: UsersRepository, owner: string | undefined): Promise<string> {
  if (owner) {
    const user = await users.findByUsername(owner);
    if (!user)
      throw new KeywayError('not_found', `--owner: no Keyway user named ${owner}.`, {
        fix: 'Create it first with `keyway admin create-user`, or name another user.',
      });
    return user.username;
  }
  const admins = (await users.list()).filter((user) => user.role === 'admin' && user.disabledAt === null);
  if (admins.length === 1) return admins[0]!.username;
  throw new KeywayError(
    'usage',
    admins.length === 0
      ? 'Evolution API has no users: the import needs a Keyway user to own the credentials and bots, and there is no admin.'
      : `Evolution API has no users: name the Keyway user who will own the credentials and bots (admins: ${admins.map((user) => user.username).join(', ')}).`,
    { fix: 'Add --owner USERNAME.' },
  );
}

/** One line per new bot: its Evolution instance, name, and webhook URL with the inbound secret. Mode 0600. */
function writeWebhookSecrets(file: string, result: ImportResult, serverUrl: string): void {
  const lines = [
    `# Webhooks of the bots imported from Evolution API (${serverUrl}). Secrets: keep this file private.`,
    "# Evolution API keeps ONE webhook per instance: set one of its bots' URLs (the import report's notes say which).",
    '# instance\tbot\twebhook URL (set it on the instance, event MESSAGES_UPSERT)',
    ...result.createdBots.map(
      (bot) =>
        `${bot.evolutionInstance ?? '-'}\t${bot.name}\tKEYWAY_URL/hooks/evolution/${bot.id}?secret=${encodeURIComponent(bot.inboundSecret)}`,
    ),
  ];
  fs.writeFileSync(file, lines.join('\n') + '\n', { mode: 0o600 });
  fs.chmodSync(file, 0o600);
}

function registerUrlPassword(redactor: SecretRedactor, url: string): void {
  try {
    const password = decodeURIComponent(new URL(url).password);
    if (password) redactor.register(password);
  } catch {
    // Not a URL: openSourceDatabase says so.
  }
}
