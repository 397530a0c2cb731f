import type { Context, Hono } from 'hono';
import { KeywayError } from '../../errors.ts';
import type { AppEnv } from '../../http/app-env.ts';
import { encodeSse } from '../../http/sse.ts';
import type { TokensService } from '../../tokens/tokens.service.ts';
import { readTranscriptionRequest, transcriptionExchange } from '../exchanges/transcriptions.ts';
import type { GatewayService } from '../gateway.service.ts';
import { toOpenAiError } from '../v1-errors.ts';
import { answerHeaders, callOptions, respond, wholeAnswer, relayStream } from './v1-http.ts';

const encoder = new TextEncoder();

/** What a transcription answer may be served as; anything else a provider claims is sent as plain text. */
const RELAYED_TYPES =
  /^(application\/json|text\/plain|text\/vtt|application\/x-subrip|text\/event-stream)\b/i;

/**
 * `POST /v1/audio/transcriptions`: OpenAI's multipart request in (its body limit is the route's own,
 * `KEYWAY_TRANSCRIPTION_BODY_LIMIT`), the provider's answer out as it is — JSON, text, subtitles or,
 * with `stream=true`, its events — with the provider's content type.
 */
export function registerTranscriptionsRoutes(
  v1: Hono<AppEnv>,
  deps: { gateway: GatewayService; tokens: TokensService },
): void {
  v1.post('/audio/transcriptions', (c) =>
    respond(c, deps.tokens, async (principal, startedAt) => {
      const request = await readTranscriptionRequest(await readForm(c));
      const answer = await deps.gateway.exchange(
        principal,
        transcriptionExchange(request),
        callOptions(c, startedAt),
      );
      if (answer.kind === 'whole') {
        const fallback = answer.body.startsWith('{') ? 'application/json' : 'text/plain; charset=utf-8';
        return wholeAnswer(c, answer.body, answer.overheadMs, relayedType(answer.contentType, fallback));
      }
      const headers = {
        'content-type': relayedType(answer.contentType, 'text/event-stream; charset=utf-8'),
        'cache-control': 'no-cache',
        ...answerHeaders(c, answer.overheadMs),
      };
      const encodeError = (failure: KeywayError) =>
        encoder.encode(encodeSse(JSON.stringify(toOpenAiError(failure, c).body)));
      return relayStream(c, answer.passthrough, encodeError, headers);
    }),
  );
}

/** The multipart form; anything else is a 400 in OpenAI's envelope. */
async function readForm(c: Context<AppEnv>): Promise<FormData> {
  if (!/^multipart\/form-data\s*;/i.test(c.req.header('content-type') ?? '')) {
    throw new KeywayError(
      'invalid_request',
      'Send the audio as multipart/form-data, as OpenAI does: a `file` part and a `model` field.',
    );
  }
  try {
    return await c.req.formData();
  } catch {
    throw new KeywayError('invalid_request', 'The request body is not valid multipart/form-data.');
  }
}

function relayedType(upstream: string | null, fallback: string): string {
  if (upstream === null) return fallback;
  return RELAYED_TYPES.test(upstream) ? upstream : 'text/plain; charset=utf-8';
}
