import { randomBytes } from 'node:crypto';
import { fakeKey } from '../support/gateway-harness.ts';
import { mysqlFixture, postgresFixture, type SourceFixture } from './source-fixtures.ts';

/**
 * Evolution API's OpenAI tables as its Prisma schemas define them (postgresql-schema.prisma and
 * mysql-schema.prisma, 2.3.x), written by the tests in either dialect. `OpenaiCreds_apiKey_key` is
 * left out, as the users who share one key between instances drop it by hand.
 */
type Value = string | number | boolean | null | string[];
type Row = Record<string, Value>;

export interface EvolutionData {
  Instance: Row[];
  OpenaiCreds: Row[];
  OpenaiBot: Row[];
  OpenaiSetting: Row[];
}

const cuid = () => 'c' + randomBytes(12).toString('hex');

/** Session columns OpenaiBot and OpenaiSetting share, with Evolution's defaults. */
const SESSION_COLUMNS_PG = `
  "expire" integer DEFAULT 0, "keywordFinish" varchar(100), "delayMessage" integer,
  "unknownMessage" varchar(100), "listeningFromMe" boolean DEFAULT false, "stopBotFromMe" boolean DEFAULT false,
  "keepOpen" boolean DEFAULT false, "debounceTime" integer, "ignoreJids" jsonb`;
const SPLIT_COLUMNS_PG = `, "splitMessages" boolean DEFAULT false, "timePerChar" integer DEFAULT 50`;

const SESSION_COLUMNS_MYSQL = `
  \`expire\` INTEGER NULL DEFAULT 0, \`keywordFinish\` VARCHAR(100) NULL, \`delayMessage\` INTEGER NULL,
  \`unknownMessage\` VARCHAR(100) NULL, \`listeningFromMe\` BOOLEAN NULL DEFAULT false,
  \`stopBotFromMe\` BOOLEAN NULL DEFAULT false, \`keepOpen\` BOOLEAN NULL DEFAULT false,
  \`debounceTime\` INTEGER NULL, \`ignoreJids\` JSON NULL`;
const SPLIT_COLUMNS_MYSQL = `, \`splitMessages\` BOOLEAN NULL DEFAULT false, \`timePerChar\` INTEGER NULL DEFAULT 50`;

function postgresSchema(withSplit: boolean): string {
  const split = withSplit ? SPLIT_COLUMNS_PG : '';
  return `
    CREATE TYPE "TriggerType" AS ENUM ('all', 'keyword', 'none', 'advanced');
    CREATE TYPE "TriggerOperator" AS ENUM ('contains', 'equals', 'startsWith', 'endsWith', 'regex');
    CREATE TYPE "OpenaiBotType" AS ENUM ('assistant', 'chatCompletion');
    CREATE TABLE "Instance" (
      "id" text PRIMARY KEY, "name" varchar(255) NOT NULL UNIQUE, "connectionStatus" text NOT NULL DEFAULT 'open',
      "ownerJid" varchar(100), "integration" varchar(100), "number" varchar(100), "token" varchar(255),
      "createdAt" timestamp DEFAULT CURRENT_TIMESTAMP, "updatedAt" timestamp);
    CREATE TABLE "OpenaiCreds" (
      "id" text PRIMARY KEY, "name" varchar(255), "apiKey" varchar(255),
      "createdAt" timestamp DEFAULT CURRENT_TIMESTAMP, "updatedAt" timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
      "instanceId" text NOT NULL REFERENCES "Instance" ("id") ON DELETE CASCADE);
    CREATE UNIQUE INDEX "OpenaiCreds_name_key" ON "OpenaiCreds" ("name");
    CREATE TABLE "OpenaiBot" (
      "id" text PRIMARY KEY, "enabled" boolean NOT NULL DEFAULT true, "description" varchar(255),
      "botType" "OpenaiBotType" NOT NULL, "assistantId" varchar(255), "functionUrl" varchar(500),
      "model" varchar(100), "systemMessages" jsonb, "assistantMessages" jsonb, "userMessages" jsonb,
      "maxTokens" integer, ${SESSION_COLUMNS_PG}${split},
      "triggerType" "TriggerType", "triggerOperator" "TriggerOperator", "triggerValue" text,
      "createdAt" timestamp DEFAULT CURRENT_TIMESTAMP, "updatedAt" timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
      "openaiCredsId" text NOT NULL REFERENCES "OpenaiCreds" ("id") ON DELETE CASCADE,
      "instanceId" text NOT NULL REFERENCES "Instance" ("id") ON DELETE CASCADE);
    CREATE TABLE "OpenaiSetting" (
      "id" text PRIMARY KEY, ${SESSION_COLUMNS_PG}${split}, "speechToText" boolean DEFAULT false,
      "createdAt" timestamp DEFAULT CURRENT_TIMESTAMP, "updatedAt" timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
      "openaiCredsId" text NOT NULL UNIQUE REFERENCES "OpenaiCreds" ("id"),
      "openaiIdFallback" varchar(100) REFERENCES "OpenaiBot" ("id"),
      "instanceId" text NOT NULL UNIQUE REFERENCES "Instance" ("id") ON DELETE CASCADE);`;
}

