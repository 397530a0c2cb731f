/** What `branchOnShow` needs of a message: its id and the message it answers. */
export interface Linked {
  id: string;
  parentId: string | null;
}

/**
 * The branch a conversation shows, root first: the one ending at `leafId`, or at the newest message
 * when there is none (or it was deleted since). `messages` in creation order. The same rule as the
 * chat's own (issue 16); kept here so export and share links read stored rows alone.
 */
export function branchOnShow<T extends Linked>(messages: readonly T[], leafId: string | null): T[] {
  const byId = new Map(messages.map((message) => [message.id, message]));
  let cursor = (leafId !== null ? byId.get(leafId) : undefined) ?? messages.at(-1);
  const branch: T[] = [];
  // The bound keeps a damaged row (a cycle) from looping forever.
  while (cursor && branch.length <= messages.length) {
    branch.push(cursor);
    cursor = cursor.parentId !== null ? byId.get(cursor.parentId) : undefined;
  }
  return branch.reverse();
}

/**
 * The messages ordered so that every parent comes before its replies (siblings by their given order),
 * each with a parent that is in the list or null. A message whose parent is missing starts a branch of
 * its own; messages caught in a cycle are left out. Iterative: any depth.
 */
export function parentsFirst<T extends Linked>(messages: readonly T[]): T[] {
  const ids = new Set(messages.map((message) => message.id));
  const children = new Map<string | null, T[]>();
  for (const message of messages) {
    const parent = message.parentId !== null && ids.has(message.parentId) ? message.parentId : null;
    const list = children.get(parent) ?? [];
    list.push(parent === message.parentId ? message : { ...message, parentId: null });
    children.set(parent, list);
  }
  const ordered: T[] = [];
  const pending = [...(children.get(null) ?? [])].reverse();
  for (let message = pending.pop(); message; message = pending.pop()) {
    ordered.push(message);
    pending.push(...[...(children.get(message.id) ?? [])].reverse());
  }
  return ordered;
}
