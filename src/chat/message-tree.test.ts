import { describe, expect, it } from 'vitest';
import { branchTo, newestLeafUnder, siblingsOf, subtreeOf } from './message-tree.ts';

// q1 → a1 → q2 → a2
//           ↘ q2b → a2b
//      a1 → q2 → a3 (regenerated)
const tree = [
  { id: 'q1', parentId: null },
  { id: 'a1', parentId: 'q1' },
  { id: 'q2', parentId: 'a1' },
  { id: 'a2', parentId: 'q2' },
  { id: 'q2b', parentId: 'a1' },
  { id: 'a2b', parentId: 'q2b' },
  { id: 'a3', parentId: 'q2' },
];
const ids = (messages: { id: string }[]) => messages.map((message) => message.id);

describe('message tree', () => {
  it('follows a branch from its leaf back to the root, and shows the newest branch without one', () => {
    expect(ids(branchTo(tree, 'a2b'))).toEqual(['q1', 'a1', 'q2b', 'a2b']);
    expect(ids(branchTo(tree, 'a2'))).toEqual(['q1', 'a1', 'q2', 'a2']);
    expect(ids(branchTo(tree, null))).toEqual(['q1', 'a1', 'q2', 'a3']);
    expect(ids(branchTo(tree, 'deleted-since'))).toEqual(['q1', 'a1', 'q2', 'a3']);
    expect(branchTo([], null)).toEqual([]);
  });

  it('finds the newest leaf under a message and its whole subtree', () => {
    expect(newestLeafUnder(tree, 'q2')).toBe('a3');
    expect(newestLeafUnder(tree, 'q2b')).toBe('a2b');
    expect(newestLeafUnder(tree, 'a2')).toBe('a2');
    expect(ids(subtreeOf(tree, 'a1'))).toEqual(['a1', 'q2', 'a2', 'q2b', 'a2b', 'a3']);
    expect(ids(subtreeOf(tree, 'q2'))).toEqual(['q2', 'a2', 'a3']);
  });

  it('numbers siblings in creation order', () => {
    const siblings = siblingsOf(tree);
    expect(siblings.get('q2b')).toEqual({ ids: ['q2', 'q2b'], index: 1 });
    expect(siblings.get('a3')).toEqual({ ids: ['a2', 'a3'], index: 1 });
    expect(siblings.get('q1')).toEqual({ ids: ['q1'], index: 0 });
  });

  it('does not loop on a damaged cycle', () => {
    const cycle = [
      { id: 'x', parentId: 'y' },
      { id: 'y', parentId: 'x' },
    ];
    expect(branchTo(cycle, 'x').length).toBeLessThanOrEqual(3);
  });
});
