-- The sidebar search (src/chat/conversation-search.ts): the words of each conversation's messages, one
-- row a conversation, behind a GIN index. A search then costs what its matching conversations cost, even
-- for a word that is in nearly every message. `simple`: no stemming, no stop words, lower case, any
-- language. Positions are stripped (only whether a word is there counts).
--
-- Bounded so that no message can fail to store: only the first 50,000 characters of a message are read
-- (a tsvector holds at most 1 MB), words longer than 64 bytes are left out, and a conversation keeps at
-- most 12,000 distinct words (12,000 × (64 + 4 bytes) stays under 1 MB); past that, new words are not
-- searchable. Kept up to date by triggers on chat_messages: a new or grown message adds its words; a
-- deleted one has its conversation's words read again.
CREATE TABLE chat_conversation_search (
  conversation_id uuid PRIMARY KEY REFERENCES chat_conversations (id) ON DELETE CASCADE,
  words tsvector NOT NULL
);
CREATE INDEX chat_conversation_search_words_idx ON chat_conversation_search USING gin (words);

-- The words of one text, bounded as above.
CREATE FUNCTION chat_search_words(content text) RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT array_to_tsvector(ARRAY(
    SELECT word FROM unnest(tsvector_to_array(to_tsvector('simple'::regconfig, left(content, 50000)))) AS word
     WHERE octet_length(word) <= 64
  ))
$$;

-- `known` with `added`'s words, or `known` unchanged when the union would pass 12,000 words.
CREATE FUNCTION chat_search_union(known tsvector, added tsvector) RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN known IS NULL THEN
      CASE WHEN length(added) <= 12000 THEN added
           ELSE array_to_tsvector((tsvector_to_array(added))[1:12000]) END
    WHEN length(known) + length(added) <= 12000 THEN known || added
    ELSE known
  END
$$;

CREATE FUNCTION chat_messages_search_added() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO chat_conversation_search AS s (conversation_id, words)
  SELECT m.conversation_id, chat_search_union(NULL, array_to_tsvector(array_agg(DISTINCT word)))
    FROM added_messages m, unnest(tsvector_to_array(chat_search_words(m.content))) AS word
   GROUP BY m.conversation_id
  ON CONFLICT (conversation_id) DO UPDATE SET words = chat_search_union(s.words, EXCLUDED.words);
  RETURN NULL;
END
$$;

CREATE FUNCTION chat_messages_search_removed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  UPDATE chat_conversation_search s
     SET words = coalesce((
       SELECT chat_search_union(NULL, array_to_tsvector(ARRAY(
                SELECT DISTINCT word FROM chat_messages m,
                       unnest(tsvector_to_array(chat_search_words(m.content))) AS word
                 WHERE m.conversation_id = s.conversation_id))))
     , ''::tsvector)
   WHERE s.conversation_id IN (SELECT DISTINCT conversation_id FROM removed_messages);
  RETURN NULL;
END
$$;

CREATE TRIGGER chat_messages_search_inserted AFTER INSERT ON chat_messages
  REFERENCING NEW TABLE AS added_messages
  FOR EACH STATEMENT EXECUTE FUNCTION chat_messages_search_added();
CREATE TRIGGER chat_messages_search_updated AFTER UPDATE ON chat_messages
  REFERENCING NEW TABLE AS added_messages
  FOR EACH STATEMENT EXECUTE FUNCTION chat_messages_search_added();
CREATE TRIGGER chat_messages_search_deleted AFTER DELETE ON chat_messages
  REFERENCING OLD TABLE AS removed_messages
  FOR EACH STATEMENT EXECUTE FUNCTION chat_messages_search_removed();

INSERT INTO chat_conversation_search (conversation_id, words)
SELECT m.conversation_id, chat_search_union(NULL, array_to_tsvector(array_agg(DISTINCT word)))
  FROM chat_messages m, unnest(tsvector_to_array(chat_search_words(m.content))) AS word
 GROUP BY m.conversation_id;
