import { z } from 'zod';
import type { ExportedConversation, ExportedMessage } from './keyway-export.ts';

/**
 * ChatGPT's `conversations.json` (Settings → Data controls → Export): an array of conversations, each a
 * `mapping` of nodes `{id, parent, children, message}` forming a tree, and `current_node`, the end of
 * the branch on show. Only what import reads is described; anything else is ignored.
 */
const unixTime = z.number().finite().nullable().optional();

const nodeSchema = z.object({
  id: z.string().max(200).optional(),
  parent: z.string().max(200).nullable().optional(),
  children: z.array(z.string().max(200)).optional(),
  message: z
    .object({
      id: z.string().max(200).optional(),
      author: z.object({ role: z.string().max(50) }).optional(),
      create_time: unixTime,
      content: z
        .object({
          content_type: z.string().max(100).optional(),
          parts: z.array(z.unknown()).optional(),
          text: z.string().optional(),
        })
        .optional(),
      recipient: z.string().max(200).optional(),
      metadata: z
        .object({
          is_visually_hidden_from_conversation: z.boolean().optional(),
          model_slug: z.string().max(300).nullable().optional(),
        })
        .optional(),
    })
    .nullable()
    .optional(),
});

export const chatGptConversationSchema = z.object({
  title: z.string().nullable().optional(),
  create_time: unixTime,
  update_time: unixTime,
  mapping: z.record(z.string().max(200), nodeSchema),
  current_node: z.string().max(200).nullable().optional(),
  default_model_slug: z.string().max(300).nullable().optional(),
});

export const chatGptExportSchema = z.array(chatGptConversationSchema);

export type ChatGptConversation = z.infer<typeof chatGptConversationSchema>;
type ChatGptNode = z.infer<typeof nodeSchema>;

/** Whether a body looks like ChatGPT's export: an array of objects with a `mapping`, or one such object. */
export const looksLikeChatGpt = (body: unknown): boolean => {
  const first = Array.isArray(body) ? body[0] : body;
  return typeof first === 'object' && first !== null && 'mapping' in first;
};

/** Text content types a person reads in ChatGPT; code runs, tool output, browsing and reasoning are not. */
const READABLE_CONTENT = new Set(['text', 'multimodal_text']);

/**
 * The text a node shows in ChatGPT, or null when ChatGPT shows none: the empty root, system and tool
 * messages, hidden ones (custom instructions), an assistant's calls to a tool, non-text content.
 * An image in a message is kept as a marker: its bytes are not in `conversations.json`.
 */
function readableText(node: ChatGptNode): { role: 'user' | 'assistant'; text: string } | null {
  const message = node.message;
  const role = message?.author?.role;
  if (!message || (role !== 'user' && role !== 'assistant')) return null;
  if (message.metadata?.is_visually_hidden_from_conversation) return null;
  if (role === 'assistant' && message.recipient !== undefined && message.recipient !== 'all') return null;
  const type = message.content?.content_type ?? 'text';
  if (!READABLE_CONTENT.has(type)) return null;
  const parts = (message.content?.parts ?? (message.content?.text ? [message.content.text] : [])).map(
    (part) =>
      typeof part === 'string'
        ? part
        : typeof part === 'object' && part !== null && 'asset_pointer' in part
          ? '[image not imported]'
          : '',
  );
  const text = parts.filter((part) => part !== '').join('\n\n');
  return text.trim() === '' ? null : { role, text };
}

const isoFromUnix = (seconds: number | null | undefined, fallback: string) =>
  typeof seconds === 'number' && Number.isFinite(seconds) && seconds > 0 && seconds < 1e11
    ? new Date(Math.round(seconds * 1000)).toISOString()
    : fallback;

/**
 * One ChatGPT conversation as a Keyway export conversation: every branch kept, messages ChatGPT does
 * not show left out (their replies move up to the nearest shown message), an answer continued after a
 * hidden tool call joined into one answer, and `current_node` (or the nearest shown message above it)
 * as the branch on show.
 */
