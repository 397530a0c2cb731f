-- The sidebar search (src/chat/conversation-search.ts) finds words and word prefixes in messages
-- through this index instead of reading every message. `simple`: no stemming, no stop words, lower
-- case, any language. Only the first 50,000 characters of a message are indexed: a tsvector holds at
-- most 1 MB, and a message of several megabytes must still be stored (the rest is simply not searchable).
CREATE INDEX chat_messages_search_idx ON chat_messages
  USING gin (to_tsvector('simple'::regconfig, left(content, 50000)));
