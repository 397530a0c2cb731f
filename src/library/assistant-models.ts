import type { Logger } from 'pino';
import type { Principal } from '../auth/principal.ts';
import type { AssistantProfile } from '../chat/chat-settings.ts';
import type { ModelOption } from '../chat/chat-models.ts';
import { KeywayError } from '../errors.ts';
import { ASSISTANT_PREFIX, type AssistantModels } from '../gateway/bot-models.ts';
import type { ChatRequest, ContentPart } from '../gateway/openai-types.ts';
import type { Grounder } from '../knowledge/grounding.ts';
import type { AssistantsService } from './assistants.service.ts';
import type { KnowledgeBaseAccess } from './model-check.ts';

type Assistants = Pick<AssistantsService, 'byName' | 'list'>;

/**
 * `assistant:<name>` on `/v1` (and wherever the gateway answers a model name): the assistant's model,
 * its instructions as the first system message, the passages of its knowledge bases, its temperature
 * and output limit as defaults (the caller's own values win). Everything runs as the caller: their
 * credentials answer, their grants and limits apply, their usage is recorded — and retrieval reads
 * only the knowledge bases the caller may read (a member of a team the assistant is shared with gets
 * its knowledge when its knowledge bases are shared with them too).
 */
export class AssistantModelsAdapter implements AssistantModels {
  readonly #assistants: Assistants;
  readonly #grounder: () => Grounder | null;
  readonly #bases: KnowledgeBaseAccess;
  readonly #tokenBudget: number;
  readonly #logger: Logger;

  constructor(deps: {
    assistants: Assistants;
    /** Asked at each answer: retrieval embeds through the gateway, which is built after this. */
    grounder: () => Grounder | null;
    knowledgeBases: KnowledgeBaseAccess;
    tokenBudget: number;
    logger: Logger;
  }) {
    this.#assistants = deps.assistants;
    this.#grounder = deps.grounder;
    this.#bases = deps.knowledgeBases;
    this.#tokenBudget = deps.tokenBudget;
    this.#logger = deps.logger;
  }

  async apply(
    principal: Principal,
    request: ChatRequest,
    options: { signal?: AbortSignal; log?: Logger; ground?: boolean } = {},
  ): Promise<ChatRequest> {
    const assistant = await findAssistant(this.#assistants, principal, request.model);
    const log = options.log ?? this.#logger;
    const context =
      options.ground === false
        ? null
        : await this.#context(principal, assistant, questionOf(request.messages), {
            signal: options.signal,
            log,
          });
    return withAssistant(assistant, request, context);
  }

  async list(principal: Principal): Promise<{ name: string }[]> {
    return usableNames(principal, await this.#assistants.list(principal)).map((name) => ({ name }));
  }

  /** The numbered passages of the assistant's knowledge bases (those the caller may read) for the question. */
  async #context(
    principal: Principal,
    assistant: AssistantProfile,
    question: string,
    options: { signal?: AbortSignal | undefined; log: Logger },
  ): Promise<string | null> {
    if (assistant.knowledgeBaseIds.length === 0 || question.trim() === '') return null;
    const grounder = this.#grounder();
    if (!grounder) {
      options.log.warn('the assistant has knowledge bases but retrieval is not available; answering without');
      return null;
    }
    const knowledgeBaseIds: string[] = [];
    for (const id of assistant.knowledgeBaseIds)
      if (await this.#bases.readable(principal, id)) knowledgeBaseIds.push(id);
    if (knowledgeBaseIds.length === 0) return null;
    const grounding = await grounder.ground(
      principal,
      { knowledgeBaseIds, fileIds: [], question, tokenBudget: this.#tokenBudget },
      { ...(options.signal ? { signal: options.signal } : {}), log: options.log },
    );
    return grounding.context;
  }
}

/** The assistants a caller may pick in the chat, as `assistant:<name>` (kind `assistant`). */
export function assistantModelOptions(assistants: Pick<AssistantsService, 'list' | 'byName'>) {
  return {
    handles: (model: string) => model.startsWith(ASSISTANT_PREFIX),
    async list(principal: Principal): Promise<(Omit<ModelOption, 'kind'> & { kind: 'assistant' })[]> {
      return usableNames(principal, await assistants.list(principal)).map((name) => ({
        id: `${ASSISTANT_PREFIX}${name}`,
        label: `${name} (assistant)`,
        kind: 'assistant' as const,
      }));
    },
    async check(principal: Principal, model: string): Promise<void> {
      await findAssistant(assistants, principal, model);
    },
  };
}

/**
 * The names `assistant:<name>` reaches, once each: when a shared assistant has the name of one of the
 * caller's own (in any case), the name reaches theirs, so it is listed once.
 */
function usableNames(principal: Principal, assistants: { name: string; ownerId: string }[]): string[] {
  const ordered = [...assistants].sort(
    (a, b) => Number(a.ownerId !== principal.userId) - Number(b.ownerId !== principal.userId),
  );
  const seen = new Set<string>();
  const names: string[] = [];
  for (const { name } of ordered) {
    if (seen.has(name.toLowerCase())) continue;
    seen.add(name.toLowerCase());
    names.push(name);
  }
  return names.sort((a, b) => a.localeCompare(b));
}

/** The assistant `assistant:<name>` names for this caller, or `model_not_found` (as `/v1` says it). */
async function findAssistant(
  assistants: Pick<AssistantsService, 'byName'>,
  principal: Principal,
  model: string,
): Promise<AssistantProfile> {
  const name = model.slice(ASSISTANT_PREFIX.length);
  try {
    return await assistants.byName(principal, name);
  } catch (error) {
    if (error instanceof KeywayError && error.code === 'not_found')
      throw new KeywayError('model_not_found', `You have no assistant named "${name}".`, {
        details: { param: 'model' },
      });
    throw error;
  }
}

/** The assistant's messages before the caller's, its model, its parameters as defaults. */
export function withAssistant(
  assistant: AssistantProfile,
  request: ChatRequest,
  context: string | null,
): ChatRequest {
  const prefix = [
    ...(assistant.instructions.trim() !== ''
      ? [{ role: 'system' as const, content: assistant.instructions }]
      : []),
    ...(context ? [{ role: 'system' as const, content: context }] : []),
  ];
  const merged: Record<string, unknown> = { ...request, model: assistant.model };
  if (assistant.temperature !== null && merged.temperature === undefined)
    merged.temperature = assistant.temperature;
  // The caller's own output limit, under either name, wins.
  if (
    assistant.maxTokens !== null &&
    merged.max_tokens === undefined &&
    merged.max_completion_tokens === undefined
  )
    merged.max_tokens = assistant.maxTokens;
  return { ...(merged as ChatRequest), messages: [...prefix, ...request.messages] };
}

/** What the knowledge is searched with: the last user message's text. */
function questionOf(messages: ChatRequest['messages']): string {
  const content = messages.findLast((message) => message.role === 'user')?.content;
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return (content as ContentPart[])
    .flatMap((part) => (part.type === 'text' && typeof part.text === 'string' ? [part.text] : []))
    .join('\n');
}
