import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fakeKey, startGatewayHarness, type GatewayHarness } from './support/gateway-harness.ts';
import { BACKENDS } from './support/test-database.ts';

/**
 * Issue 11, point 3: provider error text relayed to users never holds an upstream body from a
 * non-provider path. A credential's base URL points at one loopback server that answers whatever
 * the test plans; each provider's error is read through the real paths, `/v1/chat/completions`
 * (streamed and not) and `GET /api/credentials/:id/models` (+ the key test), over a socket.
 */

/** What the upstream answers next, to every request. */
interface Answer {
  status: number;
  contentType: string;
  body: string;
}

interface ProviderCase {
  provider: string;
  label: string;
  settings: (url: string) => Record<string, unknown>;
  key: string;
  /** The provider's own error envelope around a message. */
  envelope: (status: number, message: string) => unknown;
  /** JSON error bodies of other shapes: any web service's, or another provider's. */
  foreign: (canary: string) => unknown[];
}

const anyServiceShapes = (canary: string) => [
  { message: canary },
  { detail: canary },
  { error: canary },
  { status: 'error', message: canary, stack: `Error: ${canary}` },
];

const openAiEnvelope = (_status: number, message: string) => ({
  error: { message, type: 'invalid_request_error', param: null, code: null },
});

const cases: ProviderCase[] = [
  {
    provider: 'openai',
    label: 'OpenAI',
    settings: (url) => ({ baseUrl: `${url}/v1` }),
    key: fakeKey('sk-proj-'),
    envelope: openAiEnvelope,
    foreign: anyServiceShapes,
  },
  {
    provider: 'azure-openai',
    label: 'Azure OpenAI',
    settings: (url) => ({ endpoint: url }),
    key: randomBytes(16).toString('hex'),
    envelope: (status, message) => ({ error: { code: String(status), message } }),
    foreign: anyServiceShapes,
  },
  {
    provider: 'anthropic',
    label: 'Anthropic',
    settings: (url) => ({ baseUrl: url }),
    key: fakeKey('sk-ant-api03-'),
    envelope: (status, message) => ({
      type: 'error',
      error: { type: status === 401 ? 'authentication_error' : 'invalid_request_error', message },
      request_id: 'req_011CRelayRelayRelay',
    }),
    foreign: (canary) => [...anyServiceShapes(canary), openAiEnvelope(400, canary)],
  },
  {
    provider: 'google',
    label: 'Google Gemini',
    settings: (url) => ({ baseUrl: url }),
    key: `AIza${randomBytes(18).toString('base64url')}`,
    envelope: (status, message) => ({
      error: { code: status, message, status: status === 401 ? 'UNAUTHENTICATED' : 'INVALID_ARGUMENT' },
    }),
    foreign: (canary) => [...anyServiceShapes(canary), openAiEnvelope(400, canary)],
  },
];