function mysqlSchema(withSplit: boolean): string[] {
  const split = withSplit ? SPLIT_COLUMNS_MYSQL : '';
  const tail = 'DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci';
  return [
    `CREATE TABLE \`Instance\` (
      \`id\` VARCHAR(191) NOT NULL, \`name\` VARCHAR(255) NOT NULL,
      \`connectionStatus\` ENUM('open', 'close', 'connecting') NOT NULL DEFAULT 'open',
      \`ownerJid\` VARCHAR(100) NULL, \`integration\` VARCHAR(100) NULL, \`number\` VARCHAR(100) NULL,
      \`token\` VARCHAR(255) NULL, \`createdAt\` TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP, \`updatedAt\` TIMESTAMP NULL,
      UNIQUE INDEX \`Instance_name_key\`(\`name\`), PRIMARY KEY (\`id\`)) ${tail}`,
    `CREATE TABLE \`OpenaiCreds\` (
      \`id\` VARCHAR(191) NOT NULL, \`name\` VARCHAR(255) NULL, \`apiKey\` VARCHAR(255) NULL,
      \`createdAt\` TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP, \`updatedAt\` TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
      \`instanceId\` VARCHAR(191) NOT NULL, UNIQUE INDEX \`OpenaiCreds_name_key\`(\`name\`), PRIMARY KEY (\`id\`),
      FOREIGN KEY (\`instanceId\`) REFERENCES \`Instance\`(\`id\`) ON DELETE CASCADE) ${tail}`,
    `CREATE TABLE \`OpenaiBot\` (
      \`id\` VARCHAR(191) NOT NULL, \`enabled\` BOOLEAN NOT NULL DEFAULT true, \`description\` VARCHAR(255) NULL,
      \`botType\` ENUM('assistant', 'chatCompletion') NOT NULL, \`assistantId\` VARCHAR(255) NULL,
      \`functionUrl\` VARCHAR(500) NULL, \`model\` VARCHAR(100) NULL, \`systemMessages\` JSON NULL,
      \`assistantMessages\` JSON NULL, \`userMessages\` JSON NULL, \`maxTokens\` INTEGER NULL,
      ${SESSION_COLUMNS_MYSQL}${split},
      \`triggerType\` ENUM('all', 'keyword', 'none', 'advanced') NULL,
      \`triggerOperator\` ENUM('contains', 'equals', 'startsWith', 'endsWith', 'regex') NULL,
      \`triggerValue\` VARCHAR(191) NULL, \`createdAt\` TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP,
      \`updatedAt\` TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, \`openaiCredsId\` VARCHAR(191) NOT NULL,
      \`instanceId\` VARCHAR(191) NOT NULL, PRIMARY KEY (\`id\`),
      FOREIGN KEY (\`openaiCredsId\`) REFERENCES \`OpenaiCreds\`(\`id\`) ON DELETE CASCADE,
      FOREIGN KEY (\`instanceId\`) REFERENCES \`Instance\`(\`id\`) ON DELETE CASCADE) ${tail}`,
    `CREATE TABLE \`OpenaiSetting\` (
      \`id\` VARCHAR(191) NOT NULL, ${SESSION_COLUMNS_MYSQL}${split}, \`speechToText\` BOOLEAN NULL DEFAULT false,
      \`createdAt\` TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP, \`updatedAt\` TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
      \`openaiCredsId\` VARCHAR(191) NOT NULL, \`openaiIdFallback\` VARCHAR(100) NULL, \`instanceId\` VARCHAR(191) NOT NULL,
      UNIQUE INDEX \`OpenaiSetting_openaiCredsId_key\`(\`openaiCredsId\`),
      UNIQUE INDEX \`OpenaiSetting_instanceId_key\`(\`instanceId\`), PRIMARY KEY (\`id\`)) ${tail}`,
  ];
}

