import { describe, expect, it } from 'vitest';
import { KeywayError } from '../errors.ts';
import { replyBranch } from './reply-branch.ts';

const id = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
// q1 → a1 → q2 → a2, and q2b beside q2 (answered by a2b).
const [q1, a1, q2, a2, q2b, a2b] = [1, 2, 3, 4, 5, 6].map(id) as [
  string,
  string,
  string,
  string,
  string,
  string,
];
const tree = [
  { id: q1, parentId: null, role: 'user' },
  { id: a1, parentId: q1, role: 'assistant' },
  { id: q2, parentId: a1, role: 'user' },
  { id: a2, parentId: q2, role: 'assistant' },
  { id: q2b, parentId: a1, role: 'user' },
  { id: a2b, parentId: q2b, role: 'assistant' },
];
const ids = (messages: { id: string }[]) => messages.map((message) => message.id);
const codeOf = (run: () => unknown): unknown[] | string => {
  try {
    run();
  } catch (error) {
    return error instanceof KeywayError ? [error.code, error.details] : String(error);
  }
  return 'no error';
};

describe('replyBranch', () => {
  it('continues the branch on show, or the one through parentId', () => {
    expect(ids(replyBranch(tree, a2, { content: 'next' }))).toEqual([q1, a1, q2, a2]);
    expect(ids(replyBranch(tree, null, { content: 'next' }))).toEqual([q1, a1, q2b, a2b]);
    expect(ids(replyBranch(tree, a2, { content: 'after a1', parentId: a1 }))).toEqual([q1, a1]);
    expect(replyBranch([], null, { content: 'first' })).toEqual([]);
  });

  it("edits from the edited message's parent, and regenerates after the branch's last question", () => {
    expect(ids(replyBranch(tree, a2, { content: 'edit', editOf: q2 }))).toEqual([q1, a1]);
    expect(ids(replyBranch(tree, a2, { content: 'edit', replaceFrom: q1 }))).toEqual([]);
    expect(ids(replyBranch(tree, a2, { regenerate: true }))).toEqual([q1, a1, q2]);
    expect(ids(replyBranch(tree, q2, { regenerate: true }))).toEqual([q1, a1, q2]);
    expect(ids(replyBranch(tree, a2, { regenerate: true, parentId: a2b }))).toEqual([q1, a1, q2b]);
  });

  it('refuses contradictions and messages of elsewhere with stable codes', () => {
    expect(codeOf(() => replyBranch(tree, null, {}))).toEqual(['validation_failed', { field: 'content' }]);
    expect(codeOf(() => replyBranch(tree, null, { content: ' ' }))).toEqual([
      'validation_failed',
      { field: 'content' },
    ]);
    expect(codeOf(() => replyBranch(tree, null, { content: 'x', regenerate: true }))[0]).toBe(
      'validation_failed',
    );
    expect(codeOf(() => replyBranch(tree, null, { content: 'x', editOf: q2, parentId: a1 }))).toEqual([
      'validation_failed',
      { field: 'parentId' },
    ]);
    expect(codeOf(() => replyBranch(tree, null, { content: 'x', editOf: id(99) }))).toEqual([
      'not_found',
      { field: 'editOf' },
    ]);
    expect(codeOf(() => replyBranch(tree, null, { content: 'x', parentId: 'nope' }))).toEqual([
      'not_found',
      { field: 'parentId' },
    ]);
    expect(codeOf(() => replyBranch([], null, { regenerate: true }))).toEqual([
      'nothing_to_regenerate',
      undefined,
    ]);
  });
});