describe.each(BACKENDS)('provider error text relayed to users [%s]', (backend) => {
  let upstream: Server;
  let upstreamUrl: string;
  let answer: Answer;
  let gateway: GatewayHarness;
  let admin: { id: string; token: string };
  const credentials = new Map<string, string>();

  beforeAll(async () => {
    upstream = createServer((request, response) => {
      request.resume();
      response.writeHead(answer.status, { 'content-type': answer.contentType }).end(answer.body);
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    // No retries: every answer here is final, and a retried 5xx would only slow the test.
    gateway = await startGatewayHarness(backend, { env: { KEYWAY_UPSTREAM_RETRIES: '0' } });
    admin = await gateway.user('root', 'admin');
    for (const providerCase of cases) {
      const saved = await gateway.credential(admin.token, {
        name: providerCase.provider,
        provider: providerCase.provider,
        secret: providerCase.key,
        settings: providerCase.settings(upstreamUrl),
      });
      credentials.set(providerCase.provider, saved.id);
    }
  });
  afterAll(async () => {
    await gateway.stop();
    await new Promise((resolve) => upstream.close(resolve));
  });
  beforeEach(() => {
    answer = { status: 500, contentType: 'text/plain', body: 'no answer planned' };
  });

  /** The raw answers of every path that relays a provider's error, for the credential. */
  async function everyAnswer(
    providerCase: ProviderCase,
  ): Promise<{ where: string; status: number; text: string }[]> {
    const id = credentials.get(providerCase.provider)!;
    const answers = [];
    for (const stream of [false, true]) {
      const response = await fetch(`${gateway.server.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${admin.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          model: `${providerCase.provider}/some-model`,
          messages: [{ role: 'user', content: 'hi' }],
          stream,
        }),
      });
      answers.push({ where: `/v1 stream=${stream}`, status: response.status, text: await response.text() });
    }
    if (providerCase.provider === 'anthropic') {
      // Anthropic's own format on /v1/messages is relayed, not translated: its errors take the rule too.
      for (const stream of [false, true]) {
        const response = await fetch(`${gateway.server.url}/v1/messages`, {
          method: 'POST',
          headers: { authorization: `Bearer ${admin.token}`, 'content-type': 'application/json' },
          body: JSON.stringify({
            model: 'anthropic/some-model',
            max_tokens: 16,
            messages: [{ role: 'user', content: 'hi' }],
            stream,
          }),
        });
        answers.push({
          where: `/v1/messages stream=${stream}`,
          status: response.status,
          text: await response.text(),
        });
      }
    }
    for (const [method, path] of [
      ['GET', `/api/credentials/${id}/models`],
      ['POST', `/api/credentials/${id}/test`],
    ] as const) {
      const response = await fetch(`${gateway.server.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${admin.token}` },
      });
      answers.push({ where: `${method} ${path}`, status: response.status, text: await response.text() });
    }
    return answers;
  }

  describe.each(cases)('$label', (providerCase) => {
    it('describes an HTML page (another service behind the base URL), never quoting it', async () => {
      const canary = `INTERNAL-ADMIN-PAGE secret=${randomBytes(8).toString('hex')}`;
      answer = {
        status: 404,
        contentType: 'text/html; charset=utf-8',
        body: `<html><body>${canary}</body></html>`,
      };

      for (const { where, status, text } of await everyAnswer(providerCase)) {
        expect(status, where).toBeGreaterThanOrEqual(400);
        expect(text, where).not.toContain(canary);
        expect(text, where).not.toContain('secret=');
        expect(text, where).toMatch(
          /answered HTTP 404 with a body that is not an? [\w -]+ error \(\d+ bytes of /,
        );
        expect(text, where).toContain('check the credential');
      }
    });

    it('describes JSON of a shape that is not its error envelope, never quoting it', async () => {
      const canary = `internal-note-${randomBytes(8).toString('hex')}`;
      for (const body of providerCase.foreign(canary)) {
        answer = { status: 400, contentType: 'application/json', body: JSON.stringify(body) };

        for (const { where, text } of await everyAnswer(providerCase)) {
          expect(text, `${where} ${answer.body}`).not.toContain(canary);
          expect(text, `${where} ${answer.body}`).toMatch(
            /with a body that is not an? [\w -]+ error \(\d+ bytes of (JSON|application\/json)\)/,
          );
        }
      }
    });

    it("relays the provider's own error message", async () => {
      const message = `The model some-model does not exist (${randomBytes(4).toString('hex')}).`;
      answer = {
        status: 400,
        contentType: 'application/json',
        body: JSON.stringify(providerCase.envelope(400, message)),
      };

      for (const { where, text } of await everyAnswer(providerCase)) {
        expect(text, where).toContain(message);
      }
    });

    it("never shows the credential's key, even when the provider's message echoes it", async () => {
      answer = {
        status: 401,
        contentType: 'application/json',
        body: JSON.stringify(
          providerCase.envelope(401, `Incorrect API key provided: ${providerCase.key}. Check it.`),
        ),
      };

      for (const { where, text } of await everyAnswer(providerCase)) {
        expect(text, where).not.toContain(providerCase.key);
        expect(text, where).toContain('Incorrect API key provided: [REDACTED]. Check it.');
      }
    });

    it("never shows the credential's key when the provider's JSON spells it with escapes", async () => {
      // JSON.stringify writes no escapes for letters: each character of the key is escaped by hand,
      // so the raw body never holds the key and only the decoded message does.
      const escaped = [...providerCase.key]
        .map((char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`)
        .join('');
      answer = {
        status: 401,
        contentType: 'application/json',
        body: JSON.stringify(
          providerCase.envelope(401, 'Incorrect API key provided: KEY. Check it.'),
        ).replace('KEY', escaped),
      };
      expect(answer.body).not.toContain(providerCase.key);

      for (const { where, text } of await everyAnswer(providerCase)) {
        expect(text, where).not.toContain(providerCase.key);
        expect(text, where).toContain('Incorrect API key provided: [REDACTED]. Check it.');
      }
    });
  });

  it('keeps NUL and control characters of a provider message out of the answer and the stored check', async () => {
    const providerCase = cases[0]!;
    answer = {
      status: 401,
      contentType: 'application/json',
      body: JSON.stringify(providerCase.envelope(401, 'bad\u0000 key\u001b[31m\u202Eyek\nplease')),
    };

    for (const { where, text } of await everyAnswer(providerCase)) {
      expect(text, where).toContain('bad key[31myek please');
      expect(text, where).not.toMatch(/\\u0000|\\u001b|\\u202e|\\n/i);
    }
    const listed = await gateway.call('GET', '/api/credentials', { token: admin.token });
    expect(JSON.stringify(listed.body)).toContain('bad key[31myek please');
  });
});

describe.each(BACKENDS)('Ollama error text [%s]', (backend) => {
  let upstream: Server;
  let answer: Answer;
  let gateway: GatewayHarness;
  let admin: { id: string; token: string };
  let id: string;

  beforeAll(async () => {
    upstream = createServer((request, response) => {
      request.resume();
      response.writeHead(answer.status, { 'content-type': answer.contentType }).end(answer.body);
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    gateway = await startGatewayHarness(backend, { env: { KEYWAY_UPSTREAM_RETRIES: '0' } });
    admin = await gateway.user('root', 'admin');
    ({ id } = await gateway.credential(admin.token, {
      name: 'local',
      provider: 'ollama',
      settings: { baseUrl: url },
    }));
  });
  afterAll(async () => {
    await gateway.stop();
    await new Promise((resolve) => upstream.close(resolve));
  });

  it("relays `{error: string}`, Ollama's native envelope, when listing models; describes `{message}`", async () => {
    answer = {
      status: 500,
      contentType: 'application/json',
      body: JSON.stringify({ error: 'llama runner crashed' }),
    };
    const relayed = await gateway.call('GET', `/api/credentials/${id}/models`, { token: admin.token });
    expect(relayed.body.error.message).toContain('Ollama answered HTTP 500: llama runner crashed');

    const canary = `internal-${randomBytes(6).toString('hex')}`;
    answer = { status: 500, contentType: 'application/json', body: JSON.stringify({ message: canary }) };
    const described = await gateway.call('GET', `/api/credentials/${id}/models`, { token: admin.token });
    expect(described.text).not.toContain(canary);
    expect(described.body.error.message).toMatch(
      /with a body that is not an Ollama error \(\d+ bytes of application\/json\)/,
    );
  });
});
