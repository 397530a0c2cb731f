import http from 'node:http';
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { startHttpServer } from '../src/http/http-server.ts';

function get(url: string, agent: http.Agent): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent }, (response) => {
        let body = '';
        response.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
        response.on('end', () => resolve({ status: response.statusCode!, body }));
      })
      .on('error', reject);
  });
}

describe('graceful HTTP shutdown', () => {
  it('finishes in-flight requests, closes idle keep-alive connections and refuses new ones', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const app = new Hono()
      .get('/slow', async (c) => {
        await gate;
        return c.text('finished');
      })
      .get('/fast', (c) => c.text('fast'));
    const server = await startHttpServer(app.fetch, { port: 0, host: '127.0.0.1' });
    const agent = new http.Agent({ keepAlive: true });
    const idleAgent = new http.Agent({ keepAlive: true });
    // An idle keep-alive connection must not hold the shutdown open.
    expect((await get(`${server.url}/fast`, idleAgent)).body).toBe('fast');

    const inFlight = get(`${server.url}/slow`, agent);
    await new Promise((resolve) => setTimeout(resolve, 100));
    let closed = false;
    const closing = server.close(10_000).then((result) => {
      closed = true;
      return result;
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    await expect(get(`${server.url}/fast`, new http.Agent())).rejects.toThrow(/ECONNREFUSED/);
    expect(closed).toBe(false);

    release();
    expect(await inFlight).toEqual({ status: 200, body: 'finished' });
    // Done as soon as the last response is: not after a keep-alive timeout (5 s).
    const finished = Date.now();
    expect(await closing).toEqual({ forced: false });
    expect(Date.now() - finished).toBeLessThan(1_000);
    agent.destroy();
    idleAgent.destroy();
  });

  it('cuts requests that outlive the shutdown timeout', async () => {
    const app = new Hono().get('/forever', () => new Promise<Response>(() => {}));
    const server = await startHttpServer(app.fetch, { port: 0, host: '127.0.0.1' });
    const hanging = get(`${server.url}/forever`, new http.Agent());
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await server.close(300)).toEqual({ forced: true });
    await expect(hanging).rejects.toThrow(/socket hang up|ECONNRESET/);
  });
});
