/**
 * The `{{names}}` in a prompt, in order, once each — what the server will answer as `variables`
 * (src/library/prompt-variables.ts), shown while the prompt is written: a name is letters, digits,
 * `_`, `.`, `-` and inner spaces, at most 64 characters; anything else between braces is plain text.
 */
export function detectVariables(content: string): string[] {
  const found: string[] = [];
  for (const match of content.matchAll(/\{\{([A-Za-z0-9_ .-]{1,96})\}\}/g)) {
    const name = match[1]!.trim();
    if (name !== '' && name.length <= 64 && !found.includes(name)) found.push(name);
  }
  return found;
}
