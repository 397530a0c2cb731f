/** How deep a request's JSON may nest: far past any real body (a tool's JSON schema included). */
export const MAX_JSON_DEPTH = 128;

export type JsonProblem = { kind: 'too_deep'; depth: number } | { kind: 'nul'; path: string };

/**
 * What is wrong with the shape of parsed JSON, if anything: nesting past `maxDepth` (a 100,000-deep
 * array parses, then overflows the stack of whatever recurses into it), or — with `rejectNul` — a NUL
 * character in a string or key, which PostgreSQL text cannot store. Iterative, so it cannot overflow.
 */
export function findJsonProblem(
  value: unknown,
  options: { maxDepth?: number; rejectNul: boolean },
): JsonProblem | null {
  const maxDepth = options.maxDepth ?? MAX_JSON_DEPTH;
  const pending: { value: unknown; depth: number; path: string }[] = [{ value, depth: 0, path: '' }];
  for (let item = pending.pop(); item; item = pending.pop()) {
    const { value: current, depth, path } = item;
    if (typeof current === 'string') {
      if (options.rejectNul && current.includes('\u0000')) return { kind: 'nul', path: path || '(body)' };
      continue;
    }
    if (typeof current !== 'object' || current === null) continue;
    if (depth >= maxDepth) return { kind: 'too_deep', depth: maxDepth };
    if (Array.isArray(current)) {
      for (let index = 0; index < current.length; index++)
        pending.push({ value: current[index], depth: depth + 1, path: `${path}[${index}]` });
      continue;
    }
    for (const [key, child] of Object.entries(current)) {
      const childPath = path ? `${path}.${key}` : key;
      if (options.rejectNul && key.includes('\u0000')) return { kind: 'nul', path: childPath };
      pending.push({ value: child, depth: depth + 1, path: childPath });
    }
  }
  return null;
}
