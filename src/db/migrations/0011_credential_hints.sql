-- Hints are shorter now: a known public prefix, then at most the last 4 characters, and nothing at
-- all for a secret under 16 characters past that prefix (a password was mostly shown before:
-- `password-123` → `password…-123`). The secret is sealed, so each hint is rebuilt from what is
-- known without it: its length (the ciphertext is the secret's UTF-8 bytes plus a 16-byte tag), the
-- public prefix the old hint showed (at most its first 8 characters) and the old hint's last 4.
UPDATE credentials c
SET hint = CASE
    WHEN octet_length(c.secret_ciphertext) - 16 - length(known.prefix) < 16 THEN '…'
    ELSE known.prefix || '…' || right(c.hint, 4)
  END
FROM (
  SELECT
    id,
    COALESCE(
      (
        SELECT candidate
        FROM unnest(ARRAY['sk-svcacct-', 'sk-admin-', 'sk-proj-', 'sk-ant-', 'sk-or-', 'pplx-', 'gsk_', 'xai-', 'AIza', 'sk-'])
          WITH ORDINALITY AS prefixes (candidate, rank)
        WHERE starts_with(split_part(credentials.hint, '…', 1), left(candidate, 8))
        ORDER BY rank
        LIMIT 1
      ),
      ''
    ) AS prefix
  FROM credentials
) AS known
WHERE known.id = c.id AND c.secret_ciphertext IS NOT NULL;
