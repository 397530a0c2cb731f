import { describe, expect, it } from 'vitest';
import { KeywayError } from '../../errors.ts';
import { createDefaultRegistry, effectiveBaseUrl } from '../../providers/registry.ts';
import type { ExchangeTarget } from '../exchange.ts';
import {
  encodeMultipart,
  notAudio,
  readTranscriptionRequest,
  transcriptionBound,
  transcriptionExchange,
} from './transcriptions.ts';

const providers = createDefaultRegistry();

function target(
  providerId: string,
  settings: Record<string, unknown> = {},
  model = 'whisper-1',
): ExchangeTarget {
  const provider = providers.get(providerId)!;
  return {
    credentialId: 'cred-1',
    model,
    provider,
    secret: 'key-123',
    settings,
    baseUrl: effectiveBaseUrl(provider, settings),
  };
}

/** The first bytes of a WAV file, then some samples: binary, as audio is. */
function wav(samples = 64): Uint8Array {
  const header = Buffer.from('RIFF\0\0\0\0WAVEfmt ', 'latin1');
  return new Uint8Array([...header, ...Array.from({ length: samples }, (_, i) => (i * 37) % 256)]);
}

function form(entries: [string, string | File][]): FormData {
  const data = new FormData();
  for (const [name, value] of entries) data.append(name, value);
  return data;
}

const audio = () => new File([wav()], 'note.wav', { type: 'audio/wav' });

async function refusal(entries: [string, string | File][]): Promise<KeywayError> {
  const error = await readTranscriptionRequest(form(entries)).catch((caught: unknown) => caught);
  expect(error).toBeInstanceOf(KeywayError);
  expect((error as KeywayError).status).toBe(400);
  return error as KeywayError;
}

describe('readTranscriptionRequest', () => {
  it('keeps every field but model in order, repeats included, and the file with its name', async () => {
    const request = await readTranscriptionRequest(
      form([
        ['file', audio()],
        ['model', 'work/whisper-1'],
        ['timestamp_granularities[]', 'word'],
        ['response_format', 'verbose_json'],
        ['timestamp_granularities[]', 'segment'],
        ['vendor_option', 'kept'],
      ]),
    );
    expect(request).toMatchObject({
      model: 'work/whisper-1',
      stream: false,
      fields: [
        ['timestamp_granularities[]', 'word'],
        ['response_format', 'verbose_json'],
        ['timestamp_granularities[]', 'segment'],
        ['vendor_option', 'kept'],
      ],
      file: { name: 'note.wav', type: 'audio/wav' },
    });
    expect(Buffer.from(request.file.bytes)).toEqual(Buffer.from(wav()));
  });

  it('refuses a missing or doubled file, a file in a text field, and bad field values, naming the field', async () => {
    expect((await refusal([['model', 'm']])).details).toEqual({ param: 'file' });
    expect(
      (
        await refusal([
          ['file', audio()],
          ['file', audio()],
          ['model', 'm'],
        ])
      ).message,
    ).toMatch(/file must be sent once/);
    expect(
      (
        await refusal([
          ['file', audio()],
          ['model', audio()],
        ])
      ).details,
    ).toEqual({ param: 'model' });
    expect((await refusal([['file', audio()]])).details).toEqual({ param: 'model' });
    expect(
      (
        await refusal([
          ['file', audio()],
          ['model', 'a'],
          ['model', 'b'],
        ])
      ).message,
    ).toMatch(/model must be sent once/);
    const bad: [string, string][] = [
      ['response_format', 'mp3'],
      ['temperature', 'hot'],
      ['temperature', '1.5'],
      ['stream', 'yes'],
      ['timestamp_granularities[]', 'sentence'],
    ];
    for (const [name, value] of bad) {
      const error = await refusal([
        ['file', audio()],
        ['model', 'm'],
        [name, value],
      ]);
      expect(error.details, `${name}=${value}`).toEqual({ param: name });
    }
  });

  it('refuses an empty file and what is recognisably not audio', async () => {
    for (const [bytes, reason] of [
      [new Uint8Array(), /empty/],
      [new TextEncoder().encode('{"not":"audio"}'), /text/],
      [new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0]), /PNG/],
      [new TextEncoder().encode('%PDF-1.7\n\u0000\u0001'), /PDF/],
    ] as const) {
      const error = await refusal([
        ['file', new File([bytes], 'x.mp3')],
        ['model', 'm'],
      ]);
      expect(error.message).toMatch(reason);
    }
  });
});

