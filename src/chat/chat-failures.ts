import { KeywayError } from '../errors.ts';
import { ProviderFailure } from '../gateway/provider-failure.ts';

/** Why an answer failed, in Keyway's words. */
export type Failure = { code: string; message: string; details?: Record<string, unknown> };

/** A failure in Keyway's words: the provider's own message never reaches the chat (it may echo input). */
export function describeFailure(error: unknown): Failure {
  if (error instanceof ProviderFailure) return failureFor(error.code, error.reply.type, error.reply.status);
  if (error instanceof KeywayError) {
    if (error.code === 'no_credentials' || error.code === 'price_unknown')
      return { code: error.code, message: error.message };
    // Keyway's own limits: the message names the limit; the details say which and when it resets.
    if (error.code === 'budget_exceeded' || error.code === 'rate_limited')
      return {
        code: error.code,
        message: error.message,
        ...(error.details ? { details: error.details } : {}),
      };
    return failureFor(error.code, null, error.status);
  }
  return { code: 'internal_error', message: 'Something went wrong on our side while answering. Try again.' };
}

function failureFor(
  code: string | null,
  type: string | null,
  status: number,
): { code: string; message: string } {
  switch (code) {
    case 'access_revoked':
      return {
        code,
        message: 'Your access was revoked while answering: the account was disabled or signed out.',
      };
    case 'upstream_auth_failed':
      return {
        code: 'credential_rejected',
        message:
          'The provider rejected the stored key. Test or rotate the credential on the credentials page.',
      };
    case 'secret_unreadable':
      return {
        code: 'credential_unreadable',
        message: "The stored key cannot be decrypted; the credential's owner must rotate it.",
      };
    case 'upstream_unreachable':
    case 'upstream_blocked':
      return {
        code: 'provider_unreachable',
        message: "The provider could not be reached. Try again, or check the credential's base URL.",
      };
    case 'upstream_timeout':
      return {
        code: 'provider_timeout',
        message: 'The provider did not start answering in time. Try again.',
      };
    case 'upstream_interrupted':
      return {
        code: 'interrupted',
        message: "The provider's answer broke off. What arrived was kept; try again.",
      };
    case 'ambiguous_model':
      return {
        code: 'ambiguous_model',
        message: 'This model name matches several credentials. Pick the model again from the list.',
      };
    case 'model_not_found':
      return { code: 'model_not_found', message: 'This model is not available. Pick another model.' };
  }
  if (status === 429 || type === 'rate_limit_error')
    return {
      code: 'rate_limited',
      message: 'The provider is limiting requests for this key. Try again shortly.',
    };
  if (status >= 500)
    return { code: 'provider_error', message: 'The provider failed to answer. Try again in a moment.' };
  return {
    code: 'provider_rejected',
    message: `The provider refused the request (status ${status}). Try another model or a shorter conversation.`,
  };
}
