import { KeywayError } from '../errors.ts';
import type { SourceDatabase } from './source-database.ts';

/**
 * The `profiles` columns the importer knows, as Chatbot-UI's migrations named them. Each version has
 * some of them (groq, openrouter and the Azure embeddings id came later); the ones a database lacks
 * are reported, never an error.
 */
export const PROFILE_COLUMNS = [
  'openai_api_key',
  'openai_organization_id',
  'anthropic_api_key',
  'google_gemini_api_key',
  'mistral_api_key',
  'groq_api_key',
  'perplexity_api_key',
  'openrouter_api_key',
  'azure_openai_api_key',
  'azure_openai_endpoint',
  'azure_openai_35_turbo_id',
  'azure_openai_45_turbo_id',
  'azure_openai_45_vision_id',
  'azure_openai_embeddings_id',
] as const;
export type ProfileColumn = (typeof PROFILE_COLUMNS)[number];

export interface ChatbotUiProfile {
  userId: string;
  username: string;
  /** Only the columns this database has; null and '' both mean "not set". */
  values: Partial<Record<ProfileColumn, string | null>>;
}

/** A row of `models`: a custom OpenAI-compatible model (base URL + key). */
export interface ChatbotUiModel {
  id: string;
  userId: string;
  name: string;
  modelId: string;
  baseUrl: string;
  apiKey: string | null;
}

/**
 * A row of `files`: the bytes are in Supabase storage (`file_path`), out of reach of a database
 * import; the text Chatbot-UI extracted is in `file_items`, one row per chunk.
 */
export interface ChatbotUiFile {
  id: string;
  userId: string;
  name: string;
  /** The chunks' texts, in the order Chatbot-UI stored them. */
  chunks: string[];
}

/** A row of `collections` (Chatbot-UI's named set of files) with its files' ids. */
export interface ChatbotUiCollection {
  id: string;
  userId: string;
  name: string;
  fileIds: string[];
}

export interface ChatbotUiSnapshot {
  profiles: ChatbotUiProfile[];
  models: ChatbotUiModel[];
  files: ChatbotUiFile[];
  collections: ChatbotUiCollection[];
  /** Known `profiles` columns this database does not have. */
  missingColumns: ProfileColumn[];
  /** False on versions before custom models. */
  hasModelsTable: boolean;
}

const MODEL_COLUMNS = ['id', 'user_id', 'name', 'model_id', 'base_url', 'api_key'] as const;

/** Reads what the Chatbot-UI importer needs, whatever version of Chatbot-UI made the database. */
export async function readChatbotUi(source: SourceDatabase): Promise<ChatbotUiSnapshot> {
  const columns = await source.columns('profiles');
  if (!columns || !columns.has('user_id') || !columns.has('username')) {
    throw new KeywayError(
      'source_not_recognised',
      `${source.description} has no Chatbot-UI profiles table (with user_id and username).`,
      { fix: 'Point --from at the Supabase database Chatbot-UI uses (its public schema).' },
    );
  }
  const present = PROFILE_COLUMNS.filter((column) => columns.has(column));
  const missingColumns = PROFILE_COLUMNS.filter((column) => !columns.has(column));
  const rows = await source.rows('profiles', ['user_id', 'username', ...present]);
  const profiles = rows.map((row) => ({
    userId: String(row.user_id),
    username: String(row.username),
    values: Object.fromEntries(present.map((column) => [column, text(row[column])])),
  }));

  const modelColumns = await source.columns('models');
  const hasModelsTable = modelColumns !== null && MODEL_COLUMNS.every((column) => modelColumns.has(column));
  const models = hasModelsTable
    ? (await source.rows('models', MODEL_COLUMNS)).map((row) => ({
        id: String(row.id),
        userId: String(row.user_id),
        name: String(row.name ?? ''),
        modelId: String(row.model_id ?? ''),
        baseUrl: String(row.base_url ?? ''),
        apiKey: text(row.api_key),
      }))
    : [];
  profiles.sort((a, b) => a.username.localeCompare(b.username));
  models.sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
  const { files, collections } = await readFiles(source);
  return { profiles, models, files, collections, missingColumns, hasModelsTable };
}

const FILE_COLUMNS = ['id', 'user_id', 'name'] as const;
const FILE_ITEM_COLUMNS = ['file_id', 'content', 'created_at'] as const;

/**
 * Files with the text of their chunks, and collections. Versions before files had none of these
 * tables; a database without them has nothing to import from them. The embedding columns
 * (`openai_embedding`, `local_embedding`) are never read: the texts are embedded again with the model
 * the import names, so vectors of another model never mix with Keyway's.
 */
async function readFiles(
  source: SourceDatabase,
): Promise<{ files: ChatbotUiFile[]; collections: ChatbotUiCollection[] }> {
  const has = async (table: string, columns: readonly string[]) => {
    const present = await source.columns(table);
    return present !== null && columns.every((column) => present.has(column));
  };
  if (!(await has('files', FILE_COLUMNS)) || !(await has('file_items', FILE_ITEM_COLUMNS)))
    return { files: [], collections: [] };
  const chunks = new Map<string, { text: string; at: number }[]>();
  // Chatbot-UI inserts a file's chunks in one statement, in order: they share a created_at, and the
  // table's order breaks the tie (Array.prototype.sort is stable).
  for (const row of await source.rows('file_items', FILE_ITEM_COLUMNS)) {
    const content = row.content === null || row.content === undefined ? '' : String(row.content);
    if (content.trim() === '') continue;
    const list = chunks.get(String(row.file_id)) ?? [];
    list.push({ text: content, at: new Date(String(row.created_at)).getTime() || 0 });
    chunks.set(String(row.file_id), list);
  }
  const files = (await source.rows('files', FILE_COLUMNS)).map((row) => ({
    id: String(row.id),
    userId: String(row.user_id),
    name: String(row.name ?? ''),
    chunks: (chunks.get(String(row.id)) ?? []).sort((a, b) => a.at - b.at).map((chunk) => chunk.text),
  }));
  files.sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));

  const collections: ChatbotUiCollection[] = [];
  if (
    (await has('collections', ['id', 'user_id', 'name'])) &&
    (await has('collection_files', ['collection_id', 'file_id']))
  ) {
    const members = new Map<string, string[]>();
    for (const row of await source.rows('collection_files', ['collection_id', 'file_id'])) {
      const list = members.get(String(row.collection_id)) ?? [];
      list.push(String(row.file_id));
      members.set(String(row.collection_id), list);
    }
    for (const row of await source.rows('collections', ['id', 'user_id', 'name'])) {
      collections.push({
        id: String(row.id),
        userId: String(row.user_id),
        name: String(row.name ?? ''),
        fileIds: (members.get(String(row.id)) ?? []).sort(),
      });
    }
    collections.sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
  }
  return { files, collections };
}

function text(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  const trimmed = String(value).trim();
  return trimmed === '' ? null : trimmed;
}
