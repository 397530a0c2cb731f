/**
 * A conversation's messages form a tree through `parentId` (issue 16): editing a message or
 * regenerating an answer adds a sibling, and the conversation shows one branch, root to leaf. These
 * are pure functions over the messages in creation order (a reply is always newer than its parent).
 */
export interface TreeMessage {
  id: string;
  parentId: string | null;
}

/** Where a message sits among its siblings (itself included), in creation order. */
export interface Siblings {
  ids: string[];
  index: number;
}

/**
 * The branch ending at `leafId`, root first. An unknown or missing leaf (null, or deleted since):
 * the branch of the newest message.
 */
export function branchTo<T extends TreeMessage>(messages: readonly T[], leafId: string | null): T[] {
  const byId = new Map(messages.map((message) => [message.id, message]));
  let cursor = (leafId !== null ? byId.get(leafId) : undefined) ?? messages.at(-1);
  const branch: T[] = [];
  // A cycle cannot be written through the API; the bound keeps a damaged row from looping forever.
  while (cursor && branch.length <= messages.length) {
    branch.push(cursor);
    cursor = cursor.parentId !== null ? byId.get(cursor.parentId) : undefined;
  }
  return branch.reverse();
}

/** The message itself and every reply under it, at any depth, in creation order. */
export function subtreeOf<T extends TreeMessage>(messages: readonly T[], id: string): T[] {
  const inside = new Set([id]);
  // Creation order puts every parent before its replies: one pass finds them all.
  return messages.filter((message) => {
    if (message.id === id) return true;
    if (message.parentId !== null && inside.has(message.parentId)) {
      inside.add(message.id);
      return true;
    }
    return false;
  });
}

/** The newest message under `id` (itself when it has no replies): the end of its newest branch. */
export function newestLeafUnder(messages: readonly TreeMessage[], id: string): string {
  return subtreeOf(messages, id).at(-1)?.id ?? id;
}

/** Each message's siblings (same parent, the first messages being siblings of each other). */
export function siblingsOf(messages: readonly TreeMessage[]): Map<string, Siblings> {
  const groups = new Map<string | null, string[]>();
  for (const message of messages) {
    const group = groups.get(message.parentId) ?? [];
    group.push(message.id);
    groups.set(message.parentId, group);
  }
  const result = new Map<string, Siblings>();
  for (const ids of groups.values()) ids.forEach((id, index) => result.set(id, { ids, index }));
  return result;
}
