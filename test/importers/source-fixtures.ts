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
    }`;
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
  return postgresFixture('cbui', script, params);
}
