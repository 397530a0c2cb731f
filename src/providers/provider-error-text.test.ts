import { describe, expect, it } from 'vitest';
import {
  describeBody,
  MAX_PROVIDER_MESSAGE_CHARS,
  providerErrorText,
  relayableMessage,
  type ErrorEnvelopeFormat,
} from './provider-error-text.ts';

const CANARY = 'INTERNAL-ADMIN-PAGE secret=hunter2';
const json = (value: unknown) => JSON.stringify(value);
const text = (format: ErrorEnvelopeFormat, status: number, body: string, contentType?: string) =>
  providerErrorText(format, { status, body, contentType }, { who: 'Someone', secret: 'sk-the-key-123' });

describe('providerErrorText: whose envelope is relayed', () => {
  it.each([
    [
      'openai',
      json({ error: { message: 'Bad temperature', type: 'invalid_request_error', param: null, code: 'x' } }),
      { type: 'invalid_request_error', code: 'x' },
    ],
    // Azure: code and message, no type; numeric codes (llama.cpp) are not kept as codes.
    [
      'openai',
      json({ error: { code: 'DeploymentNotFound', message: 'Bad temperature' } }),
      { type: null, code: 'DeploymentNotFound' },
    ],
    [
      'openai',
      json({ error: { code: 400, message: 'Bad temperature', type: 'invalid_request_error' } }),
      { type: 'invalid_request_error', code: null },
    ],
    // Mistral and older vLLM: the fields at the top level, tagged `object: "error"`.
    [
      'openai',
      json({ object: 'error', message: 'Bad temperature', type: 'invalid_model', param: null, code: '1500' }),
      { type: 'invalid_model', code: '1500' },
    ],
    ['ollama', json({ error: 'Bad temperature' }), { type: null, code: null }],
    [
      'ollama',
      json({ error: { message: 'Bad temperature', type: 'api_error' } }),
      { type: 'api_error', code: null },
    ],
    [
      'anthropic',
      json({
        type: 'error',
        error: { type: 'invalid_request_error', message: 'Bad temperature' },
        request_id: 'req_1',
      }),
      { type: 'invalid_request_error' },
    ],
    [
      'gemini',
      json({ error: { code: 400, message: 'Bad temperature', status: 'INVALID_ARGUMENT' } }),
      { code: 400, status: 'INVALID_ARGUMENT', reasons: [] },
    ],
    [
      'gemini',
      json([
        {
          error: {
            code: 400,
            message: 'Bad temperature',
            status: 'INVALID_ARGUMENT',
            details: [{ reason: 'API_KEY_INVALID' }, 'odd'],
          },
        },
      ]),
      { code: 400, status: 'INVALID_ARGUMENT', reasons: ['API_KEY_INVALID'] },
    ],
  ] as const)('%s: %s', (format, body, details) => {
    expect(text(format, 400, body)).toEqual({ relayed: true, message: 'Bad temperature', details });
  });

  it.each([
    // Any web service's error, or another provider's envelope, is not this provider's.
    ['openai', json({ message: CANARY })],
    ['openai', json({ detail: CANARY })],
    ['openai', json({ error: CANARY })],
    ['openai', json({ object: 'list', message: CANARY })],
    ['openai', json({ error: { detail: CANARY } })],
    ['ollama', json({ message: CANARY })],
    ['ollama', json({ error: CANARY, stack: CANARY })],
    ['anthropic', json({ error: { type: 'invalid_request_error', message: CANARY } })],
    ['anthropic', json({ error: { message: CANARY } })],
    ['gemini', json({ error: { message: CANARY } })],
    ['gemini', json({ error: { code: 400, message: CANARY } })],
    ['gemini', json({ error: { message: CANARY, status: 'INVALID_ARGUMENT' } })],
    ['anthropic', `<html><body>${CANARY}</body></html>`],
    ['gemini', CANARY],
    ['openai', json(CANARY)],
  ] as const)('%s describes %s', (format, body) => {
    const answer = text(format, 404, body);
    expect(answer.relayed).toBe(false);
    expect(answer.message).not.toContain('hunter2');
    expect(answer.message).toMatch(
      /^Someone answered HTTP 404 with a body that is not an? [\w -]+ error \(\d+ bytes of \w+\); check the credential's base URL\.$/,
    );
  });

  it('names the declared content type when the caller has it, and what the body looks like otherwise', () => {
    const page = `<html><body>${CANARY}</body></html>`;
    expect(text('anthropic', 404, page, 'text/html; charset=utf-8').message).toBe(
      "Someone answered HTTP 404 with a body that is not an Anthropic error (60 bytes of text/html); check the credential's base URL.",
    );
    expect(text('anthropic', 404, page).message).toContain('(60 bytes of HTML)');
    expect(describeBody('<!DOCTYPE html><p>x')).toBe('19 bytes of HTML');
    expect(describeBody('<?xml version="1.0"?><Error/>')).toBe('29 bytes of XML');
    expect(describeBody(' {"a":1}')).toBe('8 bytes of JSON');
    expect(describeBody('Bad Gateway')).toBe('11 bytes of text');
    expect(describeBody('é')).toBe('2 bytes of text');
  });

  it('says a 5xx page may pass (a proxy in front of the provider), and an empty body is only empty', () => {
    expect(text('openai', 502, '<html>Bad gateway</html>').message).toMatch(
      /\(24 bytes of HTML\); if it persists, check the credential's base URL\.$/,
    );
    expect(text('gemini', 503, ' \n')).toEqual({
      relayed: false,
      message: 'Someone answered HTTP 503 with an empty body.',
    });
  });

  it('falls back on the status when the envelope holds no message worth showing', () => {
    expect(
      text(
        'anthropic',
        529,
        json({ type: 'error', error: { type: 'overloaded_error', message: ' \u0000 ' } }),
      ),
    ).toEqual({
      relayed: true,
      message: 'Someone answered HTTP 529.',
      details: { type: 'overloaded_error' },
    });
  });

  it("scrubs the credential's key after JSON escapes are decoded", () => {
    // `\u0073` is `s`: the raw body never spells the key, the decoded message does.
    const body = '{"error":{"message":"Incorrect API key provided: \\u0073k-the-key-123."}}';
    expect(text('openai', 401, body).message).toBe('Incorrect API key provided: [REDACTED].');
  });
});

