import { KeywayError } from '../errors.ts';
import type { SourceDatabase } from './source-database.ts';

/** Evolution API's enums (prisma schema): TriggerType, TriggerOperator, OpenaiBotType. */
export type EvolutionTriggerType = 'all' | 'keyword' | 'none' | 'advanced';
export type EvolutionTriggerOperator = 'contains' | 'equals' | 'startsWith' | 'endsWith' | 'regex';

export interface EvolutionInstance {
  id: string;
  name: string;
  /** The instance's API key (`Instance.token`): what `POST /message/sendText/{instance}` takes as `apikey`. */
  token: string | null;
}

export interface EvolutionCreds {
  id: string;
  name: string | null;
  apiKey: string | null;
  instanceId: string;
}

/** The session fields an `OpenaiBot` and its instance's `OpenaiSetting` share; null: not set. */
export interface EvolutionSessionFields {
  expire: number | null;
  keywordFinish: string | null;
  delayMessage: number | null;
  unknownMessage: string | null;
  listeningFromMe: boolean | null;
  stopBotFromMe: boolean | null;
  keepOpen: boolean | null;
  debounceTime: number | null;
  ignoreJids: string[] | null;
  splitMessages: boolean | null;
  timePerChar: number | null;
}

export interface EvolutionBot extends EvolutionSessionFields {
  id: string;
  enabled: boolean;
  description: string | null;
  botType: string;
  assistantId: string | null;
  functionUrl: string | null;
  model: string | null;
  systemMessages: string[];
  assistantMessages: string[];
  userMessages: string[];
  maxTokens: number | null;
  triggerType: EvolutionTriggerType | null;
  triggerOperator: EvolutionTriggerOperator | null;
  triggerValue: string | null;
  openaiCredsId: string;
  instanceId: string;
}

export interface EvolutionSetting extends EvolutionSessionFields {
  instanceId: string;
  openaiCredsId: string | null;
  openaiIdFallback: string | null;
  speechToText: boolean | null;
}

/**
 * Which Evolution API made the database, as far as the importer needs to know: 2.3 changed what a
 * `none` trigger does (its `findBotByTrigger` matches `all` and `none` alike: every message).
 */
export type EvolutionRelease =
  | { kind: 'at-least-2.3'; migration: string }
  | { kind: 'before-2.3'; latest: string | null }
  | { kind: 'unknown'; reason: string };

/**
 * The migrations Evolution API 2.3.0 added (the N8N and EvoAI integrations), named alike in its
 * postgresql-migrations and mysql-migrations folders: applied, the database is 2.3 or later.
 */
export const EVOLUTION_2_3_MIGRATIONS = ['20250514232744_add_n8n_table', '20250515211815_add_evoai_table'];

export interface EvolutionSnapshot {
  /** Read from Prisma's `_prisma_migrations`. */
  release: EvolutionRelease;
  instances: EvolutionInstance[];
  creds: EvolutionCreds[];
  bots: EvolutionBot[];
  settings: EvolutionSetting[];
  /** Known columns this version lacks, as `Table.column`. */
  missingColumns: string[];
}

const SESSION_COLUMNS = [
  'expire',
  'keywordFinish',
  'delayMessage',
  'unknownMessage',
  'listeningFromMe',
  'stopBotFromMe',
  'keepOpen',
  'debounceTime',
  'ignoreJids',
  'splitMessages',
  'timePerChar',
] as const;

const BOT_COLUMNS = [
  'id',
  'enabled',
  'description',
  'botType',
  'assistantId',
  'functionUrl',
  'model',
  'systemMessages',
  'assistantMessages',
  'userMessages',
  'maxTokens',
  'triggerType',
  'triggerOperator',
  'triggerValue',
  'openaiCredsId',
  'instanceId',
  ...SESSION_COLUMNS,
] as const;

const SETTING_COLUMNS = [
  'instanceId',
  'openaiCredsId',
  'openaiIdFallback',
  'speechToText',
  ...SESSION_COLUMNS,
] as const;

/** Columns without which a table cannot be imported at all. */
const REQUIRED: Record<string, string[]> = {
  Instance: ['id', 'name'],
  OpenaiCreds: ['id', 'apiKey', 'instanceId'],
  OpenaiBot: ['id', 'openaiCredsId', 'instanceId'],
  OpenaiSetting: ['instanceId'],
};

/**
 * Reads Evolution API's OpenAI integration (tables named as Prisma names them), from PostgreSQL or
 * MySQL/MariaDB, whatever version made it: columns a version lacks are read as unset and reported.
 */
