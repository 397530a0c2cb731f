/** What stands where a secret was. */
export const REDACTED = '[REDACTED]';

/** A held-back start of the secret this long (or longer) is redacted when the stream ends. */
export const LONGEST_RELEASED_START = 6;

/** The text without the secret in it. */
export function scrubSecret(text: string, secret: string | null): string {
  return secret && text.includes(secret) ? text.split(secret).join(REDACTED) : text;
}

/**
 * Scrubs a secret from text that arrives in pieces, where the secret may be split across two (or
 * more) pieces. A piece's tail that could be the start of the secret is held back until the next piece
 * shows whether it is; `end()` releases what is left. Holds back nothing when no tail could start the
 * secret, so a stream is not delayed by it in the normal case.
 *
 * Works on any string form of the stream: UTF-16 text, or bytes as latin1 (see `latin1`).
 */
export class StreamScrubber {
  readonly #secret: string;
  #held = '';

  constructor(secret: string) {
    this.#secret = secret;
  }

  push(piece: string): string {
    const text = this.#held + piece;
    const scrubbed = text.includes(this.#secret) ? text.split(this.#secret).join(REDACTED) : text;
    const hold = startOfSecretAtEnd(scrubbed, this.#secret);
    this.#held = hold === 0 ? '' : scrubbed.slice(scrubbed.length - hold);
    return hold === 0 ? scrubbed : scrubbed.slice(0, scrubbed.length - hold);
  }

  /** Whether a tail that could start the secret is held back (the text so far ends with one). */
  get holding(): boolean {
    return this.#held !== '';
  }

  /**
   * The held-back tail, once the stream has ended: it was not the whole secret, but a long start of
   * it (the stream cut off just before its last characters) is still redacted.
   */
  end(): string {
    const rest = this.#held;
    this.#held = '';
    return rest.length >= LONGEST_RELEASED_START ? REDACTED : rest;
  }
}

/**
 * A text that has ended, scrubbed as `StreamScrubber` scrubs it when it arrives in pieces: the secret
 * redacted, and so is a long start of it left at the very end. For an event that repeats a streamed
 * text whole (OpenAI's `response.output_text.done`), so that it agrees with the pieces relayed before.
 */
export function scrubEndedText(text: string, secret: string): string {
  const scrubber = new StreamScrubber(secret);
  return scrubber.push(text) + scrubber.end();
}

/** A UTF-8 string in the latin1 form that `Buffer#toString('latin1')` gives its bytes. */
export function latin1(text: string): string {
  return Buffer.from(text, 'utf8').toString('latin1');
}

/** The length of the longest tail of `text` that is a proper prefix of `secret` (0 if none). */
function startOfSecretAtEnd(text: string, secret: string): number {
  const first = secret[0]!;
  const from = Math.max(0, text.length - secret.length + 1);
  for (let at = text.indexOf(first, from); at !== -1; at = text.indexOf(first, at + 1)) {
    if (secret.startsWith(text.slice(at))) return text.length - at;
  }
  return 0;
}
