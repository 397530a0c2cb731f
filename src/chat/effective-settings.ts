import type { AssistantProfile, ChatSettings } from './chat-settings.ts';

/** What one answer is asked with: the system messages in order, and the settings that apply. */
export interface EffectiveSettings {
  /** An assistant's instructions, then the conversation's system prompt (either may be missing). */
  system: string[];
  temperature: number | null;
  maxTokens: number | null;
  contextMessages: number | null;
  contextTokens: number | null;
}

/**
 * A conversation's settings over its assistant's: each one the conversation sets wins, the others
 * are the assistant's (null everywhere: the provider's defaults, the whole branch as context).
 */
export function effectiveSettings(
  conversation: ChatSettings,
  assistant: AssistantProfile | null,
): EffectiveSettings {
  return {
    system: [assistant?.instructions, conversation.systemPrompt].filter(
      (text): text is string => typeof text === 'string' && text.trim() !== '',
    ),
    temperature: conversation.temperature ?? assistant?.temperature ?? null,
    maxTokens: conversation.maxTokens ?? assistant?.maxTokens ?? null,
    contextMessages: conversation.contextMessages ?? assistant?.contextMessages ?? null,
    contextTokens: conversation.contextTokens ?? assistant?.contextTokens ?? null,
  };
}
