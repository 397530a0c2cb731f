import type { ChatRole } from '../../db/tables.ts';

/** What a Markdown export shows of a message. */
export interface ReadableMessage {
  role: ChatRole;
  content: string;
  model: string;
  createdAt: Date;
}

/**
 * A conversation as a person reads it: the title, then each message of the branch on show under who
 * said it (the model for an answer) and when. Message text is Markdown already and is kept as written.
 */
export function conversationMarkdown(title: string, messages: readonly ReadableMessage[]): string {
  const lines = [`# ${oneLine(title)}`, ''];
  for (const message of messages) {
    const who = message.role === 'user' ? 'You' : `Assistant (${oneLine(message.model)})`;
    lines.push(`### ${who} · ${message.createdAt.toISOString().slice(0, 16).replace('T', ' ')} UTC`, '');
    lines.push(message.content, '');
  }
  return lines.join('\n');
}

/** A title or model name on one line, so it cannot end the heading it is in. */
const oneLine = (text: string) => text.replace(/\s+/g, ' ').trim();
