import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI, { NotFoundError } from 'openai';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openTestDatabase } from './support/test-database.ts';
import { assembleKeyway, type Keyway } from '../src/main.ts';
import type { Database } from '../src/db/database.ts';
import { createLogger } from '../src/observability/logger.ts';
import { SecretRedactor } from '../src/observability/secret-redactor.ts';
import { startFakeOpenAiChat, type FakeOpenAiChat } from './fakes/fake-openai-chat.ts';
import { startFakeProvider, type FakeProvider } from './fakes/fake-providers.ts';
import { fakeKey, startGatewayHarness, type GatewayHarness } from './support/gateway-harness.ts';
import { BACKENDS } from './support/test-database.ts';

/**
 * One OpenAI-compatible upstream that answers both `GET /v1/models` (the listing fake: gpt-4o-mini and
 * gpt-4o) and `POST /v1/chat/completions` (the chat fake), by passing each request to the fake that
 * speaks it.
 */
async function startUpstream(key: string): Promise<{
  url: string;
  chat: FakeOpenAiChat;
  listing: FakeProvider;
  close(): Promise<void>;
}> {
  const chat = await startFakeOpenAiChat({ validKeys: [key] });
  const listing = await startFakeProvider({ wire: 'openai', validKeys: [key] });
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const base = req.method === 'GET' ? listing.url : chat.url;
      const headers: Record<string, string> = {};
      for (const name of ['authorization', 'content-type'])
        if (typeof req.headers[name] === 'string') headers[name] = req.headers[name];
      fetch(base.replace(/\/v1$/, '') + req.url, {
        method: req.method ?? 'GET',
        headers,
        ...(chunks.length > 0 ? { body: Buffer.concat(chunks) } : {}),
      })
        .then(async (answer) => {
          res.writeHead(answer.status, {
            'content-type': answer.headers.get('content-type') ?? 'text/plain',
          });
          res.end(Buffer.from(await answer.arrayBuffer()));
        })
        .catch(() => res.destroy());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    chat,
    listing,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await chat.close();
      await listing.close();
    },
  };
}

