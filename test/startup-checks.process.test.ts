import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { callServer } from './support/process-keyway.ts';
import { ProcessPool, runKeyway } from './support/keyway-process.ts';
import { createTestDatabase, type TestDatabaseTarget } from './support/test-database.ts';

describe('start-up checks', () => {
  let pool: ProcessPool;
  let scratch: string;

  beforeEach(() => {
    pool = new ProcessPool();
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'keyway-start-'));
  });
  afterEach(async () => {
    await pool.stopAll();
    fs.rmSync(scratch, { recursive: true, force: true });
  });

  it('refuses a port in use with port_in_use naming --port, before creating a data directory or a master key', async () => {
    const holder = net.createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const port = (holder.address() as net.AddressInfo).port;
    const dataDir = path.join(scratch, 'data');
    try {
      const result = await runKeyway(['serve', '--port', String(port), '--data', dataDir]);
      expect(result.code).toBe(13);
      expect(result.stderr).toContain(`[port_in_use] Port ${port} on 127.0.0.1 is already in use.`);
      expect(result.stderr).toContain('--port');
      expect(result.stderr).not.toMatch(/bug in Keyway/);
      expect(fs.existsSync(dataDir)).toBe(false);
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
  });

  describe('the first-run banner', () => {
    let target: TestDatabaseTarget;
    beforeEach(async () => {
      target = await createTestDatabase('embedded');
    });
    afterEach(async () => {
      await target.dispose();
    });

    it('prints a setup command whose password, pasted as is, is refused', async () => {
      const server = pool.serve(target.flags, target.env);
      const url = await server.ready();
      const command = /-d '(\{.*\})'/.exec(server.stderr);
      expect(command, server.stderr).not.toBeNull();
      const body = JSON.parse(command![1]!) as { token: string; username: string; password: string };
      expect(body.username).toBe('admin');

      const pasted = await callServer(url, 'POST', '/api/setup', { body });
      expect([pasted.status, pasted.body.error.code]).toEqual([400, 'validation_failed']);
      // Filled in, the same command works: the refused attempt did not use up the token.
      const filled = await callServer(url, 'POST', '/api/setup', {
        body: { ...body, password: 'a password of my own' },
      });
      expect(filled.status).toBe(201);
    });
  });
});