export function fromChatGpt(conversation: ChatGptConversation, now: string): ExportedConversation {
  const mapping = conversation.mapping;
  const createdAt = isoFromUnix(conversation.create_time, now);
  const nodeIds = Object.keys(mapping);
  const parentOf = (id: string): string | null => {
    const parent = mapping[id]?.parent ?? null;
    return parent !== null && Object.hasOwn(mapping, parent) ? parent : null;
  };
  // Children as each node lists them (its order is ChatGPT's sibling order), else as parents claim them.
  const childrenOf = new Map<string, string[]>();
  for (const id of nodeIds) {
    const parent = parentOf(id);
    if (parent === null) continue;
    const list = childrenOf.get(parent) ?? [];
    list.push(id);
    childrenOf.set(parent, list);
  }
  const roots = nodeIds.filter((id) => parentOf(id) === null);

  const messages: ExportedMessage[] = [];
  /** A shown node's message, or for a hidden one the shown message its replies follow. */
  const keptAs = new Map<string, string | null>();
  const byId = new Map<string, ExportedMessage>();
  const repliesOf = new Map<string | null, number>();
  const visited = new Set<string>();
  const pending: { id: string; keptParent: string | null }[] = roots
    .map((id) => ({ id, keptParent: null }))
    .reverse();
  for (let item = pending.pop(); item; item = pending.pop()) {
    if (visited.has(item.id)) continue;
    visited.add(item.id);
    const node = mapping[item.id]!;
    const shown = readableText(node);
    let kept = item.keptParent;
    if (shown) {
      const parent = kept !== null ? byId.get(kept) : undefined;
      const onlyChild = (childrenOf.get(node.parent ?? '') ?? []).length <= 1;
      if (parent && parent.role === shown.role && onlyChild && (repliesOf.get(kept) ?? 0) === 0) {
        // The same speaker again with nothing shown in between: one message in ChatGPT's eyes.
        parent.content = `${parent.content}\n\n${shown.text}`;
      } else {
        const message: ExportedMessage = {
          id: item.id,
          parentId: kept,
          role: shown.role,
          content: shown.text,
          model:
            (shown.role === 'assistant' ? node.message?.metadata?.model_slug : undefined) ??
            conversation.default_model_slug ??
            'chatgpt',
          status: 'complete',
          error: null,
          createdAt: isoFromUnix(node.message?.create_time, createdAt),
        };
        messages.push(message);
        byId.set(message.id, message);
        repliesOf.set(kept, (repliesOf.get(kept) ?? 0) + 1);
        kept = message.id;
      }
    }
    keptAs.set(item.id, kept);
    const children = [...new Set([...(node.children ?? []), ...(childrenOf.get(item.id) ?? [])])].filter(
      (child) => Object.hasOwn(mapping, child) && parentOf(child) === item!.id,
    );
    for (const child of children.reverse()) pending.push({ id: child, keptParent: kept });
  }

  const currentNode = conversation.current_node ?? null;
  const currentLeafId = currentNode !== null ? (keptAs.get(currentNode) ?? null) : null;
  const lastTime = messages.reduce(
    (latest, message) => (message.createdAt > latest ? message.createdAt : latest),
    createdAt,
  );
  const model =
    conversation.default_model_slug ??
    messages.findLast((message) => message.role === 'assistant')?.model ??
    'chatgpt';
  return {
    id: '',
    title: conversation.title?.trim() || 'Imported from ChatGPT',
    titleSource: 'user',
    model,
    folder: null,
    pinned: false,
    archivedAt: null,
    settings: {
      systemPrompt: null,
      temperature: null,
      maxTokens: null,
      contextMessages: null,
      contextTokens: null,
    },
    currentLeafId,
    createdAt,
    updatedAt: isoFromUnix(conversation.update_time, lastTime),
    messages,
  };
}
