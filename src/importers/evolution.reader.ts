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

export interface EvolutionSnapshot {
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
  instances.sort((a, b) => a.name.localeCompare(b.name));
  bots.sort((a, b) => a.id.localeCompare(b.id));
  creds.sort((a, b) => a.id.localeCompare(b.id));
  return { instances, creds, bots, settings, missingColumns };
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
