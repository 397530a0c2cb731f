import { randomBytes } from 'node:crypto';
import OpenAI, { APIError, toFile } from 'openai';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FAKE_GEMINI_KEY, startFakeGemini, type FakeGemini } from './fakes/fake-gemini.ts';
import { FAKE_TRANSCRIPT, startFakeOpenAiExtras, type FakeOpenAiExtras } from './fakes/fake-openai-extras.ts';
import { fakeKey, startGatewayHarness, type GatewayHarness } from './support/gateway-harness.ts';
import { BACKENDS } from './support/test-database.ts';

const MiB = 1024 * 1024;
/** Lowered from the 25 MiB default so the test moves a few MiB, not 25. */
const TRANSCRIPTION_LIMIT = 3 * MiB;

/** A WAV file of `size` bytes: a RIFF header, then 16-bit PCM noise (binary, as audio is). */
function wav(size = 8_000): Buffer {
  const file = randomBytes(size);
  file.write('RIFF', 0, 'latin1');
  file.writeUInt32LE(size - 8, 4);
  file.write('WAVEfmt ', 8, 'latin1');
  return file;
}

describe.each(BACKENDS)('/v1/audio/transcriptions with the official SDK [%s]', (backend) => {
  const key = `sk-canary-${randomBytes(16).toString('hex')}`;
  const groqKey = `gsk_canary${randomBytes(16).toString('hex')}`;
  let openAiWire: FakeOpenAiExtras;
  let groq: FakeOpenAiExtras;
  let gateway: GatewayHarness;
  let alice: { id: string; token: string };
  let client: OpenAI;

  beforeAll(async () => {
    openAiWire = await startFakeOpenAiExtras({ validKeys: [key] });
    groq = await startFakeOpenAiExtras({ validKeys: [groqKey], flavour: 'groq' });
  });
  afterAll(async () => {
    await openAiWire.close();
    await groq.close();
  });
  beforeEach(async () => {
    gateway = await startGatewayHarness(backend, {
      env: { KEYWAY_TRANSCRIPTION_BODY_LIMIT: String(TRANSCRIPTION_LIMIT) },
    });
    alice = await gateway.user('alice');
    await gateway.credential(alice.token, {
      name: 'work',
      provider: 'openai',
      secret: key,
      settings: { baseUrl: openAiWire.url },
    });
    await gateway.credential(alice.token, {
      name: 'fast',
      provider: 'groq',
      secret: groqKey,
      settings: { baseUrl: groq.url },
    });
    client = gateway.client(alice.token);
    for (const fake of [openAiWire, groq]) {
      fake.requests.length = 0;
      fake.setScript(() => ({ kind: 'answer' }));
    }
  });
  afterEach(async () => {
    await gateway.stop();
    // Canary: whatever the test did, no provider key reached a log line (debug level included).
    const logs = gateway.logLines.join('\n');
    for (const secret of [key, groqKey]) expect(logs.includes(secret)).toBe(false);
  });

  const upstreams = [
    {
      name: 'OpenAI',
      model: 'work/gpt-4o-transcribe',
      sentModel: 'gpt-4o-transcribe',
      fake: () => openAiWire,
    },
    {
      name: 'a Groq credential',
      model: 'fast/whisper-large-v3',
      sentModel: 'whisper-large-v3',
      fake: () => groq,
    },
  ];

  describe.each(upstreams)('through $name', (upstream) => {
    it('relays a json transcription, sending the file, its name and the provider model upstream', async () => {
      const audio = wav();
      const { data, response } = await client.audio.transcriptions
        .create({ file: await toFile(audio, 'voice-note.wav', { type: 'audio/wav' }), model: upstream.model })
        .withResponse();
      expect(data.text).toBe(FAKE_TRANSCRIPT);
      expect(response.headers.get('content-type')).toMatch(/^application\/json/);
      expect(response.headers.get('x-keyway-overhead-ms')).toMatch(/^\d+\.\d{2}$/);
      const sent = upstream.fake().requests.at(-1)!;
      expect(sent.fields).toEqual([['model', upstream.sentModel]]);
      expect(sent.files).toHaveLength(1);
      expect(sent.files![0]).toMatchObject({ field: 'file', name: 'voice-note.wav', type: 'audio/wav' });
      expect(sent.files![0]!.bytes.equals(audio)).toBe(true);
    });

    it('relays a text transcription as text', async () => {
      const { data, response } = await client.audio.transcriptions
        .create({ file: await toFile(wav(), 'a.wav'), model: upstream.model, response_format: 'text' })
        .withResponse();
      expect(data).toBe(`${FAKE_TRANSCRIPT}\n`);
      expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    });
  });

  it('passes every field on, repeated ones included, and keeps the subtitle content types', async () => {
    const verbose = await client.audio.transcriptions.create({
      file: await toFile(wav(), 'a.mp3'),
      model: 'work/whisper-1',
      response_format: 'verbose_json',
      timestamp_granularities: ['word', 'segment'],
      language: 'fr',
      prompt: 'Bonjour',
      temperature: 0.2,
    });
    expect(verbose).toMatchObject({ task: 'transcribe', language: 'fr', text: FAKE_TRANSCRIPT });
    const fields = openAiWire.requests.at(-1)!.fields!;
    expect(
      fields
        .filter(([name]) => name === 'timestamp_granularities[]')
        .map(([, value]) => value)
        .sort(),
    ).toEqual(['segment', 'word']);
    expect(Object.fromEntries(fields.filter(([name]) => !name.endsWith('[]')))).toEqual({
      model: 'whisper-1',
      response_format: 'verbose_json',
      language: 'fr',
      prompt: 'Bonjour',
      temperature: '0.2',
    });
    const vtt = await client.audio.transcriptions
      .create({ file: await toFile(wav(), 'a.wav'), model: 'work/whisper-1', response_format: 'vtt' })
      .withResponse();
    expect(vtt.response.headers.get('content-type')).toMatch(/^text\/vtt/);
    expect(vtt.data).toMatch(/^WEBVTT\n/);
  });

  it('relays transcript events when a stream is asked for, counting the usage of the final one', async () => {
    const stream = await client.audio.transcriptions.create({
      file: await toFile(wav(20_000), 'a.wav'),
      model: 'work/gpt-4o-transcribe',
      stream: true,
    });
    let text = '';
    let done: OpenAI.Audio.TranscriptionTextDoneEvent | undefined;
    for await (const event of stream) {
      if (event.type === 'transcript.text.delta') text += event.delta;
      if (event.type === 'transcript.text.done') done = event;
    }
    expect(text).toBe(FAKE_TRANSCRIPT);
    expect(done?.usage).toMatchObject({ input_tokens: 100, output_tokens: 6 });
    const usage = await gateway.call('GET', '/api/usage?groupBy=model', { token: alice.token });
    expect(usage.body.rows).toEqual([
      expect.objectContaining({ key: 'gpt-4o-transcribe', requests: 1, inputTokens: 100, outputTokens: 6 }),
    ]);
  });

  it('records token usage when the answer has it, and none when the provider bills by duration', async () => {
    // 40,000 bytes: the fake reports 20 s, 200 input tokens, 6 output tokens.
    await client.audio.transcriptions.create({
      file: await toFile(wav(40_000), 'a.wav'),
      model: 'work/gpt-4o-transcribe',
    });
    await client.audio.transcriptions.create({ file: await toFile(wav(), 'a.wav'), model: 'work/whisper-1' });
    const usage = await gateway.call('GET', '/api/usage?groupBy=model', { token: alice.token });
    const byModel = Object.fromEntries(usage.body.rows.map((row: { key: string }) => [row.key, row]));
    expect(byModel['gpt-4o-transcribe']).toMatchObject({ requests: 1, inputTokens: 200, outputTokens: 6 });
    expect(byModel['whisper-1']).toMatchObject({ requests: 1, inputTokens: 0, outputTokens: 0 });
  });

  it('takes a 2 MiB file under its own limit, while /v1/embeddings keeps 1 MiB; past the limit is a 413', async () => {
    const big = await client.audio.transcriptions.create({
      file: await toFile(wav(2 * MiB), 'long.wav'),
      model: 'work/gpt-4o-transcribe',
    });
    expect(big.text).toBe(FAKE_TRANSCRIPT);
    expect(openAiWire.requests.at(-1)!.files![0]!.bytes.length).toBe(2 * MiB);

    const json = await fetch(`${gateway.server.url}/v1/embeddings`, {
      method: 'POST',
      headers: { authorization: `Bearer ${alice.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'work/text-embedding-3-small', input: 'x'.repeat(2 * MiB) }),
    });
    expect(json.status).toBe(413);
    expect(await json.json()).toMatchObject({
      error: { code: 'payload_too_large', type: 'invalid_request_error' },
    });

    const tooBig = await client.audio.transcriptions
      .create({
        file: await toFile(wav(TRANSCRIPTION_LIMIT + MiB), 'longer.wav'),
        model: 'work/gpt-4o-transcribe',
      })
      .catch((error: unknown) => error);
    expect(tooBig).toBeInstanceOf(APIError);
    expect([(tooBig as APIError).status, (tooBig as APIError).code]).toEqual([413, 'payload_too_large']);
    expect(openAiWire.requests).toHaveLength(1);
  });

  it("refuses bad input in OpenAI's envelope, calling no provider", async () => {
    const post = (
      body: string | FormData,
      headers: Record<string, string> = {},
      token: string | null = alice.token,
    ) =>
      fetch(`${gateway.server.url}/v1/audio/transcriptions`, {
        method: 'POST',
        headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
        body,
      });
    const form = (entries: [string, string | Blob, string?][]) => {
      const data = new FormData();
      for (const [name, value, filename] of entries)
        if (typeof value === 'string') data.append(name, value);
        else data.append(name, value, filename);
      return data;
    };
    const audio = new Blob([wav()], { type: 'audio/wav' });
    const cases: [string | FormData, Record<string, string>, number, string, string | null, RegExp][] = [
      [
        JSON.stringify({ model: 'work/whisper-1', file: 'x' }),
        { 'content-type': 'application/json' },
        400,
        'invalid_request',
        null,
        /multipart\/form-data/,
      ],
      [form([['model', 'work/whisper-1']]), {}, 400, 'invalid_request', 'file', /file is required/],
      [form([['file', audio, 'a.wav']]), {}, 400, 'invalid_request', 'model', /model is required/],
      [
        form([
          ['file', new Blob(['just some text']), 'a.wav'],
          ['model', 'work/whisper-1'],
        ]),
        {},
        400,
        'invalid_request',
        'file',
        /text, not audio/,
      ],
      [
        form([
          ['file', new Blob([]), 'a.wav'],
          ['model', 'work/whisper-1'],
        ]),
        {},
        400,
        'invalid_request',
        'file',
        /empty/,
      ],
      [
        form([
          ['file', audio, 'a.wav'],
          ['model', 'work/whisper-1'],
          ['response_format', 'mp3'],
        ]),
        {},
        400,
        'invalid_request',
        'response_format',
        /response_format must be one of/,
      ],
      [
        '--x\r\nbroken',
        { 'content-type': 'multipart/form-data; boundary=x' },
        400,
        'invalid_request',
        null,
        /not valid multipart/,
      ],
      [
        form([
          ['file', audio, 'a.wav'],
          ['model', 'nowhere/whisper-1'],
        ]),
        {},
        404,
        'model_not_found',
        null,
        /"nowhere"/,
      ],
    ];
    for (const [body, headers, status, code, param, message] of cases) {
      const response = await post(body, headers);
      const text = await response.text();
      const error = JSON.parse(text).error;
      expect([response.status, error.code, error.param], text).toEqual([status, code, param]);
      expect(error.type).toBe('invalid_request_error');
      expect(error.message).toMatch(message);
      expect(response.headers.get('x-keyway-overhead-ms')).toMatch(/^\d+\.\d{2}$/);
      expect(text.includes(key)).toBe(false);
    }
    const anonymous = await post(
      form([
        ['file', audio, 'a.wav'],
        ['model', 'work/whisper-1'],
      ]),
      {},
      null,
    );
    expect([anonymous.status, ((await anonymous.json()) as any).error.code]).toEqual([
      401,
      'invalid_api_key',
    ]);
    expect(openAiWire.requests).toEqual([]);
  });

  it('answers providers without transcriptions (Anthropic, Gemini) with a 400 naming them', async () => {
    const gemini: FakeGemini = await startFakeGemini();
    try {
      await gateway.credential(alice.token, {
        name: 'claude',
        provider: 'anthropic',
        secret: fakeKey('sk-ant-'),
        settings: { baseUrl: openAiWire.origin },
      });
      await gateway.credential(alice.token, {
        name: 'gem',
        provider: 'google',
        secret: FAKE_GEMINI_KEY,
        settings: { baseUrl: gemini.url },
      });
      for (const [model, label] of [
        ['claude/claude-sonnet-4-5', 'Anthropic'],
        ['gem/gemini-2.5-flash', 'Google Gemini'],
      ]) {
        const refused = await client.audio.transcriptions
          .create({ file: await toFile(wav(), 'a.wav'), model: model! })
          .catch((error: unknown) => error);
        expect(refused).toBeInstanceOf(APIError);
        expect([(refused as APIError).status, (refused as APIError).code]).toEqual([
          400,
          'upstream_unsupported',
        ]);
        expect((refused as APIError).message).toContain(`${label} is not one of them`);
      }
      expect(gemini.requests).toEqual([]);
      expect(openAiWire.requests).toEqual([]);
    } finally {
      await gemini.close();
    }
  });

  it('never lets the key the provider echoes reach the client: json, text, stream or error', async () => {
    openAiWire.setScript(() => ({ kind: 'answer', echoKey: true }));
    const outputs: string[] = [];
    for (const format of ['json', 'text'] as const) {
      const response = await client.audio.transcriptions
        .create({
          file: await toFile(wav(), 'a.wav'),
          model: 'work/gpt-4o-transcribe',
          response_format: format,
        })
        .asResponse();
      const text = await response.text();
      expect(text).toContain(`${FAKE_TRANSCRIPT} [REDACTED]`);
      outputs.push(text);
    }
    const stream = await client.audio.transcriptions
      .create({ file: await toFile(wav(), 'a.wav'), model: 'work/gpt-4o-transcribe', stream: true })
      .asResponse();
    outputs.push(await stream.text());
    openAiWire.setScript(() => ({
      kind: 'error',
      status: 400,
      message: 'Invalid file format.',
      echoKey: true,
    }));
    const failed = await client.audio.transcriptions
      .create({ file: await toFile(wav(), 'a.wav'), model: 'work/whisper-1' })
      .catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(APIError);
    expect((failed as APIError).status).toBe(400);
    outputs.push((failed as APIError).message);
    for (const output of outputs) expect(output.includes(key)).toBe(false);
    expect(outputs.at(-1)).toContain('[REDACTED]');
  });

  it('retries a 5xx before the first byte and answers once the provider recovers', async () => {
    groq.setScript((_, index) =>
      index === 0
        ? { kind: 'error', status: 503, message: 'Service Unavailable', type: 'internal_server_error' }
        : { kind: 'answer' },
    );
    const answer = await client.audio.transcriptions.create({
      file: await toFile(wav(), 'a.wav'),
      model: 'fast/whisper-large-v3',
    });
    expect(answer.text).toBe(FAKE_TRANSCRIPT);
    expect(groq.requests).toHaveLength(2);
    // The same file both times: the form is rebuilt once per attempt, whole.
    expect(groq.requests[1]!.files![0]!.bytes.equals(groq.requests[0]!.files![0]!.bytes)).toBe(true);
  });

  it('holds transcriptions to the limits: a per-minute limit refuses the next request', async () => {
    const root = await gateway.user('root', 'admin');
    const set = await gateway.call('PUT', `/api/users/${alice.id}/limits`, {
      token: root.token,
      body: { requestsPerMinute: 1 },
    });
    expect(set.status, set.text).toBe(200);
    await client.audio.transcriptions.create({ file: await toFile(wav(), 'a.wav'), model: 'work/whisper-1' });
    const refused = await client.audio.transcriptions
      .create({ file: await toFile(wav(), 'a.wav'), model: 'fast/whisper-large-v3' })
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(APIError);
    expect([(refused as APIError).status, (refused as APIError).code]).toEqual([429, 'rate_limited']);
    expect((refused as APIError).headers?.get('retry-after')).toMatch(/^\d+$/);
    expect(groq.requests).toEqual([]);
  });
});
