import { sql, type ExpressionBuilder } from 'kysely';
import type { DB } from '../db/tables.ts';

/**
 * How many characters of a message the search index reads: the expression here must be the one
 * indexed by migration 0021 (`chat_messages_search_idx`), character for character, or the index goes
 * unused. A tsvector holds at most 1 MB; 50,000 characters stay far below it whatever the text.
 */
export const SEARCHED_PREFIX_CHARS = 50_000;

/** `%`, `_` and `\` are literal in a search: escaped for ILIKE. */
const likePattern = (text: string) => `%${text.replace(/[\\%_]/g, (char) => `\\${char}`)}%`;

/**
 * The search as a text-search query: every word of it as PostgreSQL's parser splits the indexed text
 * (so `e-mail` or `example.com` read alike on both sides), each a prefix, all required. Each word is
 * quoted as tsquery quotes (quotes and backslashes doubled), so no character of the search is syntax.
 * No word at all (`%`, `!!`): null, which matches nothing.
 */
const wordsQuery = (search: string) =>
  sql`to_tsquery('simple'::regconfig, nullif(array_to_string(ARRAY(
    SELECT '''' || replace(replace(word.lexeme, '\\', '\\\\'), '''', '''''') || ''':*'
      FROM unnest(to_tsvector('simple'::regconfig, ${search})) AS word
  ), ' & '), ''))`;

/** The text a message is searched by: exactly the indexed expression. */
const indexedText = sql`to_tsvector('simple'::regconfig, left(m.content, ${sql.lit(SEARCHED_PREFIX_CHARS)}))`;

/**
 * The sidebar search: a conversation (aliased `c`) whose title contains `search` as typed (case
 * aside; `%` and `_` are literal), or whose title or any one message holds all of its words, each as a
 * whole word or the start of one ("deploy kube" finds "Deploying to Kubernetes"), case-insensitively.
 * Messages are matched through a GIN index (migration 0021), so the cost follows the matches, not the
 * length of the history. The one place search semantics live; `ConversationsRepository.list` applies it.
 */
export function conversationMatches(
  eb: ExpressionBuilder<DB & { c: DB['chat_conversations'] }, 'c'>,
  search: string,
) {
  const words = wordsQuery(search);
  return eb.or([
    eb('c.title', 'ilike', likePattern(search)),
    sql<boolean>`to_tsvector('simple'::regconfig, c.title) @@ ${words}`,
    eb(
      'c.id',
      'in',
      eb
        .selectFrom('chat_messages as m')
        .select('m.conversation_id')
        .where(sql<boolean>`${indexedText} @@ ${words}`),
    ),
  ]);
}
