import type { ChatRequest, ContentPart } from '../gateway/openai-types.ts';
import type { ChatMessageStatus, ChatRole } from '../db/tables.ts';
import { estimateTokens } from '../knowledge/chunker.ts';

/** A stored message as the prompt needs it: its images by file id. */
export interface PromptMessage {
  role: ChatRole;
  content: string;
  status: ChatMessageStatus;
  imageIds: string[];
}

/** How much history goes with a message (null: no bound). The message being answered always goes. */
export interface ContextWindow {
  /** The last N messages at most. */
  messages: number | null;
  /** About N tokens of history at most, newest first. */
  tokens: number | null;
}

const WHOLE_HISTORY: ContextWindow = Object.freeze({ messages: null, tokens: null });

/**
 * The messages a reply sends to the model: the system messages first (an assistant's instructions,
 * then the conversation's system prompt, then the retrieved context — never stored as chat messages),
 * then what was said on the branch, cut to the context window — a failed answer is not part of it, a
 * stopped one is (the user saw it). A user message carries its images as OpenAI `image_url` parts
 * after its text; an image missing from `images` (deleted since) is left out.
 */
export function promptMessages(
  history: PromptMessage[],
  options: {
    context: string | null;
    images: ReadonlyMap<string, string>;
    system?: (string | null)[];
    window?: ContextWindow;
  },
): ChatRequest['messages'] {
  const sayable = history.filter((message) => message.status !== 'failed' && message.content !== '');
  const said = withinWindow(sayable, options.window ?? WHOLE_HISTORY).map(
    (message): ChatRequest['messages'][number] => {
      const urls = message.imageIds.flatMap((id) => {
        const url = options.images.get(id);
        return url ? [url] : [];
      });
      if (message.role !== 'user' || urls.length === 0)
        return { role: message.role, content: message.content };
      const parts: ContentPart[] = [
        { type: 'text', text: message.content },
        ...urls.map((url) => ({ type: 'image_url' as const, image_url: { url } })),
      ];
      return { role: 'user', content: parts };
    },
  );
  const system = [...(options.system ?? []), options.context]
    .filter((text): text is string => typeof text === 'string' && text.trim() !== '')
    .map((content) => ({ role: 'system' as const, content }));
  return [...system, ...said];
}

/**
 * The newest messages that fit the window; the last one (the message being answered) always, even
 * when it alone is over the token bound (the provider says so, rather than Keyway sending nothing).
 */
export function withinWindow<T extends { content: string; role: ChatRole }>(
  messages: T[],
  window: ContextWindow,
): T[] {
  let kept = window.messages !== null ? messages.slice(-Math.max(1, window.messages)) : messages;
  if (window.tokens !== null) {
    let spent = 0;
    let from = kept.length;
    while (from > 0) {
      const cost = estimateTokens(kept[from - 1]!.content);
      if (from < kept.length && spent + cost > window.tokens) break;
      spent += cost;
      from--;
    }
    kept = kept.slice(from);
  }
  return kept;
}