export async function readEvolution(source: SourceDatabase): Promise<EvolutionSnapshot> {
  const missingColumns: string[] = [];
  const read = async (table: string, wanted: readonly string[]) => {
    const columns = await source.columns(table);
    if (!columns || !REQUIRED[table]!.every((column) => columns.has(column))) {
      if (table === 'OpenaiSetting' && !columns) return [];
      throw new KeywayError(
        'source_not_recognised',
        `${source.description} has no Evolution API "${table}" table (with ${REQUIRED[table]!.join(', ')}).`,
        {
          fix: 'Point --from at the database Evolution API 2.x uses (add ?schema=NAME for a PostgreSQL schema other than public).',
        },
      );
    }
    const present = wanted.filter((column) => columns.has(column));
    for (const column of wanted) if (!columns.has(column)) missingColumns.push(`${table}.${column}`);
    return source.rows(table, present);
  };

  const instances = (await read('Instance', ['id', 'name', 'token'])).map((row) => ({
    id: String(row.id),
    name: String(row.name),
    token: text(row.token),
  }));
  const creds = (await read('OpenaiCreds', ['id', 'name', 'apiKey', 'instanceId'])).map((row) => ({
    id: String(row.id),
    name: text(row.name),
    apiKey: text(row.apiKey),
    instanceId: String(row.instanceId),
  }));
  const bots = (await read('OpenaiBot', BOT_COLUMNS)).map((row): EvolutionBot => ({
    id: String(row.id),
    enabled: bool(row.enabled) ?? true,
    description: text(row.description),
    botType: text(row.botType) ?? 'chatCompletion',
    assistantId: text(row.assistantId),
    functionUrl: text(row.functionUrl),
    model: text(row.model),
    systemMessages: strings(row.systemMessages) ?? [],
    assistantMessages: strings(row.assistantMessages) ?? [],
    userMessages: strings(row.userMessages) ?? [],
    maxTokens: int(row.maxTokens),
    triggerType: text(row.triggerType) as EvolutionTriggerType | null,
    triggerOperator: text(row.triggerOperator) as EvolutionTriggerOperator | null,
    triggerValue: text(row.triggerValue),
    openaiCredsId: String(row.openaiCredsId),
    instanceId: String(row.instanceId),
    ...sessionFields(row),
  }));
  const settings = (await read('OpenaiSetting', SETTING_COLUMNS)).map((row): EvolutionSetting => ({
    instanceId: String(row.instanceId),
    openaiCredsId: text(row.openaiCredsId),
    openaiIdFallback: text(row.openaiIdFallback),
    speechToText: bool(row.speechToText),
    ...sessionFields(row),
  }));
  const release = await readRelease(source);
  instances.sort((a, b) => a.name.localeCompare(b.name));
  bots.sort((a, b) => a.id.localeCompare(b.id));
  creds.sort((a, b) => a.id.localeCompare(b.id));
  return { release, instances, creds, bots, settings, missingColumns };
}

/**
 * The release from Prisma's migration history: a 2.3 migration applied (finished, not rolled back),
 * or a later one (a database baselined past them), means 2.3 or later.
 */
async function readRelease(source: SourceDatabase): Promise<EvolutionRelease> {
  const table = '_prisma_migrations';
  const columns = await source.columns(table);
  if (!columns || !columns.has('migration_name')) {
    return { kind: 'unknown', reason: `it has no ${table} table` };
  }
  const wanted = ['migration_name', 'finished_at', 'rolled_back_at'].filter((column) => columns.has(column));
  const applied = (await source.rows(table, wanted))
    .filter((row) => row.finished_at !== null && row.finished_at !== undefined)
    .filter((row) => row.rolled_back_at === null || row.rolled_back_at === undefined)
    .map((row) => String(row.migration_name))
    .sort();
  if (applied.length === 0) return { kind: 'unknown', reason: `its ${table} lists no applied migration` };
  const marker = applied.find((name) => EVOLUTION_2_3_MIGRATIONS.includes(name));
  if (marker) return { kind: 'at-least-2.3', migration: marker };
  // Timestamps are 14 digits (one early MySQL migration has 13: it sorts first, as it should).
  const first = EVOLUTION_2_3_MIGRATIONS[0]!.slice(0, 14);
  const later = applied.find((name) => /^\d{14}_/.test(name) && name.slice(0, 14) >= first);
  if (later) return { kind: 'at-least-2.3', migration: later };
  return { kind: 'before-2.3', latest: applied.at(-1) ?? null };
}

function sessionFields(row: Record<string, unknown>): EvolutionSessionFields {
  return {
    expire: int(row.expire),
    keywordFinish: text(row.keywordFinish),
    delayMessage: int(row.delayMessage),
    unknownMessage: text(row.unknownMessage),
    listeningFromMe: bool(row.listeningFromMe),
    stopBotFromMe: bool(row.stopBotFromMe),
    keepOpen: bool(row.keepOpen),
    debounceTime: int(row.debounceTime),
    ignoreJids: strings(row.ignoreJids),
    splitMessages: bool(row.splitMessages),
    timePerChar: int(row.timePerChar),
  };
}

function text(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  const trimmed = String(value).trim();
  return trimmed === '' ? null : trimmed;
}

function int(value: unknown): number | null {
  if (value === null || value === undefined || value === '') return null;
  const number = Number(value);
  return Number.isFinite(number) ? Math.trunc(number) : null;
}

/** PostgreSQL gives booleans; MySQL gives TINYINT(1) as 0/1. */
function bool(value: unknown): boolean | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number' || typeof value === 'bigint') return Number(value) !== 0;
  if (Buffer.isBuffer(value)) return value.length > 0 && value[0] !== 0;
  return ['1', 'true', 't'].includes(String(value).toLowerCase());
}

/** A JSON array of strings: parsed by pg (jsonb), text on MariaDB (JSON is LONGTEXT there). */
function strings(value: unknown): string[] | null {
  if (value === null || value === undefined) return null;
  let parsed = value;
  if (typeof value === 'string') {
    try {
      parsed = JSON.parse(value);
    } catch {
      return [value];
    }
  }
  if (!Array.isArray(parsed)) return typeof parsed === 'string' ? [parsed] : null;
  return parsed.filter((item): item is string => typeof item === 'string' && item.trim() !== '');
}
