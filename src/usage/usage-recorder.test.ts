import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { UsageEvent, UsageRepository } from './usage.repository.ts';
import { UsageRecorder } from './usage-recorder.ts';

const event = (model: string): UsageEvent => ({
  at: new Date(),
  userId: 'u1',
  tokenId: null,
  botId: null,
  credentialId: 'c1',
  provider: 'openai',
  model,
  inputTokens: 1,
  outputTokens: 1,
  cachedTokens: 0,
  costUsd: null,
  latencyMs: 1,
  status: 200,
});

describe('UsageRecorder', () => {
  it('a flush during a write also writes what was recorded after that write began', async () => {
    const written: string[][] = [];
    let release!: () => void;
    const firstWrite = new Promise<void>((resolve) => (release = resolve));
    const repository = {
      writeBatch: async (batch: UsageEvent[]) => {
        if (written.length === 0) await firstWrite;
        written.push(batch.map((row) => row.model));
      },
    } as unknown as UsageRepository;
    const recorder = new UsageRecorder({
      repository,
      recordUse: async () => {},
      logger: pino({ level: 'silent' }),
      intervalMs: 60_000,
    });
    recorder.record(event('a'));
    const first = recorder.flush();
    recorder.record(event('b'));
    const second = recorder.flush();
    release();
    await Promise.all([first, second]);
    expect(written).toEqual([['a'], ['b']]);
    await recorder.close();
  });
});
