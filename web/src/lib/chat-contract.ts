/**
 * The shapes of issue 16's chat API as the UI uses them (branches, per-conversation settings,
 * folders, presets, assistants, prompts, shares, export and import), derived from the server's
 * OpenAPI document like everything in `api/types.ts`.
 */
import type { GroundedMessage, ResponseBody } from '../api/types.ts';

type Item<T> = T extends readonly (infer I)[] ? I : never;

/** A conversation in the sidebar: where it is kept (folder, pinned, archived) and how it answers. */
export type KeptConversation = Item<ResponseBody<'/api/conversations', 'get'>>;

/** `GET /api/conversations/:id`: the branch on show, root first. */
export type BranchedConversation = ResponseBody<'/api/conversations/{id}', 'get'>;

/** A conversation's own settings; null: the model's (or the assistant's) default. */
export type ChatSettingsValues = KeptConversation['settings'];

export const noSettings: ChatSettingsValues = {
  systemPrompt: null,
  temperature: null,
  maxTokens: null,
  contextMessages: null,
  contextTokens: null,
};

/** A message's place among its siblings (it and the other versions under the same parent). */
export type Siblings = NonNullable<GroundedMessage['siblings']>;

/** The siblings of a message when it has any (a message alone, or made on this side: null). */
export function siblingsOf(message: GroundedMessage): Siblings | null {
  const siblings = message.siblings;
  return siblings && siblings.ids.length > 1 ? siblings : null;
}

export type Folder = Item<ResponseBody<'/api/folders', 'get'>>;

export type Preset = Item<ResponseBody<'/api/presets', 'get'>>;

export type Assistant = Item<ResponseBody<'/api/assistants', 'get'>>;

/** A saved prompt: `variables` are the `{{names}}` in `content`, in order, once each. */
export type SavedPrompt = Item<ResponseBody<'/api/prompts', 'get'>>;

export type ChatPreferences = ResponseBody<'/api/me/chat-preferences', 'get'>;

/** A share link as listed (its secret link is shown only when made). */
export type Share = Item<ResponseBody<'/api/shares', 'get'>>;

/** A share link just made, with its `url` (shown once). */
export type CreatedShare = ResponseBody<'/api/conversations/{id}/shares', 'post'>;

export type ImportResult = ResponseBody<'/api/import/conversations', 'post'>;

export const conversationPath = (id: string) => `/api/conversations/${encodeURIComponent(id)}`;
