import type { Principal } from '../auth/principal.ts';

/**
 * The settings a conversation, a preset and an assistant carry (issue 16). Null means "the default":
 * the provider's own temperature and output limit, and the whole branch as context.
 */
export interface ChatSettings {
  systemPrompt: string | null;
  temperature: number | null;
  maxTokens: number | null;
  /** Send only the last N messages of the branch (null: all). */
  contextMessages: number | null;
  /** Send about this many tokens of history at most, newest first (null: no bound). */
  contextTokens: number | null;
}

/** What an assistant brings to a conversation or to a `/v1` call naming `assistant:<name>`. */
export interface AssistantProfile {
  id: string;
  name: string;
  /** The model it answers with (any name `/v1` accepts, `bot:` excepted). */
  model: string;
  /** Sent as the system message, before the conversation's own system prompt. */
  instructions: string;
  temperature: number | null;
  maxTokens: number | null;
  contextMessages: number | null;
  contextTokens: number | null;
  /** Searched for every answer, as knowledge bases attached to a conversation are. */
  knowledgeBaseIds: string[];
}

/**
 * Finds the assistants a caller may use: their own and those shared with a team they are in.
 * Both throw `KeywayError('not_found')` for one the caller may not use (or that does not exist).
 */
export interface AssistantDirectory {
  byId(actor: Principal, id: string): Promise<AssistantProfile>;
  /** `assistant:<name>`: the caller's own first, then one shared with them (case-insensitive). */
  byName(actor: Principal, name: string): Promise<AssistantProfile>;
}
