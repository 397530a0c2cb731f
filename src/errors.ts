/**
 * The base of every error Keyway raises on purpose. `code` is stable and machine-readable; `message`
 * states the facts in plain words; `fix` says what to do about it. Mapping to HTTP responses and
 * process exit codes happens in exactly one place each (src/http/errors.ts, src/cli/exit-codes.ts).
 */
export class KeywayError extends Error {
  readonly code: string;
  readonly fix: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(
    code: string,
    message: string,
    options: { fix?: string; details?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'KeywayError';
    this.code = code;
    this.fix = options.fix;
    this.details = options.details;
  }
}

/** Reads the message of anything thrown, without assuming it is an Error. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
