import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * Once per test run: the tests spawn `bin/keyway`, which runs the bundled server in dist/bundle/.
 * Building it here when a source changed (esbuild, about a second) means no child process builds it,
 * or runs stale code; when dist/ is current this costs a few milliseconds.
 */
export default function setup(): void {
  const script = fileURLToPath(new URL('../../scripts/build-server.mjs', import.meta.url));
  execFileSync(process.execPath, [script, '--if-stale'], { stdio: 'inherit' });
}