describe('notAudio', () => {
  it('lets binary containers through (WAV, MP3 with and without ID3, Ogg, FLAC, MP4)', () => {
    const binary = (prefix: number[] | string) =>
      new Uint8Array([
        ...(typeof prefix === 'string' ? Buffer.from(prefix, 'latin1') : prefix),
        0,
        1,
        2,
        0xfe,
        0xff,
      ]);
    for (const file of [
      wav(),
      binary('ID3\u0004'),
      binary([0xff, 0xfb, 0x90]),
      binary('OggS'),
      binary('fLaC'),
      binary([0, 0, 0, 0x20, 0x66, 0x74, 0x79, 0x70]),
    ])
      expect(notAudio(file)).toBeNull();
  });
});

describe('transcription calls', () => {
  const request = () =>
    readTranscriptionRequest(
      form([
        ['model', 'groq/whisper-large-v3'],
        ['file', new File([wav()], 'na"me\r\n.wav', { type: 'audio/wav' })],
        ['prompt', 'line one\nline two'],
        ['timestamp_granularities[]', 'word'],
        ['timestamp_granularities[]', 'segment'],
      ]),
    );

  it('rebuilds the form with the provider model, parsed back field for field by a real multipart parser', async () => {
    const call = transcriptionExchange(await request()).build(target('groq', {}, 'whisper-large-v3'));
    expect(call.url).toBe('https://api.groq.com/openai/v1/audio/transcriptions');
    expect(call.headers.authorization).toBe('Bearer key-123');
    const parsed = await new Response(call.body, {
      headers: { 'content-type': call.headers['content-type']! },
    }).formData();
    expect([...parsed.entries()].filter(([, value]) => typeof value === 'string')).toEqual([
      ['model', 'whisper-large-v3'],
      ['prompt', 'line one\r\nline two'],
      ['timestamp_granularities[]', 'word'],
      ['timestamp_granularities[]', 'segment'],
    ]);
    const file = parsed.get('file') as File;
    // The quote and line break, escaped, cannot end the header: the name arrives whole, no part forged.
    expect(file.name).toBe('na"me\r\n.wav');
    expect([...parsed.keys()]).toHaveLength(5);
    expect(file.type).toBe('audio/wav');
    expect(Buffer.from(await file.arrayBuffer())).toEqual(Buffer.from(wav()));
  });

  it('refuses every wire but OpenAI-wire with a 400 naming the provider', async () => {
    const exchange = transcriptionExchange(await request());
    for (const [id, label] of [
      ['anthropic', 'Anthropic'],
      ['google', 'Google Gemini'],
      ['ollama', 'Ollama'],
    ] as const) {
      expect(() => exchange.build(target(id))).toThrow(new RegExp(`${label} is not one of them`));
    }
    expect(() =>
      exchange.build(target('azure-openai', { endpoint: 'https://r.openai.azure.com', apiVersion: 'v' })),
    ).toThrow(/Azure OpenAI is not one of them/);
  });

  it('reads token usage from JSON answers and the done event, and none from text or duration usage', async () => {
    const call = transcriptionExchange(await request()).build(target('openai', {}, 'gpt-4o-transcribe'));
    const usage = { type: 'tokens', input_tokens: 40, output_tokens: 6, total_tokens: 46 };
    expect(call.usageOfWhole(JSON.stringify({ text: 'hi', usage }))).toEqual({
      inputTokens: 40,
      outputTokens: 6,
      cachedTokens: 0,
    });
    expect(call.usageOfWhole('hi\n')).toBeNull();
    expect(
      call.usageOfWhole(JSON.stringify({ text: 'hi', usage: { type: 'duration', seconds: 3 } })),
    ).toBeNull();
    expect(call.usageOfEvent!({ data: '{"type":"transcript.text.delta","delta":"x"}' }, null)).toBeNull();
    expect(
      call.usageOfEvent!({ data: JSON.stringify({ type: 'transcript.text.done', text: 'x', usage }) }, null),
    ).toMatchObject({ inputTokens: 40 });
  });

  it('bounds a request by its file size (16 kbit/s audio) and its prompt', async () => {
    const bound = transcriptionBound({
      model: 'm',
      stream: false,
      fields: [['prompt', 'abcd']],
      file: { name: 'a', type: 'a', bytes: new Uint8Array(20_000) },
    });
    expect(bound).toEqual({ inputTokens: 204, outputTokens: 80, likelyInputTokens: 51 });
  });
});

describe('encodeMultipart', () => {
  it('writes CRLF-delimited parts closed by the boundary', () => {
    const body = encodeMultipart(
      [['a', 'b']],
      { field: 'file', name: 'f.wav', type: 'audio/wav', bytes: new Uint8Array([1]) },
      'XB',
    );
    expect(body.toString('latin1')).toBe(
      '--XB\r\nContent-Disposition: form-data; name="a"\r\n\r\nb\r\n' +
        '--XB\r\nContent-Disposition: form-data; name="file"; filename="f.wav"\r\nContent-Type: audio/wav\r\n\r\n\u0001\r\n--XB--\r\n',
    );
  });
});
