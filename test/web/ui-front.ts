import fs from 'node:fs';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.svg': 'image/svg+xml',
};

/**
 * For a server that does not serve the UI yet: web/dist at `/` (index.html for unknown paths, as
 * an SPA needs) and everything under /api, /v1 and /hooks proxied, streamed, to Keyway. Once
 * `keyway serve` serves web/dist itself the test uses the server directly and this is not started.
 */
export async function startUiFront(
  distDir: string,
  keywayUrl: string,
): Promise<{ url: string; close(): Promise<void> }> {
  const upstream = new URL(keywayUrl);
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://front');
    if (/^\/(api|v1|hooks)(\/|$)/.test(url.pathname)) {
      const forward = request(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: req.url,
          headers: req.headers,
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      forward.on('error', () => res.destroy());
      res.on('close', () => forward.destroy());
      req.pipe(forward);
      return;
    }
    const file = path.join(distDir, path.normalize(url.pathname).replace(/^(\.\.[/\\])+/, ''));
    const target =
      file.startsWith(distDir) && fs.existsSync(file) && fs.statSync(file).isFile()
        ? file
        : path.join(distDir, 'index.html');
    res.writeHead(200, { 'content-type': TYPES[path.extname(target)] ?? 'application/octet-stream' });
    fs.createReadStream(target).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
