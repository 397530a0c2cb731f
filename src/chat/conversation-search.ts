import { sql, type ExpressionBuilder } from 'kysely';
import type { DB } from '../db/tables.ts';

/** `%`, `_` and `\` are literal in a search: escaped for ILIKE. */
const likePattern = (text: string) => `%${text.replace(/[\\%_]/g, (char) => `\\${char}`)}%`;

/**
 * The sidebar search: a conversation (aliased `c`) whose title or any message's text contains `search`.
 * The one place search semantics live; `ConversationsRepository.list` applies it.
 */
export function conversationMatches(
  eb: ExpressionBuilder<DB & { c: DB['chat_conversations'] }, 'c'>,
  search: string,
) {
  const pattern = likePattern(search);
  return eb.or([
    eb('c.title', 'ilike', pattern),
    eb.exists(
      eb
        .selectFrom('chat_messages as m')
        .select(sql`1`.as('one'))
        .whereRef('m.conversation_id', '=', 'c.id')
        .where('m.content', 'ilike', pattern),
    ),
  ]);
}
