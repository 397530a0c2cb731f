import { KeywayError, type ErrorCode } from '../errors.ts';

/**
 * How a provider's failure is answered on an OpenAI-compatible surface: the status, and the
 * envelope's `type` and `code`. A provider's own 4xx keeps its status, type and code (the client's
 * request was the problem, in the provider's words); Keyway's verdicts (502, 504, 429) carry its own.
 */
export interface ProviderReply {
  status: number;
  type: string;
  code: string | null;
  param: string | null;
  /** Seconds, for a 429 the client may retry. */
  retryAfterSeconds?: number;
}

/**
 * The provider failed, or refused the request: a typed domain error. Its `code` is Keyway's (in the
 * catalogue); `reply` is what an OpenAI-compatible client is told. The message never holds a secret
 * or a body the provider did not mean as an error message.
 */
export class ProviderFailure extends KeywayError {
  readonly reply: ProviderReply;

  constructor(code: ErrorCode, message: string, reply: Partial<ProviderReply> & { status: number }) {
    super(code, message);
    this.name = 'ProviderFailure';
    this.reply = {
      type: reply.type ?? (reply.status >= 500 ? 'api_error' : 'invalid_request_error'),
      code: reply.code === undefined ? code : reply.code,
      param: reply.param ?? null,
      status: reply.status,
      ...(reply.retryAfterSeconds !== undefined ? { retryAfterSeconds: reply.retryAfterSeconds } : {}),
    };
  }
}

/** Who failed, for messages: the provider's label and the credential's name. */
export interface FailedTarget {
  providerLabel: string;
  credentialName: string;
}

/** A provider's error answer (status + its error in OpenAI's terms), as the typed failure. */
export function providerAnswered(
  status: number,
  info: { message: string; type: string; code: string | null },
  target: FailedTarget,
  retryAfterMs: number | undefined,
): ProviderFailure {
  const who = target.providerLabel;
  // A redirect is never relayed (it would reach the client without its Location, and following it
  // could leave the provider's host): the credential's base URL is wrong.
  if (status >= 300 && status < 400) {
    return new ProviderFailure(
      'upstream_redirect',
      `${who} answered the credential "${target.credentialName}" with a redirect (HTTP ${status}), which Keyway does not follow; check its base URL.`,
      { status: 502, type: 'upstream_error' },
    );
  }
  // Google answers a bad key with 400 INVALID_ARGUMENT; the adapter recognises it.
  if (
    status === 401 ||
    status === 403 ||
    info.code === 'invalid_api_key' ||
    info.type === 'authentication_error'
  ) {
    return new ProviderFailure(
      'upstream_auth_failed',
      `${who} rejected the stored credential "${target.credentialName}": ${info.message}`,
      { status: 502, type: 'upstream_auth_error' },
    );
  }
  if (status === 429) {
    return new ProviderFailure('rate_limited', info.message, {
      status: 429,
      type: info.type,
      code: info.code ?? 'rate_limited',
      ...(retryAfterMs !== undefined ? { retryAfterSeconds: Math.ceil(retryAfterMs / 1000) } : {}),
    });
  }
  if (status >= 500) {
    return new ProviderFailure('upstream_error', `${who} failed: ${info.message}`, {
      status: 502,
      type: 'upstream_error',
      code: info.code ?? `upstream_${status}`,
    });
  }
  // The provider refused the request itself: its status, type and code, in its words.
  return new ProviderFailure('upstream_rejected', info.message, { status, type: info.type, code: info.code });
}

/** A call that got no answer: refused by the SSRF guard, timed out, or the network failed. */
export function providerUnreachable(
  error: unknown,
  providerLabel: string,
  blocked: boolean,
): ProviderFailure {
  if (blocked) {
    return new ProviderFailure(
      'upstream_blocked',
      `The credential's URL points at an address Keyway may not call: ${(error as Error).message}`,
      { status: 502 },
    );
  }
  if ((error as { code?: string }).code === 'UND_ERR_HEADERS_TIMEOUT') {
    return new ProviderFailure('upstream_timeout', `${providerLabel} did not start answering in time.`, {
      status: 504,
      type: 'timeout',
    });
  }
  return new ProviderFailure(
    'upstream_unreachable',
    `${providerLabel} could not be reached: ${describeNetworkError(error)}`,
    { status: 502 },
  );
}

/** The answer broke off after it started. */
export function providerInterrupted(error: unknown, whole: boolean): ProviderFailure {
  return new ProviderFailure(
    'upstream_interrupted',
    whole
      ? `The provider's answer broke off: ${describeNetworkError(error)}`
      : `The provider's stream broke off: ${describeNetworkError(error)}`,
    { status: 502 },
  );
}

/** A network error's kind in words, never its message (which could quote a URL). */
export function describeNetworkError(error: unknown): string {
  const code = (error as { code?: string }).code;
  if (code === 'UND_ERR_BODY_TIMEOUT') return 'it stopped sending (idle timeout)';
  if (code === 'UND_ERR_CONNECT_TIMEOUT') return 'the connection timed out';
  if (code === 'ECONNREFUSED') return 'the connection was refused';
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET') return 'the connection was reset';
  if (code === 'ENOTFOUND') return 'the host name does not resolve';
  return 'a network error';
}
