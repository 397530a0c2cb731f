import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    reporters: ['default', './test/support/postgres-guard-reporter.ts'],
    pool: 'forks',
    // Two cores: PGlite instances and child processes are CPU-heavy, more workers only contend.
    maxWorkers: 2,
    testTimeout: 90_000,
    hookTimeout: 90_000,
    // expect.poll waits for what a user waits for (a reply, a reload); on a busy two-core box that can
    // take more than vitest's default second.
    expect: { poll: { timeout: 10_000 } },
    projects: [
      {
        extends: true,
        test: {
          name: 'server',
          include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
          exclude: ['test/web/bundle-size.test.ts', '**/node_modules/**'],
          globalSetup: ['test/support/build-server.ts', 'test/support/global-setup.ts'],
        },
      },
      {
        // The web UI's logic (SSE parsing, markdown, highlighting, forms): pure functions, no database,
        // so no PostgreSQL or PGlite is started for them.
        extends: true,
        test: {
          name: 'web',
          include: ['web/**/*.test.{ts,tsx}', 'test/web/bundle-size.test.ts'],
          testTimeout: 10_000,
        },
      },
    ],
  },
});
