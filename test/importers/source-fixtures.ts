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
    ${options.files ? CHATBOT_UI_FILE_TABLES : ''}`;
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
  return postgresFixture('cbui', script, params);
}

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
