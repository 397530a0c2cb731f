import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { databaseUrl } from '../support/test-database.ts';
import { inject } from 'vitest';
import { PROFILE_COLUMNS, type ProfileColumn } from '../../src/importers/chatbot-ui.reader.ts';

/** A source database a test made, and how to drop it. */
export interface SourceFixture {
  url: string;
  dispose(): Promise<void>;
}

async function onTestPostgres(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: inject('postgresUrl') });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** A new, uniquely named database on the test PostgreSQL server, filled by `script`. */
export async function postgresFixture(
  prefix: string,
  script: string,
  params: unknown[][] = [],
): Promise<SourceFixture> {
  const name = `${prefix}_${randomBytes(5).toString('hex')}`;
  await onTestPostgres(`CREATE DATABASE ${name}`);
  const url = databaseUrl(name);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(script);
    for (const [text, ...values] of params) await client.query(String(text), values);
  } finally {
    await client.end();
  }
  return { url, dispose: () => onTestPostgres(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

/** MariaDB/MySQL for the Evolution API fixtures (TEST_MYSQL_URL, default root on 127.0.0.1:3306). */
export const mysqlServerUrl = () => process.env.TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306';

/** A new, uniquely named MariaDB database, filled by the statements. */
export async function mysqlFixture(
  prefix: string,
  statements: (string | [string, unknown[]])[],
): Promise<SourceFixture> {
  const name = `${prefix}_${randomBytes(5).toString('hex')}`;
  const server = new URL(mysqlServerUrl());
  const connect = (database?: string) =>
    mysql.createConnection({
      host: server.hostname,
      port: Number(server.port || 3306),
      user: decodeURIComponent(server.username) || 'root',
      password: decodeURIComponent(server.password),
      ...(database ? { database } : {}),
    });
  let admin: mysql.Connection;
  try {
    admin = await connect();
  } catch (error) {
    throw new Error(
      `The Evolution API fixtures need MariaDB or MySQL at ${server.host} (TEST_MYSQL_URL, default root without a password on 127.0.0.1:3306): ${(error as Error).message}. Install and start mariadb-server (see NOTES-import.md, CI).`,
    );
  }
  await admin.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  await admin.end();
  const connection = await connect(name);
  try {
    for (const statement of statements) {
      if (typeof statement === 'string') await connection.query(statement);
      else await connection.query(statement[0], statement[1]);
    }
  } finally {
    await connection.end();
  }
  const url = new URL(server.toString());
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async dispose() {
      const drop = await connect();
      await drop.query(`DROP DATABASE IF EXISTS \`${name}\``);
      await drop.end();
    },
  };
}

// ── Chatbot-UI ──

export interface ProfileRow {
  username: string;
  /** Key columns; absent or '' means empty, as Chatbot-UI stores them. */
  values?: Partial<Record<ProfileColumn, string>>;
}

export interface ModelRow {
  username: string;
  name: string;
  modelId: string;
  baseUrl: string;
  apiKey: string;
}

/**
 * A Chatbot-UI database: `profiles` with the column list of its migrations (minus `omit`, as an older
 * version has), and `models` unless `withModels` is false.
 */
export async function chatbotUiFixture(options: {
  profiles: ProfileRow[];
  models?: ModelRow[];
  omit?: ProfileColumn[];
  withModels?: boolean;
  /** Files with their chunks' texts; with them come Chatbot-UI's file and collection tables. */
  files?: FileRow[];
  collections?: CollectionRow[];
  /** Workspaces, folders, chats with messages, prompts, presets and assistants (and their tables). */
  history?: HistoryRows;
}): Promise<SourceFixture> {
  const columns = PROFILE_COLUMNS.filter((column) => !options.omit?.includes(column));
  const script = `
    CREATE TABLE profiles (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      user_id uuid NOT NULL UNIQUE,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz,
      bio text NOT NULL DEFAULT '',
      has_onboarded boolean NOT NULL DEFAULT false,
      image_url text NOT NULL DEFAULT '',
      image_path text NOT NULL DEFAULT '',
      profile_context text NOT NULL DEFAULT '',
      display_name text NOT NULL DEFAULT '',
      use_azure_openai boolean NOT NULL DEFAULT false,
      username text NOT NULL UNIQUE CHECK (char_length(username) >= 3 AND char_length(username) <= 25),
      ${columns.map((column) => `${column} text CHECK (char_length(${column}) <= 1000)`).join(',\n      ')}
    );
    ${
      options.withModels === false
        ? ''
        : `CREATE TABLE models (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      user_id uuid NOT NULL,
      folder_id uuid,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz,
      sharing text NOT NULL DEFAULT 'private',
      api_key text NOT NULL CHECK (char_length(api_key) <= 1000),
      base_url text NOT NULL CHECK (char_length(base_url) <= 1000),
      description text NOT NULL CHECK (char_length(description) <= 500),
      model_id text NOT NULL CHECK (char_length(model_id) <= 1000),
      name text NOT NULL CHECK (char_length(name) <= 100)
    );`
    }
    ${options.files || options.history ? CHATBOT_UI_FILE_TABLES : ''}
    ${options.history ? CHATBOT_UI_HISTORY_TABLES : ''}`;
  const params: unknown[][] = [];
  for (const profile of options.profiles) {
    // Chatbot-UI's own trigger creates every profile with '' in every key column.
    const values = columns.map((column) => profile.values?.[column] ?? '');
    params.push([
      `INSERT INTO profiles (user_id, username, ${columns.join(', ')})
       VALUES (md5($1)::uuid, $1, ${columns.map((_, i) => `$${i + 2}`).join(', ')})`,
      profile.username,
      ...values,
    ]);
  }
  for (const model of options.models ?? []) {
    params.push([
      `INSERT INTO models (user_id, api_key, base_url, description, model_id, name)
       VALUES (md5($1)::uuid, $2, $3, '', $4, $5)`,
      model.username,
      model.apiKey,
      model.baseUrl,
      model.modelId,
      model.name,
    ]);
  }
  for (const file of options.files ?? []) {
    params.push([
      `INSERT INTO files (id, user_id, description, file_path, name, size, tokens, type)
       VALUES (md5($1)::uuid, md5($2)::uuid, '', 'storage/' || $1, $1, 0, 0, 'application/pdf')`,
      file.name,
      file.username,
    ]);
    // One statement, as Chatbot-UI's file processing inserts them: the chunks share a created_at.
    params.push([
      `INSERT INTO file_items (file_id, user_id, content, tokens)
       SELECT md5($1)::uuid, md5($2)::uuid, chunk, 0 FROM unnest($3::text[]) AS chunk`,
      file.name,
      file.username,
      file.chunks,
    ]);
  }
  for (const collection of options.collections ?? []) {
    params.push([
      `INSERT INTO collections (id, user_id, description, name) VALUES (md5($1)::uuid, md5($2)::uuid, '', $1)`,
      collection.name,
      collection.username,
    ]);
    for (const file of collection.files) {
      params.push([
        `INSERT INTO collection_files (user_id, collection_id, file_id) VALUES (md5($1)::uuid, md5($2)::uuid, md5($3)::uuid)`,
        collection.username,
        collection.name,
        file,
      ]);
    }
  }
  if (options.history) params.push(...historyInserts(options.history));
  return postgresFixture('cbui', script, params);
}

// ── Chatbot-UI history ──
// Ids are md5 of what names a row (kind, username, name), as the profiles' and files' are.

export interface HistoryRows {
  workspaces: { username: string; name: string; isHome?: boolean }[];
  folders?: { username: string; workspace: string; name: string; type?: string }[];
  chats?: ChatRow[];
  prompts?: { username: string; name: string; content: string; workspaces: string[] }[];
  presets?: SettingsRow[];
  assistants?: (SettingsRow & { collections?: string[] })[];
}

export interface ChatRow {
  username: string;
  workspace: string;
  /** A folder of type 'chats' in that workspace. */
  folder?: string;
  assistant?: string;
  name: string;
  model: string;
  prompt?: string;
  temperature?: number;
  contextLength?: number;
  createdAt?: string;
  /** Stored in this order; `sequence` (default: the position) is what orders them. */
  messages: { role: string; content: string; model?: string; sequence?: number; images?: string[] }[];
  /** File names (`files` rows) attached to the chat. */
  files?: string[];
}

export interface SettingsRow {
  username: string;
  name: string;
  model: string;
  prompt: string;
  temperature: number;
  contextLength: number;
  description?: string;
  workspaces: string[];
}

const id = (kind: string) => `md5('${kind}:' || $1 || ':' || $2)::uuid`;

function historyInserts(rows: HistoryRows): unknown[][] {
  const params: unknown[][] = [];
  for (const workspace of rows.workspaces) {
    params.push([
      `INSERT INTO workspaces (id, user_id, default_context_length, default_model, default_prompt,
         default_temperature, description, embeddings_provider, include_profile_context,
         include_workspace_instructions, instructions, is_home, name)
       VALUES (${id('workspace')}, md5($1)::uuid, 4096, 'gpt-4-turbo-preview', 'You are a friendly, helpful AI assistant.',
         0.5, '', 'openai', true, true, '', $3, $2)`,
      workspace.username,
      workspace.name,
      workspace.isHome === true,
    ]);
  }
  for (const folder of rows.folders ?? []) {
    params.push([
      `INSERT INTO folders (id, user_id, workspace_id, name, description, type)
       VALUES (${id('folder')}, md5($1)::uuid, md5('workspace:' || $1 || ':' || $3)::uuid, $2, '', $4)`,
      folder.username,
      folder.name,
      folder.workspace,
      folder.type ?? 'chats',
    ]);
  }
  for (const kind of ['presets', 'assistants'] as const) {
    for (const row of rows[kind] ?? []) {
      const singular = kind.slice(0, -1);
      params.push([
        `INSERT INTO ${kind} (id, user_id, context_length, description, embeddings_provider,
           include_profile_context, include_workspace_instructions, model, name, prompt, temperature
           ${kind === 'assistants' ? ', image_path' : ''})
         VALUES (${id(singular)}, md5($1)::uuid, $3, $4, 'openai', true, true, $5, $2, $6, $7
           ${kind === 'assistants' ? ", ''" : ''})`,
        row.username,
        row.name,
        row.contextLength,
        row.description ?? '',
        row.model,
        row.prompt,
        row.temperature,
      ]);
      for (const workspace of row.workspaces) {
        params.push([
          `INSERT INTO ${singular}_workspaces (user_id, ${singular}_id, workspace_id)
           VALUES (md5($1)::uuid, ${id(singular)}, md5('workspace:' || $1 || ':' || $3)::uuid)`,
          row.username,
          row.name,
          workspace,
        ]);
      }
    }
  }
  for (const assistant of rows.assistants ?? []) {
    for (const collection of assistant.collections ?? []) {
      params.push([
        `INSERT INTO assistant_collections (user_id, assistant_id, collection_id)
         VALUES (md5($1)::uuid, ${id('assistant')}, md5($3)::uuid)`,
        assistant.username,
        assistant.name,
        collection,
      ]);
    }
  }
  for (const prompt of rows.prompts ?? []) {
    params.push([
      `INSERT INTO prompts (id, user_id, content, name) VALUES (${id('prompt')}, md5($1)::uuid, $3, $2)`,
      prompt.username,
      prompt.name,
      prompt.content,
    ]);
    for (const workspace of prompt.workspaces) {
      params.push([
        `INSERT INTO prompt_workspaces (user_id, prompt_id, workspace_id)
         VALUES (md5($1)::uuid, ${id('prompt')}, md5('workspace:' || $1 || ':' || $3)::uuid)`,
        prompt.username,
        prompt.name,
        workspace,
      ]);
    }
  }
  for (const chat of rows.chats ?? []) {
    params.push([
      `INSERT INTO chats (id, user_id, workspace_id, assistant_id, folder_id, created_at, context_length,
         embeddings_provider, include_profile_context, include_workspace_instructions, model, name, prompt, temperature)
       VALUES (${id('chat')}, md5($1)::uuid, md5('workspace:' || $1 || ':' || $3)::uuid,
         CASE WHEN $4::text IS NULL THEN NULL ELSE md5('assistant:' || $1 || ':' || $4)::uuid END,
         CASE WHEN $5::text IS NULL THEN NULL ELSE md5('folder:' || $1 || ':' || $5)::uuid END,
         COALESCE($6::timestamptz, now()), $7, 'openai', true, true, $8, $2, $9, $10)`,
      chat.username,
      chat.name,
      chat.workspace,
      chat.assistant ?? null,
      chat.folder ?? null,
      chat.createdAt ?? null,
      chat.contextLength ?? 4096,
      chat.model,
      chat.prompt ?? '',
      chat.temperature ?? 0.5,
    ]);
    chat.messages.forEach((message, index) => {
      params.push([
        `INSERT INTO messages (chat_id, user_id, content, image_paths, model, role, sequence_number)
         VALUES (${id('chat')}, md5($1)::uuid, $3, $4, $5, $6, $7)`,
        chat.username,
        chat.name,
        message.content,
        message.images ?? [],
        message.model ?? chat.model,
        message.role,
        message.sequence ?? index,
      ]);
    });
    for (const file of chat.files ?? []) {
      params.push([
        `INSERT INTO chat_files (user_id, chat_id, file_id) VALUES (md5($1)::uuid, ${id('chat')}, md5($3)::uuid)`,
        chat.username,
        chat.name,
        file,
      ]);
    }
  }
  return params;
}

/**
 * Chatbot-UI's history tables as its migrations make them (supabase/migrations: workspaces, folders,
 * presets, assistants, chats, messages, prompts, assistant files/collections), with their foreign
 * keys among themselves; `auth.users` is not there, so `user_id` references nothing.
 */
const CHATBOT_UI_HISTORY_TABLES = `
  CREATE TABLE workspaces (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at timestamptz,
    sharing text NOT NULL DEFAULT 'private',
    default_context_length integer NOT NULL,
    default_model text NOT NULL CHECK (char_length(default_model) <= 1000),
    default_prompt text NOT NULL CHECK (char_length(default_prompt) <= 100000),
    default_temperature real NOT NULL,
    description text NOT NULL CHECK (char_length(description) <= 500),
    embeddings_provider text NOT NULL CHECK (char_length(embeddings_provider) <= 1000),
    include_profile_context boolean NOT NULL,
    include_workspace_instructions boolean NOT NULL,
    instructions text NOT NULL CHECK (char_length(instructions) <= 1500),
    is_home boolean NOT NULL DEFAULT false,
    name text NOT NULL CHECK (char_length(name) <= 100)
  );
  CREATE UNIQUE INDEX idx_unique_home_workspace_per_user ON workspaces (user_id) WHERE is_home;
  CREATE TABLE folders (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL,
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at timestamptz,
    name text NOT NULL,
    description text NOT NULL,
    type text NOT NULL
  );
  CREATE TABLE presets (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL,
    folder_id uuid REFERENCES folders (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at timestamptz,
    sharing text NOT NULL DEFAULT 'private',
    context_length int NOT NULL,
    description text NOT NULL CHECK (char_length(description) <= 500),
    embeddings_provider text NOT NULL CHECK (char_length(embeddings_provider) <= 1000),
    include_profile_context boolean NOT NULL,
    include_workspace_instructions boolean NOT NULL,
    model text NOT NULL CHECK (char_length(model) <= 1000),
    name text NOT NULL CHECK (char_length(name) <= 100),
    prompt text NOT NULL CHECK (char_length(prompt) <= 100000),
    temperature real NOT NULL
  );
  CREATE TABLE preset_workspaces (
    user_id uuid NOT NULL,
    preset_id uuid NOT NULL REFERENCES presets (id) ON DELETE CASCADE,
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    PRIMARY KEY (preset_id, workspace_id),
    created_at timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at timestamptz
  );
  CREATE TABLE assistants (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL,
    folder_id uuid REFERENCES folders (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at timestamptz,
    sharing text NOT NULL DEFAULT 'private',
    context_length int NOT NULL,
    description text NOT NULL CHECK (char_length(description) <= 500),
    embeddings_provider text NOT NULL CHECK (char_length(embeddings_provider) <= 1000),
    include_profile_context boolean NOT NULL,
    include_workspace_instructions boolean NOT NULL,
    model text NOT NULL CHECK (char_length(model) <= 1000),
    name text NOT NULL CHECK (char_length(name) <= 100),
    image_path text NOT NULL CHECK (char_length(image_path) <= 1000),
    prompt text NOT NULL CHECK (char_length(prompt) <= 100000),
    temperature real NOT NULL
  );
  CREATE TABLE assistant_workspaces (
    user_id uuid NOT NULL,
    assistant_id uuid NOT NULL REFERENCES assistants (id) ON DELETE CASCADE,
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    PRIMARY KEY (assistant_id, workspace_id),
    created_at timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at timestamptz
  );
  CREATE TABLE assistant_collections (
    user_id uuid NOT NULL,
    assistant_id uuid NOT NULL REFERENCES assistants (id) ON DELETE CASCADE,
    collection_id uuid NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
    PRIMARY KEY (assistant_id, collection_id),
    created_at timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at timestamptz
  );
  CREATE TABLE chats (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL,
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    assistant_id uuid REFERENCES assistants (id) ON DELETE CASCADE,
    folder_id uuid REFERENCES folders (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at timestamptz,
    sharing text NOT NULL DEFAULT 'private',
    context_length int NOT NULL,
    embeddings_provider text NOT NULL CHECK (char_length(embeddings_provider) <= 1000),
    include_profile_context boolean NOT NULL,
    include_workspace_instructions boolean NOT NULL,
    model text NOT NULL CHECK (char_length(model) <= 1000),
    name text NOT NULL CHECK (char_length(name) <= 200),
    prompt text NOT NULL CHECK (char_length(prompt) <= 100000),
    temperature real NOT NULL
  );
  CREATE TABLE chat_files (
    user_id uuid NOT NULL,
    chat_id uuid NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    file_id uuid NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    PRIMARY KEY (chat_id, file_id),
    created_at timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at timestamptz
  );
  CREATE TABLE messages (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    chat_id uuid NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    user_id uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at timestamptz,
    content text NOT NULL CHECK (char_length(content) <= 1000000),
    image_paths text[] NOT NULL,
    model text NOT NULL CHECK (char_length(model) <= 1000),
    role text NOT NULL CHECK (char_length(role) <= 1000),
    sequence_number int NOT NULL,
    CONSTRAINT check_image_paths_length CHECK (array_length(image_paths, 1) <= 16)
  );
  CREATE TABLE prompts (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL,
    folder_id uuid REFERENCES folders (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at timestamptz,
    sharing text NOT NULL DEFAULT 'private',
    content text NOT NULL CHECK (char_length(content) <= 100000),
    name text NOT NULL CHECK (char_length(name) <= 100)
  );
  CREATE TABLE prompt_workspaces (
    user_id uuid NOT NULL,
    prompt_id uuid NOT NULL REFERENCES prompts (id) ON DELETE CASCADE,
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    PRIMARY KEY (prompt_id, workspace_id),
    created_at timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at timestamptz
  );`;

export interface FileRow {
  username: string;
  /** Unique in the fixture: it also makes the file's id. */
  name: string;
  chunks: string[];
}

export interface CollectionRow {
  username: string;
  name: string;
  /** File names. */
  files: string[];
}

/**
 * Chatbot-UI's `files`, `file_items`, `collections` and `collection_files` as its migrations make
 * them, except the two embedding columns: they are pgvector `vector(384)` and `vector(1536)` there,
 * and the test server has no pgvector. The importer never reads them (texts are embedded again).
 */
const CHATBOT_UI_FILE_TABLES = `
  CREATE TABLE files (
    id uuid NOT NULL PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL,
    folder_id uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz,
    sharing text NOT NULL DEFAULT 'private',
    description text NOT NULL CHECK (char_length(description) <= 500),
    file_path text NOT NULL CHECK (char_length(file_path) <= 1000),
    name text NOT NULL CHECK (char_length(name) <= 100),
    size int NOT NULL,
    tokens int NOT NULL,
    type text NOT NULL CHECK (char_length(type) <= 100)
  );
  CREATE TABLE file_items (
    id uuid NOT NULL PRIMARY KEY DEFAULT gen_random_uuid(),
    file_id uuid NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    user_id uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz,
    sharing text NOT NULL DEFAULT 'private',
    content text NOT NULL,
    local_embedding real[],
    openai_embedding real[],
    tokens int NOT NULL
  );
  CREATE TABLE collections (
    id uuid NOT NULL PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL,
    folder_id uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz,
    sharing text NOT NULL DEFAULT 'private',
    description text NOT NULL CHECK (char_length(description) <= 500),
    name text NOT NULL CHECK (char_length(name) <= 100)
  );
  CREATE TABLE collection_files (
    user_id uuid NOT NULL,
    collection_id uuid NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
    file_id uuid NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz,
    PRIMARY KEY (collection_id, file_id)
  );`;
