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

export interface ChatbotUiSnapshot {
  profiles: ChatbotUiProfile[];
  models: ChatbotUiModel[];
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
  return { profiles, models, missingColumns, hasModelsTable };
}

function text(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  const trimmed = String(value).trim();
  return trimmed === '' ? null : trimmed;
}
