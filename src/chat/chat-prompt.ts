import type { ChatRequest, ContentPart } from '../gateway/openai-types.ts';
import type { ChatMessageStatus, ChatRole } from '../db/tables.ts';

/** A stored message as the prompt needs it: its images by file id. */
export interface PromptMessage {
  role: ChatRole;
  content: string;
  status: ChatMessageStatus;
  imageIds: string[];
}

/**
 * The messages a reply sends to the model: the retrieved context first, as a system message (never
 * stored as a chat message), then what was said — a failed answer is not part of it, a stopped one
 * is (the user saw it). A user message carries its images as OpenAI `image_url` parts after its text;
 * an image missing from `images` (deleted since) is left out.
 */
export function promptMessages(
  history: PromptMessage[],
  options: { context: string | null; images: ReadonlyMap<string, string> },
): ChatRequest['messages'] {
  const said = history
    .filter((message) => message.status !== 'failed' && message.content !== '')
    .map((message): ChatRequest['messages'][number] => {
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
    });
  return options.context ? [{ role: 'system', content: options.context }, ...said] : said;
}
