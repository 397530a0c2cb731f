import type { Logger } from 'pino';
import type { Principal } from '../auth/principal.ts';
import { KeywayError } from '../errors.ts';
import type { ChatRequest, ContentPart } from '../gateway/openai-types.ts';
import type { Citation, Grounder, Grounding } from '../knowledge/grounding.ts';

/** Which knowledge bases a user may read: the knowledge capability's rule, asked by id. */
export interface KnowledgeBaseAccess {
  readable(principal: Principal, id: string): Promise<boolean>;
}

const NOTHING: Grounding = { context: null, citations: [] };

/**
 * A bot's knowledge: the passages its knowledge bases hold for a question, as its owner may read
 * them. A knowledge base the owner can no longer read (deleted, unshared) is left out, not an error:
 * the bot keeps answering, from what is left.
 */
export class BotKnowledge {
  readonly #grounder: () => Grounder | null;
  readonly #bases: KnowledgeBaseAccess;
  readonly #defaultTokenBudget: number;

  constructor(deps: {
    /**
     * Asked at each answer: retrieval embeds through the gateway, which serves `bot:<name>` through the
     * bots, so it is built after them. Null: bots answer without their knowledge (logged).
     */
    grounder: () => Grounder | null;
    bases: KnowledgeBaseAccess;
    defaultTokenBudget: number;
  }) {
    this.#grounder = deps.grounder;
    this.#bases = deps.bases;
    this.#defaultTokenBudget = deps.defaultTokenBudget;
  }

  /** Throws `not_found` naming the field when the owner cannot read one of the ids (on save). */
  async check(owner: Principal, ids: string[]): Promise<void> {
    for (const [index, id] of ids.entries()) {
      if (!(await this.#bases.readable(owner, id)))
        throw new KeywayError(
          'not_found',
          `knowledgeBaseIds.${index}: No knowledge base you may read has this id.`,
          { details: { field: `knowledgeBaseIds.${index}` } },
        );
    }
  }

  /** The context for `question` from the bot's knowledge bases; nothing when it has none. */
  async ground(
    owner: Principal,
    settings: { knowledgeBaseIds: string[]; retrievalTokenBudget: number | null },
    question: string,
    options: { signal?: AbortSignal; log: Logger },
  ): Promise<Grounding> {
    if (settings.knowledgeBaseIds.length === 0 || question.trim() === '') return NOTHING;
    const grounder = this.#grounder();
    if (!grounder) {
      options.log.warn('the bot has knowledge bases but retrieval is not available; answering without');
      return NOTHING;
    }
    const tokenBudget = settings.retrievalTokenBudget ?? this.#defaultTokenBudget;
    // Twice at most: a knowledge base lost between the check and the search is left out the second time.
    for (let attempt = 0; ; attempt++) {
      const knowledgeBaseIds = await this.#readable(owner, settings.knowledgeBaseIds, options.log);
      if (knowledgeBaseIds.length === 0) return NOTHING;
      try {
        return await grounder.ground(
          owner,
          { knowledgeBaseIds, fileIds: [], question, tokenBudget },
          options,
        );
      } catch (error) {
        if (attempt === 0 && error instanceof KeywayError && error.code === 'not_found') continue;
        throw error;
      }
    }
  }

  async #readable(owner: Principal, ids: string[], log: Logger): Promise<string[]> {
    const readable: string[] = [];
    for (const id of ids) {
      if (await this.#bases.readable(owner, id)) readable.push(id);
      else log.info({ knowledgeBaseId: id }, "a bot's knowledge base is no longer readable by its owner");
    }
    return readable;
  }
}

/** What the knowledge is searched with: the last user message's text (a merged burst for bots). */
export function questionOf(messages: ChatRequest['messages']): string {
  const content = messages.findLast((message) => message.role === 'user')?.content;
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return (content as ContentPart[])
    .flatMap((part) => (part.type === 'text' && typeof part.text === 'string' ? [part.text] : []))
    .join('\n');
}

/**
 * The line a messaging channel appends when the bot cites its sources: the sources the reply cites
 * (`[n]`), numbered as in the reply, "Sources: [1] guide.pdf p. 37; [2] faq.md (Returns)". Null when
 * the reply cites none: a source the answer did not use is not named as one.
 */
export function sourcesLine(citations: Citation[], reply: string): string | null {
  const cited = new Set([...reply.matchAll(/\[(\d{1,3})\]/g)].map((match) => Number(match[1])));
  const names = citations
    .filter((citation) => cited.has(citation.n))
    .map((citation) => {
      const where =
        citation.page !== null
          ? ` p. ${citation.page}`
          : citation.headings.length > 0
            ? ` (${citation.headings.at(-1)})`
            : '';
      return `[${citation.n}] ${citation.fileName}${where}`;
    });
  return names.length > 0 ? `Sources: ${names.join('; ')}` : null;
}
