import type { Reporter, TestCase, TestModule } from 'vitest/node';

/**
 * Fails the run when the PostgreSQL tier did not run: every test with `[postgres]` in its name must
 * have run and passed, and there must be some. CI relies on this, so PostgreSQL is never skipped
 * silently. Also prints the plain `N passed, N failed` line.
 */
export default class PostgresGuardReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    let postgresPassed = 0;
    // The `web` project (vitest.config.ts) holds the UI's pure-function tests: no database, no tag.
    let webPassed = 0;
    const postgresNotRun: string[] = [];
    for (const module of testModules) {
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') passed++;
        else if (state === 'failed') failed++;
        else skipped++;
        if (state === 'passed' && test.project.name === 'web') webPassed++;
        if (!isPostgres(test)) continue;
        if (state === 'passed') postgresPassed++;
        else if (state !== 'failed') postgresNotRun.push(test.fullName);
      }
    }
    // Enforced for the whole suite (`npm test`, CI); a developer's `npx vitest run one-file` is spared.
    const enforced = process.env.npm_lifecycle_event === 'test' || process.env.CI !== undefined;
    if (enforced && (postgresPassed === 0 || postgresNotRun.length > 0)) {
      process.exitCode = 1;
      console.error(
        `\nPostgreSQL guard: ${postgresPassed} PostgreSQL test(s) passed; ${postgresNotRun.length} did not run${postgresNotRun.length ? ': ' + postgresNotRun.slice(0, 5).join('; ') : ''}. The PostgreSQL tier must run (TEST_DATABASE_URL, or the throwaway server).`,
      );
    }
    console.log(
      `\ntests: ${passed} passed, ${failed} failed, ${skipped} skipped (PostgreSQL tier: ${postgresPassed} passed; web UI unit tests: ${webPassed} passed)`,
    );
  }
}

function isPostgres(test: TestCase): boolean {
  return test.fullName.includes('[postgres]');
}
