import type { ChatMessage, ChatStreamEvent, GroundedMessage } from '../api/types.ts';

export type { ChatStreamEvent };

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function isMessage(value: unknown): value is ChatMessage {
  return (
    isObject(value) &&
    typeof value.id === 'string' &&
    (value.role === 'user' || value.role === 'assistant') &&
    typeof value.content === 'string'
  );
}

/** Parses one `data:` payload; anything unrecognised (a keep-alive, a future event type) is null. */
export function parseChatEvent(data: string): ChatStreamEvent | null {
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return null;
  }
  if (!isObject(value)) return null;
  switch (value.type) {
    case 'user':
    case 'done':
      return isMessage(value.message) ? { type: value.type, message: value.message } : null;
    case 'delta':
      return typeof value.text === 'string' ? { type: 'delta', text: value.text } : null;
    case 'error':
      return {
        type: 'error',
        code: typeof value.code === 'string' ? value.code : 'error',
        message: typeof value.message === 'string' ? value.message : 'The reply failed.',
        ...(isObject(value.details) ? { details: value.details } : {}),
      };
    default:
      return null;
  }
}

/** The conversation as shown while a reply streams in. */
export interface ChatView {
  messages: GroundedMessage[];
  /** The reply being written; null when none is. */
  streaming: { content: string } | null;
  error: { code: string; message: string } | null;
}

export type ChatAction =
  | { type: 'load'; messages: GroundedMessage[] }
  /** A send starts: the list is cut at `keep` messages, then the optimistic user message (if any). */
  | { type: 'start'; keep: number; pending: GroundedMessage | null }
  | { type: 'event'; event: ChatStreamEvent }
  /** The user stopped (or the connection broke): what arrived stays, marked stopped. */
  | { type: 'stopped'; at: string; model: string | null }
  /** The server's copy of the branch: each message on screen learns its place (parent, siblings). */
  | { type: 'placed'; messages: GroundedMessage[] };

/** A message made on this side (a stopped or broken reply): no attachments, no sources. */
export const unattached = () => ({
  attachments: { files: [], knowledgeBases: [] },
  citations: [],
});

export const emptyChat: ChatView = { messages: [], streaming: null, error: null };

/** How a stream's events change the conversation on screen. Pure, for tests and for `useReducer`. */
export function chatReducer(state: ChatView, action: ChatAction): ChatView {
  switch (action.type) {
    case 'load':
      return { messages: action.messages, streaming: null, error: null };
    case 'start': {
      const kept = state.messages.slice(0, action.keep);
      return {
        messages: action.pending ? [...kept, action.pending] : kept,
        streaming: { content: '' },
        error: null,
      };
    }
    case 'placed': {
      const stored = new Map(action.messages.map((message) => [message.id, message]));
      return {
        ...state,
        messages: state.messages.map((message) => {
          const found = stored.get(message.id);
          return found ? { ...message, parentId: found.parentId, siblings: found.siblings } : message;
        }),
      };
    }
    case 'stopped': {
      if (!state.streaming) return state;
      const partial: GroundedMessage = {
        id: `local-stopped-${action.at}`,
        role: 'assistant',
        content: state.streaming.content,
        // No model known: shown without one, like any message whose model is ''.
        model: action.model ?? '',
        status: 'stopped',
        error: null,
        ...unattached(),
        createdAt: action.at,
      };
      return { ...state, messages: [...state.messages, partial], streaming: null };
    }
    case 'event': {
      const event = action.event;
      switch (event.type) {
        case 'user': {
          // The server's copy replaces the optimistic one (same place, now with its real id).
          const messages = [...state.messages];
          const last = messages[messages.length - 1];
          if (last && last.role === 'user' && last.id.startsWith('local-')) messages.pop();
          return { ...state, messages: [...messages, event.message] };
        }
        case 'delta':
          return state.streaming
            ? { ...state, streaming: { content: state.streaming.content + event.text } }
            : { ...state, streaming: { content: event.text } };
        case 'done':
          return { ...state, messages: [...state.messages, event.message], streaming: null };
        case 'error': {
          const messages = state.streaming?.content
            ? [
                ...state.messages,
                {
                  id: `local-failed-${state.messages.length}`,
                  role: 'assistant' as const,
                  content: state.streaming.content,
                  model: '',
                  status: 'failed' as const,
                  error: null,
                  ...unattached(),
                  createdAt: new Date(0).toISOString(),
                },
              ]
            : state.messages;
          return { messages, streaming: null, error: { code: event.code, message: event.message } };
        }
      }
    }
  }
}

/** Where an edit of message `id` cuts the conversation: everything before it stays. */
export function keepBefore(messages: GroundedMessage[], id: string): number {
  const index = messages.findIndex((message) => message.id === id);
  return index === -1 ? messages.length : index;
}

/** Where a regenerate cuts: before the last assistant reply (if the conversation ends with one). */
export function keepForRegenerate(messages: GroundedMessage[]): number {
  const last = messages[messages.length - 1];
  return last && last.role === 'assistant' ? messages.length - 1 : messages.length;
}

/** A title for a new conversation from its first message: one line, at most 60 characters. */
export function titleFrom(content: string): string {
  const line = content.trim().split('\n')[0]!.replace(/\s+/g, ' ');
  return line.length > 60 ? line.slice(0, 57).trimEnd() + '…' : line || 'New chat';
}