/** Polls `check` every 50 ms until it returns true, for at most `ms`; the time it took. */
async function within(ms: number, check: () => Promise<boolean>): Promise<number> {
  const start = Date.now();
  for (;;) {
    if (await check()) return Date.now() - start;
    if (Date.now() - start > ms) throw new Error(`not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const ask = (client: OpenAI, model: string) =>
  client.chat.completions.create({ model, messages: [{ role: 'user', content: 'Hi' }] });

/** What asking for `model` gives: the answer's text, or the error's status, code and message. */
async function outcome(client: OpenAI, model: string): Promise<string> {
  try {
    return (await ask(client, model)).choices[0]!.message.content ?? '';
  } catch (error) {
    if (error instanceof OpenAI.APIError) return `${error.status} ${error.code}: ${error.message}`;
    throw error;
  }
}

describe.each(BACKENDS)('sharing: who sees and uses a credential, and which models [%s]', (backend) => {
  const key = fakeKey();
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  let gateway: GatewayHarness;
  type Person = { id: string; token: string };
  let root: Person, olga: Person, mia: Person;
  /** olga's credential (named "work"); a fresh one per test. */
  let work: string;
  let counter = 0;
  let name: string;

  const call = (person: Person, method: string, path: string, body?: unknown) =>
    gateway.call(method, path, { token: person.token, ...(body === undefined ? {} : { body }) });
  const grant = async (credentialId: string, body: Record<string, unknown>) => {
    const created = await call(olga, 'POST', `/api/credentials/${credentialId}/grants`, body);
    expect(created.status, created.text).toBe(201);
    return created.body.id as string;
  };
  /** The `<credential>/<model>` ids `/v1/models` and the chat's `/api/models` list for a token. */
  const listed = async (token: string) => {
    const v1 = await gateway.call('GET', '/v1/models', { token });
    const chat = await gateway.call('GET', '/api/models', { token });
    expect([v1.status, chat.status]).toEqual([200, 200]);
    return {
      v1: v1.body.data.map((m: { id: string }) => m.id).filter((id: string) => id.startsWith(`${name}/`)),
      chat: chat.body.map((m: { id: string }) => m.id).filter((id: string) => id.startsWith(`${name}/`)),
    };
  };

  beforeAll(async () => {
    upstream = await startUpstream(key);
    gateway = await startGatewayHarness(backend);
    root = await gateway.user('root', 'admin');
    olga = await gateway.user('olga');
    mia = await gateway.user('mia');
  });
  afterAll(async () => {
    await gateway?.stop();
    await upstream?.close();
  });
  beforeEach(async () => {
    // A credential of a new name per test: nothing one test granted reaches the next.
    name = `work${++counter}`;
    work = (
      await gateway.credential(olga.token, {
        name,
        provider: 'openai',
        secret: key,
        settings: { baseUrl: upstream.url },
      })
    ).id;
  });
  afterEach(() => {
    expect(gateway.logLines.join('\n').includes(key)).toBe(false);
  });

  it('a member without a grant cannot use, list or even tell apart a credential that exists from one that does not', async () => {
    const client = gateway.client(mia.token);
    const refused = await ask(client, `${name}/gpt-4o-mini`).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(NotFoundError);
    expect((refused as NotFoundError).code).toBe('model_not_found');
    // The same words as for a credential name nobody has.
    const missing = await outcome(client, 'nowhere/gpt-4o-mini');
    expect(await outcome(client, `${name}/gpt-4o-mini`)).toBe(missing.replace('"nowhere"', `"${name}"`));
    expect(await listed(mia.token)).toEqual({ v1: [], chat: [] });
    // The owner lists both models and uses them.
    expect(await listed(olga.token)).toEqual({
      v1: [`${name}/gpt-4o-mini`, `${name}/gpt-4o`],
      chat: [`${name}/gpt-4o-mini`, `${name}/gpt-4o`],
    });
    expect(await outcome(gateway.client(olga.token), `${name}/gpt-4o`)).toBe('Hello from the fake.');
  });

  it('a grant limited to some models: those work, any other is refused exactly like a model that does not exist', async () => {
    await grant(work, { subject: { type: 'user', id: mia.id }, models: ['*-mini'] });
    const client = gateway.client(mia.token);
    upstream.chat.requests.length = 0;
    expect(await outcome(client, `${name}/gpt-4o-mini`)).toBe('Hello from the fake.');
    expect(upstream.chat.requests.map((r) => r.body.model)).toEqual(['gpt-4o-mini']);

    const outside = await ask(client, `${name}/gpt-4o`).catch((error: unknown) => error);
    expect(outside).toBeInstanceOf(NotFoundError);
    expect((outside as NotFoundError).code).toBe('model_not_found');
    // gpt-4o exists upstream, gpt-9-nothing does not: the caller cannot tell which is which.
    const nonexistent = await outcome(client, `${name}/gpt-9-nothing`);
    expect(nonexistent).toMatch(/^404 model_not_found: /);
    expect(await outcome(client, `${name}/gpt-4o`)).toBe(nonexistent.replace('gpt-9-nothing', 'gpt-4o'));
    // Neither was sent upstream.
    expect(upstream.chat.requests.map((r) => r.body.model)).toEqual(['gpt-4o-mini']);
  });

  // At d8acb65 the model lists ignored a grant's patterns: /v1/models, the chat's /api/models and
  // GET /v1/models/<id> showed models the caller is then refused.
  it('lists only the models a grant covers, in /v1/models, /v1/models/<id> and the chat’s model list', async () => {
    await grant(work, { subject: { type: 'user', id: mia.id }, models: ['gpt-4o-mini'] });
    const one = await gateway.call('GET', `/v1/models/${name}/gpt-4o`, { token: mia.token });
    const none = await gateway.call('GET', `/v1/models/${name}/gpt-9-nothing`, { token: mia.token });
    const allowed = await gateway.call('GET', `/v1/models/${name}/gpt-4o-mini`, { token: mia.token });
    expect(allowed.status).toBe(200);
    expect(await listed(mia.token)).toEqual({ v1: [`${name}/gpt-4o-mini`], chat: [`${name}/gpt-4o-mini`] });
    expect([one.status, one.text]).toEqual([none.status, none.text.replace('gpt-9-nothing', 'gpt-4o')]);
  });

  it('an expired grant reaches nobody; one that expires in a second stops working once it has', async () => {
    await grant(work, {
      subject: { type: 'user', id: mia.id },
      expiresAt: new Date(Date.now() - 60_000).toISOString(),
    });
    const client = gateway.client(mia.token);
    expect(await outcome(client, `${name}/gpt-4o-mini`)).toMatch(/^404 model_not_found: /);
    expect(await listed(mia.token)).toEqual({ v1: [], chat: [] });

    const expiresAt = Date.now() + 1_500;
    await grant(work, {
      subject: { type: 'user', id: mia.id },
      expiresAt: new Date(expiresAt).toISOString(),
    });
    expect(await outcome(client, `${name}/gpt-4o-mini`)).toBe('Hello from the fake.');
    expect((await listed(mia.token)).v1).toEqual([`${name}/gpt-4o-mini`, `${name}/gpt-4o`]);
    await within(5_000, async () => (await outcome(client, `${name}/gpt-4o-mini`)).startsWith('404 '));
    // Not before it expired.
    expect(Date.now()).toBeGreaterThanOrEqual(expiresAt);
    expect(await listed(mia.token)).toEqual({ v1: [], chat: [] });
  });

  it('a grant to a team reaches its members, and stops reaching someone removed from the team', async () => {
    const team = await call(root, 'POST', '/api/teams', { name: `Team ${name}` });
    expect(
      (await call(root, 'PUT', `/api/teams/${team.body.id}/members/${mia.id}`, { role: 'member' })).status,
    ).toBe(200);
    const client = gateway.client(mia.token);
    // Resolved (and cached) before the grant exists: the grant must still reach at once.
    expect(await outcome(client, `${name}/gpt-4o-mini`)).toMatch(/^404 /);
    await grant(work, { subject: { type: 'team', id: team.body.id } });
    expect(await outcome(client, `${name}/gpt-4o-mini`)).toBe('Hello from the fake.');
    expect((await listed(mia.token)).v1).toEqual([`${name}/gpt-4o-mini`, `${name}/gpt-4o`]);

    expect((await call(root, 'DELETE', `/api/teams/${team.body.id}/members/${mia.id}`)).status).toBe(204);
    const after = await ask(client, `${name}/gpt-4o-mini`).catch((error: unknown) => error);
    expect(after).toBeInstanceOf(NotFoundError);
    expect(await listed(mia.token)).toEqual({ v1: [], chat: [] });
    expect((await call(mia, 'GET', '/api/credentials')).body.map((c: { id: string }) => c.id)).not.toContain(
      work,
    );
  });

  it('a grant to an API token reaches requests made with that token only', async () => {
    const second = await call(mia, 'POST', '/api/tokens', { name: `second ${name}` });
    expect(second.status, second.text).toBe(201);
    // A token must be the granter's own (any, for an admin): olga cannot name mia's token.
    const refused = await call(olga, 'POST', `/api/credentials/${work}/grants`, {
      subject: { type: 'token', id: second.body.id },
    });
    expect([refused.status, refused.body.error.code]).toEqual([422, 'invalid_subject']);
    // An admin grants one of their own keys to that token of mia's.
    const admins = await gateway.credential(root.token, {
      name: `${name}-admins`,
      provider: 'openai',
      secret: key,
      settings: { baseUrl: upstream.url },
    });
    const granted = await call(root, 'POST', `/api/credentials/${admins.id}/grants`, {
      subject: { type: 'token', id: second.body.id },
    });
    expect(granted.status, granted.text).toBe(201);
    const model = `${name}-admins/gpt-4o-mini`;
    expect(await outcome(gateway.client(second.body.token), model)).toBe('Hello from the fake.');
    expect(await outcome(gateway.client(mia.token), model)).toMatch(/^404 model_not_found/);
    const ids = async (token: string) =>
      ((await gateway.call('GET', '/v1/models', { token })).body.data as { id: string }[])
        .map((m) => m.id)
        .filter((id) => id.startsWith(`${name}-admins/`));
    expect(await ids(second.body.token)).toEqual([model, `${name}-admins/gpt-4o`]);
    expect(await ids(mia.token)).toEqual([]);
  });

  // At d8acb65 a credential granted by another member counted as the caller's own (`ownerId !== null`):
  // by name the older one won, so the granter's key paid for the caller's requests, and by provider the
  // two were "ambiguous" under one name that could not be told apart.
  it('the caller’s own credential comes before a granted one of the same name or provider', async () => {
    const own = fakeKey();
    const mine = await startUpstream(own);
    try {
      // olga's `work…` (made first, in beforeEach) is granted to mia; mia then stores her own of that name.
      await grant(work, { subject: { type: 'user', id: mia.id } });
      await gateway.credential(mia.token, {
        name,
        provider: 'openai',
        secret: own,
        settings: { baseUrl: mine.url },
      });
      const client = gateway.client(mia.token);
      const byName = await outcome(client, `${name}/gpt-4o-mini`);
      const byProvider = await outcome(client, 'openai/gpt-4o-mini');
      expect({ byName, byProvider, reachedMine: mine.chat.requests.length }).toEqual({
        byName: 'Hello from the fake.',
        byProvider: 'Hello from the fake.',
        reachedMine: 2,
      });
    } finally {
      await mine.close();
    }
  });

  it.runIf(backend === 'postgres')(
    'two nodes on one database: a grant made or revoked on node 1 is seen on node 2 within 2 s',
    async () => {
      const second = await startSecondNode(gateway);
      try {
        const askOnNode2 = async () => {
          const response = await second.keyway.app.request('/v1/chat/completions', {
            method: 'POST',
            headers: { authorization: `Bearer ${mia.token}`, 'content-type': 'application/json' },
            body: JSON.stringify({
              model: `${name}/gpt-4o-mini`,
              messages: [{ role: 'user', content: 'Hi' }],
            }),
          });
          await response.text();
          return response.status;
        };
        // Node 2 resolves (and caches) "nothing" first.
        expect(await askOnNode2()).toBe(404);
        const granted = await grant(work, { subject: { type: 'user', id: mia.id } });
        const seenIn = await within(2_000, async () => (await askOnNode2()) === 200);
        const revoked = await call(olga, 'DELETE', `/api/credentials/${work}/grants/${granted}`);
        expect(revoked.status).toBe(204);
        const goneIn = await within(2_000, async () => (await askOnNode2()) === 404);
        console.log(
          `[postgres] node 2 saw the grant after ${seenIn} ms and its revocation after ${goneIn} ms`,
        );
      } finally {
        await second.close();
      }
    },
  );
});

/** A second Keyway over the same PostgreSQL database, with its own caches and change-feed connection. */
async function startSecondNode(first: GatewayHarness): Promise<{ keyway: Keyway; close(): Promise<void> }> {
  const database: Database = await openTestDatabase(first.target);
  const redactor = new SecretRedactor();
  const lines: string[] = [];
  const keyway = await assembleKeyway(database, first.config, {
    logger: createLogger({
      level: 'info',
      redactor,
      destination: { write: (line: string) => void lines.push(line) },
    }),
    redactor,
    version: 'test',
    membersUpstreamPolicy: { allowLoopback: true, allowPrivate: false },
  });
  await keyway.verifyVault();
  keyway.startBackground();
  keyway.readiness.markReady();
  return {
    keyway,
    async close() {
      await keyway.close();
      await database.close();
    },
  };
}
