/** The longest name a `{{variable}}` may have. */
export const MAX_VARIABLE_NAME = 64;

const isNameCharacter = (code: number) =>
  (code >= 0x30 && code <= 0x39) || // 0-9
  (code >= 0x41 && code <= 0x5a) || // A-Z
  (code >= 0x61 && code <= 0x7a) || // a-z
  code === 0x5f || // _
  code === 0x20 || // space
  code === 0x2e || // .
  code === 0x2d; // -

/**
 * The `{{name}}` placeholders of a saved prompt, in order of first appearance, each once. One pass
 * over the text, no regular expression: a prompt is user text of up to 100 KB and must not be able to
 * make the server backtrack. A name is letters, digits, `_`, `.`, `-` and inner spaces (trimmed), at
 * most 64 characters; anything else between braces (`{{ }}`, `{{a{b}}`, a longer name) is plain text.
 */
export function promptVariables(content: string): string[] {
  const found = new Set<string>();
  let index = 0;
  while (index < content.length) {
    const open = content.indexOf('{{', index);
    if (open === -1) break;
    let end = open + 2;
    // Past the longest name (with room for spaces around it) it cannot be a placeholder.
    const limit = Math.min(content.length, end + MAX_VARIABLE_NAME + 32);
    while (end < limit && isNameCharacter(content.charCodeAt(end))) end++;
    if (content.startsWith('}}', end)) {
      const name = content.slice(open + 2, end).trim();
      if (name.length > 0 && name.length <= MAX_VARIABLE_NAME) found.add(name);
      index = end + 2;
    } else {
      // `{{{x}}`: the next brace may open the placeholder.
      index = open + 1;
    }
  }
  return [...found];
}
