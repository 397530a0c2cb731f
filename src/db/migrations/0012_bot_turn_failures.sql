-- A contact's turn that fails after it began (the reply could not be stored, say) is retried with
-- exponential backoff and, after a few failures, answered with the bot's failure text: never retried
-- forever, each retry a paid provider call. Added columns only: older nodes keep working.
ALTER TABLE bot_contacts ADD COLUMN failures integer NOT NULL DEFAULT 0;
ALTER TABLE bot_contacts ADD COLUMN retry_at timestamptz;
