import { sql, type ExpressionBuilder } from 'kysely';
import type { DB } from '../db/tables.ts';

/** `%`, `_` and `\` are literal in a search: escaped for ILIKE. */
const likePattern = (text: string) => `%${text.replace(/[\\%_]/g, (char) => `\\${char}`)}%`;

/**
 * The search as a text-search query: every word of it as PostgreSQL's parser splits the stored text
 * (so `e-mail`, `example.com` or `O'Brien` read alike on both sides), each a prefix, all required.
 * Words are quoted as tsquery quotes them (quotes and backslashes doubled) and read by the tsquery
 * input itself, not parsed again, so no character of the search is syntax. No word at all (`%`,
 * `!!`): null, which matches nothing.
 */
const wordsQuery = (search: string) =>
  sql`nullif(array_to_string(ARRAY(
    SELECT '''' || replace(replace(word.lexeme, '\\', '\\\\'), '''', '''''') || ''':*'
      FROM unnest(to_tsvector('simple'::regconfig, ${search})) AS word
  ), ' & '), '')::tsquery`;

/**
 * The sidebar search: a conversation (aliased `c`) whose title contains `search` as typed (case
 * aside; `%` and `_` are literal), or whose title, or whose messages together, hold every word of it,
 * each as a whole word or the start of one ("deploy kube" finds "Deploying to Kubernetes"), case aside.
 * Messages are matched through `chat_conversation_search` (migration 0021: each conversation's words,
 * kept by triggers, behind a GIN index), so the cost follows the matching conversations, never the
 * number of messages. The one place search semantics live; `ConversationsRepository.list` applies it.
 */
export function conversationMatches(
  eb: ExpressionBuilder<DB & { c: DB['chat_conversations'] }, 'c'>,
  search: string,
) {
  const words = wordsQuery(search);
  return eb.or([
    eb('c.title', 'ilike', likePattern(search)),
    sql<boolean>`to_tsvector('simple'::regconfig, c.title) @@ ${words}`,
    sql<boolean>`c.id IN (SELECT s.conversation_id FROM chat_conversation_search s WHERE s.words @@ ${words})`,
  ]);
}