/** Prisma's migration history, as `prisma migrate deploy` creates it in each dialect. */
const MIGRATIONS_PG = `
  CREATE TABLE "_prisma_migrations" (
    "id" varchar(36) PRIMARY KEY, "checksum" varchar(64) NOT NULL, "finished_at" timestamptz,
    "migration_name" varchar(255) NOT NULL, "logs" text, "rolled_back_at" timestamptz,
    "started_at" timestamptz NOT NULL DEFAULT now(), "applied_steps_count" integer NOT NULL DEFAULT 0);`;
const MIGRATIONS_MYSQL = `CREATE TABLE \`_prisma_migrations\` (
    \`id\` VARCHAR(36) NOT NULL, \`checksum\` VARCHAR(64) NOT NULL, \`finished_at\` DATETIME(3) NULL,
    \`migration_name\` VARCHAR(255) NOT NULL, \`logs\` TEXT NULL, \`rolled_back_at\` DATETIME(3) NULL,
    \`started_at\` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3), \`applied_steps_count\` INTEGER UNSIGNED NOT NULL DEFAULT 0,
    PRIMARY KEY (\`id\`)) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`;

/**
 * Migration names as Evolution API's prisma folders hold them: up to 2.2.3, and those 2.3.0 added.
 * Both dialects name these alike.
 */
export const EVOLUTION_MIGRATIONS = {
  before23: [
    '20240809105427_init',
    '20241011100803_split_messages_and_time_per_char_integrations',
    '20250225180031_add_nats_integration',
  ],
  from23: [
    '20250514232744_add_n8n_table',
    '20250515211815_add_evoai_table',
    '20250612155048_add_coluns_trypebot_tables',
  ],
};

export interface EvolutionFixtureOptions {
  withSplit?: boolean;
  /** Applied migration names for `_prisma_migrations`; without them the table is not created. */
  migrations?: string[];
}

function migrationRows(names: string[]): Row[] {
  return names.map((name) => ({
    id: randomBytes(16).toString('hex').slice(0, 36),
    checksum: randomBytes(32).toString('hex'),
    finished_at: '2025-06-20 12:00:00',
    migration_name: name,
    applied_steps_count: 1,
  }));
}

const TABLES = ['Instance', 'OpenaiCreds', 'OpenaiBot', 'OpenaiSetting'] as const;
const toColumn = (value: Value) => (Array.isArray(value) ? JSON.stringify(value) : value);

/** The data in a new PostgreSQL database on the test server. */
export function evolutionPostgres(
  data: EvolutionData,
  options: EvolutionFixtureOptions = {},
): Promise<SourceFixture> {
  const tables = withMigrations(data, options.migrations);
  const inserts = Object.entries(tables).flatMap(([table, rows]) =>
    rows.map((row) => {
      const columns = Object.keys(row);
      return [
        `INSERT INTO "${table}" (${columns.map((column) => `"${column}"`).join(', ')}) VALUES (${columns.map((_, i) => `$${i + 1}`).join(', ')})`,
        ...columns.map((column) => toColumn(row[column]!)),
      ];
    }),
  );
  const schema = postgresSchema(options.withSplit ?? true) + (options.migrations ? MIGRATIONS_PG : '');
  return postgresFixture('evo', schema, inserts);
}

