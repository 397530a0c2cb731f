import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { BUNDLED_WEB_DIR, loadConfig } from './config.ts';

describe('loadConfig', () => {
  it('defaults to the embedded database in ./data on 127.0.0.1:3000 with --migrate auto', () => {
    const config = loadConfig({}, {});
    expect(config).toMatchObject({
      port: 3000,
      host: '127.0.0.1',
      migrate: 'auto',
      database: { kind: 'embedded', dataDir: './data' },
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('lets flags override the environment', () => {
    const config = loadConfig(
      { port: '4000', migrate: 'check', 'database-url': 'postgres://u@db/x' },
      {
        PORT: '5000',
        KEYWAY_MIGRATE: 'off',
        DATABASE_URL: 'postgres://other/y',
        KEYWAY_DATA_DIR: '/srv/keyway',
      },
    );
    expect(config).toMatchObject({
      port: 4000,
      migrate: 'check',
      database: { kind: 'postgres', url: 'postgres://u@db/x' },
    });
  });

  it('reads every setting from the environment', () => {
    const config = loadConfig(
      {},
      {
        KEYWAY_DATA_DIR: '/srv/keyway',
        KEYWAY_LOG_LEVEL: 'debug',
        KEYWAY_BODY_LIMIT: '2048',
        KEYWAY_IMPORT_BODY_LIMIT: '4096',
        KEYWAY_SHUTDOWN_TIMEOUT: '3',
        KEYWAY_MIGRATION_LOCK_TIMEOUT: '120',
      },
    );
    expect(config).toMatchObject({
      database: { kind: 'embedded', dataDir: '/srv/keyway' },
      logLevel: 'debug',
      bodyLimitBytes: 2048,
      importBodyLimitBytes: 4096,
      shutdownTimeoutMs: 3000,
      migrationLockTimeoutMs: 120_000,
    });
  });

  it('lets admins reach loopback upstreams by default on the embedded database only', () => {
    expect(loadConfig({}, {}).upstream).toEqual({ allowLoopback: true, allowPrivate: false });
    const server = { DATABASE_URL: 'postgres://db/keyway' };
    expect(loadConfig({}, server).upstream).toEqual({ allowLoopback: false, allowPrivate: false });
    expect(loadConfig({}, { ...server, KEYWAY_UPSTREAM_ALLOW_LOOPBACK: 'true' }).upstream.allowLoopback).toBe(
      true,
    );
    expect(loadConfig({}, { KEYWAY_UPSTREAM_ALLOW_LOOPBACK: 'false' }).upstream.allowLoopback).toBe(false);
  });

  it("serves the package's web/dist unless KEYWAY_WEB_DIR names another directory", () => {
    expect(loadConfig({}, {}).webDir).toBe(BUNDLED_WEB_DIR);
    expect(BUNDLED_WEB_DIR).toBe(path.resolve(import.meta.dirname, '../../web/dist'));
    expect(loadConfig({}, { KEYWAY_WEB_DIR: '/srv/keyway-web' }).webDir).toBe('/srv/keyway-web');
  });

  it.each([
    [
      { migrate: 'sometimes' },
      {},
      'the migrate mode (--migrate / KEYWAY_MIGRATE) must be auto, check or off',
    ],
    [{ port: 'eighty' }, {}, 'the port (--port / PORT) must be a number'],
    [{}, { PORT: '70000' }, 'the port (--port / PORT) must be at most 65535'],
    [{}, { DATABASE_URL: 'mysql://x' }, 'must start with postgres://'],
    [{}, { KEYWAY_LOG_LEVEL: 'loud' }, 'KEYWAY_LOG_LEVEL must be one of'],
  ])('rejects %o %o with a message naming the setting', (flags, env, message) => {
    expect(() => loadConfig(flags, env)).toThrow(
      expect.objectContaining({ code: 'invalid_config', message: expect.stringContaining(message) }),
    );
  });
});
