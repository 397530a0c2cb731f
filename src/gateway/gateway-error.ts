import type { ContentfulStatusCode } from 'hono/utils/http-status';

/**
 * An error in OpenAI's envelope (`{"error":{"message","type","param","code"}}`), which `/v1` clients
 * and SDKs understand. Never carries a secret or Keyway internals.
 */
export class GatewayError extends Error {
  readonly status: ContentfulStatusCode;
  readonly type: string;
  readonly code: string | null;
  readonly param: string | null;
  /** Seconds, for a 429 the client may retry. */
  readonly retryAfter: number | undefined;

  constructor(
    status: ContentfulStatusCode,
    message: string,
    options: { type?: string; code?: string | null; param?: string | null; retryAfter?: number } = {},
  ) {
    super(message);
    this.name = 'GatewayError';
    this.status = status;
    this.type = options.type ?? (status >= 500 ? 'api_error' : 'invalid_request_error');
    this.code = options.code ?? null;
    this.param = options.param ?? null;
    this.retryAfter = options.retryAfter;
  }

  toJSON() {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}
