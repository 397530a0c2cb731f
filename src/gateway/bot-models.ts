import type { Logger } from 'pino';
import type { Principal } from '../auth/principal.ts';
import type { Limits } from '../limits/limits.ts';
import type { ChatRequest } from './openai-types.ts';

/** Where a bot's requests go: its credential, then its fallback credentials, each with the bot's model. */
export interface BotRoute {
  botId: string;
  /** The bot's name and limits: its requests are held to them. */
  name: string;
  limits: Limits;
  targets: { credentialId: string; model: string }[];
}

/**
 * The port through which `/v1` serves `model: "bot:<name>"`: the bots capability turns the request
 * into the bot's (its prompt and the passages of its knowledge bases before the caller's messages, its
 * parameters as defaults) and says which credentials answer it. The gateway does not depend on bots;
 * bots plug this in.
 */
export interface BotModels {
  apply(
    principal: Principal,
    request: ChatRequest,
    /** `ground: false`: without the knowledge bases' passages (when only the route is wanted). */
    options?: { signal?: AbortSignal; log?: Logger; ground?: boolean },
  ): Promise<{ request: ChatRequest; route: BotRoute }>;
  /** The caller's bots, for `/v1/models` (those without a credential cannot answer). */
  list(principal: Principal): Promise<{ name: string; credentialId: string | null }[]>;
}

/**
 * The port through which `/v1` serves `model: "assistant:<name>"` (an assistant of the caller's own,
 * or one shared with a team of theirs): the assistants capability turns the request into the
 * assistant's — its model, its instructions as the first system message, the passages of its
 * knowledge bases, its temperature and output limit as defaults — and the gateway answers it as the
 * caller (their credentials, grants, limits and usage).
 */
export interface AssistantModels {
  apply(
    principal: Principal,
    request: ChatRequest,
    /** `ground: false`: without the knowledge bases' passages (when only the model is wanted). */
    options?: { signal?: AbortSignal; log?: Logger; ground?: boolean },
  ): Promise<ChatRequest>;
  /** The assistants the caller may use, for `/v1/models`. */
  list(principal: Principal): Promise<{ name: string }[]>;
}

/** The prefix of an assistant's model names on `/v1`. */
export const ASSISTANT_PREFIX = 'assistant:';

export const isAssistantModel = (model: string) => model.startsWith(ASSISTANT_PREFIX);
