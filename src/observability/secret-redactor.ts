const MASK = '[REDACTED]';

/**
 * Redaction by value: every secret Keyway handles (a decrypted provider key, a token) is registered
 * here once, and every log line is scrubbed of it on the way out — whatever field, message or error
 * text it hides in. Field-name redaction (see logger.ts) is the first net; this is the one that cannot
 * be forgotten by a new log call.
 */
export class SecretRedactor {
  readonly #forms = new Set<string>();

  /** Secrets shorter than this are not registered: masking them would mangle ordinary text. */
  static readonly MIN_LENGTH = 8;

  register(secret: string): void {
    if (secret.length < SecretRedactor.MIN_LENGTH) return;
    this.#forms.add(secret);
    // Inside a JSON log line, the secret appears with JSON escapes applied.
    const escaped = JSON.stringify(secret).slice(1, -1);
    if (escaped !== secret) this.#forms.add(escaped);
  }

  forget(secret: string): void {
    this.#forms.delete(secret);
    this.#forms.delete(JSON.stringify(secret).slice(1, -1));
  }

  redact(text: string): string {
    if (this.#forms.size === 0) return text;
    let result = text;
    for (const form of this.#forms) {
      if (result.includes(form)) result = result.split(form).join(MASK);
    }
    return result;
  }
}
