-- Inbound WhatsApp images and voice notes: what a message carried besides text. `media` says what it
-- is (`{"kind": "image" | "audio", "mimeType": ...}`); `media_bytes` holds the bytes when the webhook
-- carried them (Evolution's "webhook base64"), else null and the turn fetches them from Evolution by
-- the message id. Kept until the message is handled, then cleared. Added columns only: older nodes
-- keep working (they see such a message as content they cannot read).
ALTER TABLE bot_inbox ADD COLUMN media jsonb;
ALTER TABLE bot_inbox ADD COLUMN media_bytes bytea;
