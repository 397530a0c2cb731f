import { describe, expect, it } from 'vitest';
import { Rounds } from './rounds.ts';

describe('Rounds', () => {
  it('runs one round at a time; wakes during a round ask for one more, and a failure stops nothing', async () => {
    const started: number[] = [];
    const errors: unknown[] = [];
    let finish!: () => void;
    const rounds = new Rounds(
      () => {
        started.push(started.length + 1);
        if (started.length === 2) return Promise.reject(new Error('round 2 failed'));
        return new Promise<void>((resolve) => (finish = resolve));
      },
      (error) => errors.push(error),
    );
    rounds.wake();
    rounds.wake();
    rounds.wake();
    expect(started).toEqual([1]);
    finish();
    await rounds.running;
    // The second round (asked for twice, run once) failed; a wake after it runs a third.
    while (rounds.running) await rounds.running;
    expect(started).toEqual([1, 2]);
    expect(errors).toHaveLength(1);
    rounds.wake();
    expect(started).toEqual([1, 2, 3]);
    finish();
    await rounds.running;
  });
});