/** The data in a new MariaDB database. */
export function evolutionMysql(
  data: EvolutionData,
  options: EvolutionFixtureOptions = {},
): Promise<SourceFixture> {
  const tables = withMigrations(data, options.migrations);
  const inserts = Object.entries(tables).flatMap(([table, rows]) =>
    rows.map((row): [string, unknown[]] => {
      const columns = Object.keys(row);
      return [
        `INSERT INTO \`${table}\` (${columns.map((column) => `\`${column}\``).join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`,
        columns.map((column) => toColumn(row[column]!)),
      ];
    }),
  );
  const schema = [
    ...mysqlSchema(options.withSplit ?? true),
    ...(options.migrations ? [MIGRATIONS_MYSQL] : []),
  ];
  return mysqlFixture('evo', [...schema, ...inserts]);
}

function withMigrations(data: EvolutionData, migrations: string[] | undefined): Record<string, Row[]> {
  const tables: Record<string, Row[]> = Object.fromEntries(TABLES.map((table) => [table, data[table]]));
  if (migrations) tables._prisma_migrations = migrationRows(migrations);
  return tables;
}

/**
 * Five sales instances that each had to store the same OpenAI key (one credential in Keyway, five
 * bots), a support instance with its own key, a fallback bot, an assistant-mode bot (no
 * equivalent), and an OpenaiCreds row with an empty key.
 */
export function evolutionScenario(options: { withSplit?: boolean } = {}) {
  const sharedKey = fakeKey('sk-');
  const supportKey = fakeKey('sk-');
  const tokens = new Map<string, string>();
  const data: EvolutionData = { Instance: [], OpenaiCreds: [], OpenaiBot: [], OpenaiSetting: [] };
  const split = (value: Row) => (options.withSplit === false ? {} : value);
  for (let n = 1; n <= 5; n++) {
    const instanceId = cuid();
    const token = randomBytes(16).toString('hex').toUpperCase();
    tokens.set(`sales-${n}`, token);
    data.Instance.push({ id: instanceId, name: `sales-${n}`, token, integration: 'WHATSAPP-BAILEYS' });
    const credsId = cuid();
    data.OpenaiCreds.push({ id: credsId, name: `sales key ${n}`, apiKey: sharedKey, instanceId });
    data.OpenaiBot.push({
      id: cuid(),
      description: 'Sales',
      botType: 'chatCompletion',
      model: 'gpt-4o-mini',
      systemMessages: ['You sell shoes.'],
      assistantMessages: [],
      userMessages: [],
      maxTokens: 300,
      triggerType: 'keyword',
      triggerOperator: 'startsWith',
      triggerValue: 'buy',
      expire: 30,
      keywordFinish: '#stop',
      debounceTime: 0,
      ignoreJids: ['@g.us'],
      stopBotFromMe: true,
      listeningFromMe: false,
      ...split({ splitMessages: false, timePerChar: 50 }),
      openaiCredsId: credsId,
      instanceId,
    });
  }
  const supportId = cuid();
  const supportToken = randomBytes(16).toString('hex').toUpperCase();
  tokens.set('support', supportToken);
  data.Instance.push({ id: supportId, name: 'support', token: supportToken });
  const supportCreds = cuid();
  data.OpenaiCreds.push({ id: supportCreds, name: 'support', apiKey: supportKey, instanceId: supportId });
  data.OpenaiCreds.push({ id: cuid(), name: 'empty', apiKey: '', instanceId: supportId });
  const fallbackId = cuid();
  data.OpenaiBot.push(
    {
      id: fallbackId,
      description: 'Fallback',
      botType: 'chatCompletion',
      model: 'gpt-4o-mini',
      systemMessages: ['Say that a person will answer soon.'],
      triggerType: null,
      openaiCredsId: supportCreds,
      instanceId: supportId,
    },
    {
      id: cuid(),
      description: 'Helpdesk',
      botType: 'chatCompletion',
      model: 'gpt-4o',
      systemMessages: ['You help.'],
      assistantMessages: ['Hi! What went wrong?'],
      userMessages: ['My order is late.'],
      triggerType: 'keyword',
      triggerOperator: 'regex',
      triggerValue: '^(help|ajuda)',
      ...split({ splitMessages: true, timePerChar: 80 }),
      keepOpen: true,
      openaiCredsId: supportCreds,
      instanceId: supportId,
    },
    {
      id: cuid(),
      description: 'Assistant',
      botType: 'assistant',
      assistantId: 'asst_' + randomBytes(8).toString('hex'),
      model: null,
      triggerType: 'all',
      openaiCredsId: supportCreds,
      instanceId: supportId,
    },
  );
  data.OpenaiSetting.push({
    id: cuid(),
    unknownMessage: 'Text only, please.',
    expire: 60,
    delayMessage: 500,
    speechToText: true,
    openaiCredsId: supportCreds,
    openaiIdFallback: fallbackId,
    instanceId: supportId,
  });
  return { data, sharedKey, supportKey, tokens, secrets: [sharedKey, supportKey, ...tokens.values()] };
}
