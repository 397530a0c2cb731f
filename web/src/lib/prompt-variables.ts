/** `{{name}}` placeholders in a saved prompt: found in order (once each) and filled in. */

const PLACEHOLDER = /\{\{\s*([^{}]+?)\s*\}\}/g;

/**
 * The names of a prompt's placeholders, in order of first appearance, each once — the server's rule
 * (src/library/prompt-variables.ts, the `variables` it answers): a name is letters, digits, `_`, `.`,
 * `-` and inner spaces, at most 64 characters; anything else between braces is plain text.
 */
export function promptVariables(content: string): string[] {
  const names: string[] = [];
  for (const found of content.matchAll(/\{\{([A-Za-z0-9_ .-]{1,96})\}\}/g)) {
    const name = found[1]!.trim();
    if (name !== '' && name.length <= 64 && !names.includes(name)) names.push(name);
  }
  return names;
}

/** The prompt with every placeholder replaced by its value (one not given stays as written). */
export function fillPrompt(content: string, values: Record<string, string>): string {
  return content.replace(PLACEHOLDER, (whole, name: string) =>
    Object.hasOwn(values, name) ? values[name]! : whole,
  );
}

/**
 * The prompt-library query of a composer's text: what follows a `/` typed at the start of a line at
 * the end of the text (`/sum` → `sum`); null when the text does not end in one.
 */
export function slashQuery(text: string): string | null {
  const found = /(?:^|\n)\/([^\s/]*)$/.exec(text);
  return found ? found[1]! : null;
}

/** The composer's text with the trailing `/query` replaced by a prompt. */
export function replaceSlash(text: string, inserted: string): string {
  return text.replace(/\/[^\s/]*$/, inserted);
}
