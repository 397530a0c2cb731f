import type { Citation } from '../knowledge/grounding.ts';
import type { AttachmentsView } from './chat-attachments.ts';
import type { ConversationRecord, MessageRecord } from './conversations.repository.ts';
import type { Siblings } from './message-tree.ts';

/** How the chat API shows conversations and messages, and what a reply streams. */

export const DEFAULT_TITLE = 'New chat';
const TITLE_LENGTH = 60;

/** A message as the API shows it. */
export interface MessageView {
  id: string;
  /** The message it follows on its branch (null: a first message). */
  parentId: string | null;
  /** It and its siblings (other edits or answers at the same place), in creation order. */
  siblings: Siblings;
  role: 'user' | 'assistant';
  content: string;
  model: string;
  status: 'complete' | 'stopped' | 'failed';
  /** Why a failed answer failed, in plain words; null otherwise. */
  error: { code: string; message: string } | null;
  attachments: AttachmentsView;
  /** An answer's numbered sources (`[1]` in its text is `n: 1`); [] when none. */
  citations: Citation[];
  createdAt: Date;
}

/** A conversation as the API shows it: where its branch on show ends is in its messages. */
export type ConversationView = Omit<ConversationRecord, 'currentLeafId'>;

/** A conversation with the messages of the branch on show, root first. */
export type ConversationWithMessages = ConversationView & { messages: MessageView[] };

/** What a reply streams, one event per SSE `data:` line. */
export type ChatEvent =
  | { type: 'user'; message: MessageView }
  | { type: 'delta'; text: string }
  | { type: 'done'; message: MessageView }
  | { type: 'error'; code: string; message: string; details?: Record<string, unknown>; messageId?: string };

export const NO_ATTACHMENTS: AttachmentsView = Object.freeze({ files: [], knowledgeBases: [] });

export const toConversationView = ({ currentLeafId: _leaf, ...view }: ConversationRecord): ConversationView =>
  view;

export const toMessageView = (
  record: MessageRecord,
  siblings: Siblings,
  attachments: AttachmentsView = NO_ATTACHMENTS,
): MessageView => ({
  id: record.id,
  parentId: record.parentId,
  siblings,
  role: record.role,
  content: record.content,
  model: record.model,
  status: record.status,
  error: record.errorCode ? { code: record.errorCode, message: record.errorMessage ?? '' } : null,
  attachments,
  citations: record.citations,
  createdAt: record.createdAt,
});

/** A title from the first user message: its first words, whitespace collapsed, at most ~60 characters. */
export function titleFrom(content: string): string {
  const text = content.replace(/\s+/g, ' ').trim();
  if (text.length <= TITLE_LENGTH) return text || DEFAULT_TITLE;
  const cut = text.slice(0, TITLE_LENGTH);
  const space = cut.lastIndexOf(' ');
  return `${space > TITLE_LENGTH / 2 ? cut.slice(0, space) : cut}…`;
}
