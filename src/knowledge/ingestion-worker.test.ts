import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { KeywayError } from '../errors.ts';
import {
  documentTypeOf,
  embeddingInput,
  IngestionWorker,
  isTransient,
  vectorsOf,
} from './ingestion-worker.ts';
import type { IngestionJob, KnowledgeRepository } from './knowledge.repository.ts';
import { progressText } from './knowledge.routes.ts';

describe('documentTypeOf', () => {
  it('reads documents by their detected type and refuses images', () => {
    expect(documentTypeOf('application/pdf')).toBe('pdf');
    expect(documentTypeOf('application/vnd.openxmlformats-officedocument.wordprocessingml.document')).toBe(
      'docx',
    );
    expect(documentTypeOf('text/markdown')).toBe('markdown');
    expect(documentTypeOf('text/x-python')).toBe('code');
    expect(documentTypeOf('application/json')).toBe('code');
    expect(documentTypeOf('image/png')).toBeUndefined();
    expect(documentTypeOf('application/zip')).toBeUndefined();
  });
});

describe('embeddingInput', () => {
  it('puts the heading path before the text', () => {
    expect(embeddingInput({ headings: ['Install', 'On Linux'], text: 'Run it.' })).toBe(
      'Install > On Linux\n\nRun it.',
    );
    expect(embeddingInput({ headings: [], text: 'Plain.' })).toBe('Plain.');
  });
});

describe('vectorsOf', () => {
  const answer = (data: unknown) => JSON.stringify({ object: 'list', data });

  it('answers the vectors in input order, whatever order the provider sent', () => {
    const body = answer([
      { index: 1, embedding: [0, 1] },
      { index: 0, embedding: [1, 0] },
    ]);
    expect(vectorsOf(body, 2)).toEqual([
      [1, 0],
      [0, 1],
    ]);
  });

  it.each([
    ['missing vectors', answer([{ index: 0, embedding: [1, 0] }]), 2],
    [
      'uneven dimensions',
      answer([
        { index: 0, embedding: [1, 0] },
        { index: 1, embedding: [1] },
      ]),
      2,
    ],
    ['empty vectors', answer([{ index: 0, embedding: [] }]), 1],
    ['not JSON', 'oops', 1],
    ['base64 strings', answer([{ index: 0, embedding: 'AAAA' }]), 1],
  ])('refuses %s as upstream_invalid', (_name, body, inputs) => {
    expect(() => vectorsOf(body, inputs)).toThrow(
      expect.objectContaining({ code: 'upstream_invalid' }) as unknown as Error,
    );
  });
});

describe('isTransient', () => {
  it('retries busy or unreachable providers, not refusals', () => {
    expect(isTransient(new KeywayError('rate_limited', 'slow down'))).toBe(true);
    expect(isTransient(new KeywayError('upstream_unreachable', 'down'))).toBe(true);
    expect(isTransient(new KeywayError('upstream_rejected', 'bad input'))).toBe(false);
    expect(isTransient(new KeywayError('model_not_found', 'gone'))).toBe(false);
    expect(isTransient(new Error('bug'))).toBe(false);
  });
});

describe('progressText', () => {
  it('says where a file is, in words', () => {
    const base = { embeddedChunks: 0, totalChunks: null, error: null };
    expect(progressText({ ...base, status: 'queued' })).toBe('queued');
    expect(progressText({ ...base, status: 'embedding', embeddedChunks: 3, totalChunks: 8 })).toBe(
      'embedding 3 of 8',
    );
    expect(progressText({ ...base, status: 'ready', embeddedChunks: 8, totalChunks: 8 })).toBe(
      'ready (8 chunks)',
    );
    expect(progressText({ ...base, status: 'failed', error: 'The file is encrypted.' })).toBe(
      'failed: The file is encrypted.',
    );
  });
});

describe('IngestionWorker', () => {
  it('leaves a job queued, not failed, when PostgreSQL goes away under it', async () => {
    const job: IngestionJob = {
      kbId: 'kb',
      fileId: 'file',
      leaseId: 'lease',
      attempts: 1,
      ownerId: 'u1',
      ownerRole: 'member',
      ownerDisabled: false,
      embeddingModel: 'work/text-embedding-3-small',
      mediaType: 'text/markdown',
    };
    const calls: string[] = [];
    let settled!: () => void;
    const ended = new Promise<void>((resolve) => (settled = resolve));
    let claimed = false;
    const repository = {
      claim: async () => (claimed ? undefined : ((claimed = true), job)),
      content: async () => {
        calls.push('content');
        throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
      },
      progress: async () => true,
      fail: async () => void (calls.push('fail'), settled()),
      release: async () => void (calls.push('release'), settled()),
    } as unknown as KnowledgeRepository;
    const worker = new IngestionWorker({
      repository,
      gateway: { exchange: () => Promise.reject(new Error('not used')) } as never,
      logger: pino({ level: 'silent' }),
      topic: 'knowledge:queued',
    });
    worker.wake();
    // The job ends before the worker is stopped: a stop would release it anyway.
    await ended;
    await worker.stop();
    expect(calls).toEqual(['content', 'release']);
  });
});
