/**
 * Text as PostgreSQL can store it: `text` and `jsonb` cannot hold U+0000, so a NUL from a contact or
 * a provider would fail every write that carries it. Dropped (it carries nothing readable). Used
 * where text arrives that nobody may refuse (contacts' messages, providers' answers); input a person
 * sends to the API is refused instead (`invalid_text`).
 */
export function withoutNul(text: string): string {
  return text.includes('\u0000') ? text.replaceAll('\u0000', '') : text;
}
