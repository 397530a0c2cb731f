import type { Logger } from 'pino';
import type { Principal } from '../auth/principal.ts';
import { withoutNul } from '../db/storable-text.ts';
import type { ChatRequest } from '../gateway/openai-types.ts';
import type { ChatGateway } from './chat-replies.ts';
import type { ConversationsRepository } from './conversations.repository.ts';

/** The title model a user's conversations are named with: theirs, else the admin's default; null: off. */
export interface TitleModels {
  titleModel(actor: Principal): Promise<string | null>;
}

const TITLE_LENGTH = 80;
/** A title request waits this long at most: it runs after the answer, nobody is waiting on it. */
const TITLE_TIMEOUT_MS = 30_000;
/** What of the first exchange the title model reads: enough to name it, not the whole of a long answer. */
const EXCERPT_CHARS = 2_000;

const INSTRUCTION =
  'Write a short title (at most six words) for the conversation below, in the language of the ' +
  'conversation. Answer with the title only: no quotes, no trailing punctuation.';

/**
 * Names a conversation after its first exchange with the user's title model, through the gateway as
 * that user (so usage, limits and grants apply as to any call). Best effort: any failure leaves the
 * first message's words as the title, and a title a person set meanwhile is never replaced.
 */
export class ConversationTitles {
  readonly #gateway: Pick<ChatGateway, 'complete'>;
  readonly #models: TitleModels;
  readonly #repository: ConversationsRepository;

  constructor(deps: {
    gateway: Pick<ChatGateway, 'complete'>;
    models: TitleModels;
    repository: ConversationsRepository;
  }) {
    this.#gateway = deps.gateway;
    this.#models = deps.models;
    this.#repository = deps.repository;
  }

  /** Generates and stores the title; resolves once done or given up (never rejects). */
  async generate(
    actor: Principal,
    conversationId: string,
    exchange: { question: string; answer: string },
    log: Logger,
  ): Promise<void> {
    try {
      const model = await this.#models.titleModel(actor);
      if (!model) return;
      const request: ChatRequest = {
        model,
        messages: [
          { role: 'system', content: INSTRUCTION },
          {
            role: 'user',
            content: `User: ${exchange.question.slice(0, EXCERPT_CHARS)}\n\nAssistant: ${exchange.answer.slice(0, EXCERPT_CHARS)}`,
          },
        ],
        stream: false,
        max_tokens: 32,
      };
      const result = await this.#gateway.complete(actor, request, {
        startedAt: performance.now(),
        signal: AbortSignal.timeout(TITLE_TIMEOUT_MS),
        fallbackModels: [],
        log,
      });
      if (result.kind !== 'whole') return;
      const content = result.completion().choices[0]?.message.content;
      const title = typeof content === 'string' ? cleanTitle(content) : '';
      if (title) await this.#repository.setGeneratedTitle(actor.userId, conversationId, title);
    } catch (error) {
      log.warn({ err: error, conversationId }, 'could not generate a conversation title');
    }
  }
}

/** A model's answer as a title: one line, no wrapping quotes or trailing dot, at most 80 characters. */
export function cleanTitle(text: string): string {
  const line = withoutNul(text)
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/^(title:\s*)/i, '')
    .replace(/^["'“”«»*`]+|["'“”«»*`]+$/g, '')
    .replace(/[.。]$/, '')
    .trim();
  return line.length <= TITLE_LENGTH ? line : `${line.slice(0, TITLE_LENGTH - 1).trimEnd()}…`;
}