describe('relayableMessage', () => {
  it('removes NUL, control and bidirectional-override characters and collapses whitespace', () => {
    expect(
      relayableMessage('  bad\u0000 key\u001b[31m \u202Eyek\u202C\u2066x\u2069\r\n\tplease\u0085 '),
    ).toBe('bad key[31m yekx please');
  });

  it('replaces lone surrogates, which PostgreSQL cannot store as JSON', () => {
    expect(relayableMessage('a\uD800b\uDC00c 😀')).toBe('a\uFFFDb\uFFFDc 😀');
  });

  it(`keeps at most ${MAX_PROVIDER_MESSAGE_CHARS} characters, never half a surrogate pair`, () => {
    const long = relayableMessage('x'.repeat(5000));
    expect(long).toHaveLength(MAX_PROVIDER_MESSAGE_CHARS);
    expect(long.endsWith('x…')).toBe(true);

    const emoji = relayableMessage(`${'x'.repeat(MAX_PROVIDER_MESSAGE_CHARS - 2)}😀😀😀`);
    expect(emoji.endsWith('x…')).toBe(true);
    expect(emoji).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/);
  });

  it('scrubs the key wherever it falls, also when hidden by a control character or cut by the bound', () => {
    const secret = 'sk-the-key-123';
    expect(relayableMessage(`key sk-the-\u0000key-123 and ${secret}`, secret)).toBe(
      'key [REDACTED] and [REDACTED]',
    );
    const cut = relayableMessage(`${'x'.repeat(MAX_PROVIDER_MESSAGE_CHARS - 5)}${secret}`, secret);
    expect(cut).not.toContain('sk-th');
  });

  it('redacts anything shaped like a Google API key, whoever it belongs to', () => {
    // Built here, not written out: the shape of a Google key (AIza + 35 characters), no real one.
    const googleShaped = `AIza${'FAKE-not_a_key-'.repeat(3).slice(0, 35)}`;
    expect(relayableMessage(`API key not valid: ${googleShaped}.`)).toBe('API key not valid: [REDACTED].');
  });
});
