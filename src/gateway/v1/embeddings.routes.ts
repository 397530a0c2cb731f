import type { Hono } from 'hono';
import type { AppEnv } from '../../http/app-env.ts';
import type { TokensService } from '../../tokens/tokens.service.ts';
import { embeddingsExchange, embeddingsRequestSchema } from '../exchanges/embeddings.ts';
import type { GatewayService } from '../gateway.service.ts';
import { callOptions, readValidBody, respond, wholeAnswer } from './v1-http.ts';

/**
 * `POST /v1/embeddings`: OpenAI's request in, OpenAI's list out, whichever provider embeds it (see
 * `exchanges/embeddings.ts`); grants, limits, retries, fallbacks and usage as on chat completions.
 */
export function registerEmbeddingsRoutes(
  v1: Hono<AppEnv>,
  deps: { gateway: GatewayService; tokens: TokensService },
): void {
  v1.post('/embeddings', (c) =>
    respond(c, deps.tokens, async (principal, startedAt) => {
      const request = await readValidBody(c, embeddingsRequestSchema);
      const answer = await deps.gateway.exchange(
        principal,
        embeddingsExchange(request),
        callOptions(c, startedAt),
      );
      // An embeddings exchange does not stream: the answer is whole.
      const body = answer.kind === 'whole' ? answer.body : '';
      return wholeAnswer(c, body, answer.overheadMs);
    }),
  );
}
