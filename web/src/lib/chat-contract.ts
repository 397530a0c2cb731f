/**
 * The shapes of issue 16's chat API as the contract between the server and this UI describes them
 * (branches, per-conversation settings, folders, presets, assistants, prompts, shares). Written by
 * hand while the routes land; each names the route it belongs to.
 */
import type { ConversationSummary, GroundedConversation, GroundedMessage } from '../api/types.ts';

/** A conversation's own settings; null: the model's (or the assistant's) default. */
export interface ChatSettingsValues {
  systemPrompt: string | null;
  temperature: number | null;
  maxTokens: number | null;
  contextMessages: number | null;
  contextTokens: number | null;
}

export const noSettings: ChatSettingsValues = {
  systemPrompt: null,
  temperature: null,
  maxTokens: null,
  contextMessages: null,
  contextTokens: null,
};

/** What `GET /api/conversations` adds to a conversation: where it is kept and how it answers. */
export interface KeptFields {
  folderId?: string | null;
  pinned?: boolean;
  archivedAt?: string | null;
  assistantId?: string | null;
  titleSource?: 'auto' | 'generated' | 'user';
  settings?: Partial<ChatSettingsValues>;
}

export type KeptConversation = ConversationSummary & KeptFields;

/** `GET /api/conversations/:id`: the branch on show, root first. */
export type BranchedConversation = GroundedConversation & KeptFields & { messages: BranchedMessage[] };

/** A message's place among its siblings (it and the other answers to the same parent). */
export interface Siblings {
  ids: string[];
  index: number;
}

export type BranchedMessage = GroundedMessage & { parentId?: string | null; siblings?: Siblings };

/** The siblings of a message when it has any (a message alone, or from an older server: null). */
export function siblingsOf(message: GroundedMessage): Siblings | null {
  const siblings = (message as BranchedMessage).siblings;
  return siblings && siblings.ids.length > 1 ? siblings : null;
}

/** `GET /api/folders`. */
export interface Folder {
  id: string;
  name: string;
  createdAt: string;
  updatedAt: string;
}

/** `GET /api/presets`. */
export interface Preset {
  id: string;
  name: string;
  model: string | null;
  settings: Partial<ChatSettingsValues>;
  mine: boolean;
  owner: { id: string; name: string };
}

/** `GET /api/assistants`. */
export interface Assistant {
  id: string;
  name: string;
  description: string;
  model: string;
  instructions: string;
  starterPrompts: string[];
  avatarColor: string | null;
  mine: boolean;
}

/** `GET /api/prompts`: `variables` are the `{{names}}` in `content`, in order, once each. */
export interface SavedPrompt {
  id: string;
  name: string;
  content: string;
  variables: string[];
}

/** `GET|PATCH /api/me/chat-preferences`. */
export interface ChatPreferences {
  titleModel: string | null;
  defaultTitleModel: string | null;
}

/** `GET /api/shares` and `POST /api/conversations/:id/shares` (only the latter has the `url`). */
export interface Share {
  id: string;
  url?: string;
  expiresAt: string | null;
  createdAt: string;
  title: string;
  conversationId?: string;
}

/** `POST /api/import/conversations`. */
export interface ImportResult {
  imported: number;
  conversationIds: string[];
}

export const conversationPath = (id: string) => `/api/conversations/${encodeURIComponent(id)}`;
