import { describe, expect, it } from 'vitest';
import { REDACTED, StreamScrubber, latin1, scrubEndedText } from './secret-scrubber.ts';

const secret = 'sk-canary-0123456789abcdef';

/** Runs pieces through a scrubber and returns what came out, piece by piece and whole. */
function run(pieces: string[], key = secret) {
  const scrubber = new StreamScrubber(key);
  const out = pieces.map((piece) => scrubber.push(piece));
  out.push(scrubber.end());
  return { out, whole: out.join('') };
}

describe('StreamScrubber', () => {
  it('removes a secret split across pieces at every possible place, and no piece ever holds part of it', () => {
    const text = `before ${secret} middle ${secret} after`;
    for (let cut = 1; cut < text.length; cut++) {
      for (let second = cut + 1; second <= text.length; second += 7) {
        const { out, whole } = run([text.slice(0, cut), text.slice(cut, second), text.slice(second)]);
        expect(whole).toBe(`before ${REDACTED} middle ${REDACTED} after`);
        for (const piece of out) expect(piece).not.toContain(secret.slice(0, 12));
      }
    }
  });

  it('removes a secret sent one character at a time', () => {
    const { whole } = run([...`x${secret}y`]);
    expect(whole).toBe(`x${REDACTED}y`);
  });

  it('holds back nothing when no tail could start the secret, and releases a short false start at the end', () => {
    expect(run(['hello ', 'world']).out).toEqual(['hello ', 'world', '']);
    expect(run(['ends with sk-ca']).out).toEqual(['ends with ', 'sk-ca']);
    expect(run(['sk-can', 'dle']).whole).toBe('sk-candle');
  });

  it('redacts a long start of the secret left when the stream ends (cut off before its last characters)', () => {
    expect(run(['key: ', secret.slice(0, -1)]).whole).toBe(`key: ${REDACTED}`);
  });

  it('works on bytes as latin1, whatever UTF-8 surrounds the secret', () => {
    const bytes = Buffer.from(`é ${secret} 日本`, 'utf8');
    const scrubber = new StreamScrubber(latin1(secret));
    const pieces = [bytes.subarray(0, 9), bytes.subarray(9, 20), bytes.subarray(20)];
    const out = pieces.map((piece) => scrubber.push(piece.toString('latin1'))).join('') + scrubber.end();
    expect(Buffer.from(out, 'latin1').toString('utf8')).toBe(`é ${REDACTED} 日本`);
  });

  it('says whether it holds back a tail', () => {
    const scrubber = new StreamScrubber(secret);
    scrubber.push('is s');
    expect(scrubber.holding).toBe(true);
    scrubber.push('o');
    expect(scrubber.holding).toBe(false);
  });
});

describe('scrubEndedText', () => {
  it('scrubs a whole text as the same text streamed in pieces comes out', () => {
    for (const text of [
      `a ${secret} b`,
      `cut: ${secret.slice(0, 9)}`,
      'sk-c',
      `${secret.slice(0, 9)} is not it`,
    ]) {
      expect(scrubEndedText(text, secret)).toBe(run([...text]).whole);
    }
    expect(scrubEndedText(`cut: ${secret.slice(0, 9)}`, secret)).toBe(`cut: ${REDACTED}`);
  });
});
