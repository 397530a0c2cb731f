import { KeywayError } from '../errors.ts';
import { isUuid } from '../ids.ts';
import { branchTo, type TreeMessage } from './message-tree.ts';

/** Where a message (or a regenerated answer) goes in the tree, as a request names it. */
export interface ReplyPlacement {
  content?: string | undefined;
  editOf?: string | undefined;
  replaceFrom?: string | undefined;
  parentId?: string | undefined;
  regenerate?: boolean | undefined;
  attachments?: unknown;
}

/**
 * The branch a new message continues, root first: only this path goes to the model, and the new
 * message follows its last message (none: a first message). Editing continues the edited message's
 * parent (the edit is its sibling); `parentId` continues that message instead of the branch on show;
 * regenerating cuts the branch after its last user message (the new answer is a sibling of the old).
 * Contradictory requests are `validation_failed`, a message not in this conversation `not_found`.
 */
export function replyBranch<T extends TreeMessage & { role: string }>(
  messages: readonly T[],
  currentLeafId: string | null,
  input: ReplyPlacement,
): T[] {
  const editOf = input.editOf ?? input.replaceFrom;
  if (input.editOf !== undefined && input.replaceFrom !== undefined)
    throw invalid('replaceFrom is the former name of editOf: send one of them.', 'replaceFrom');
  if (input.regenerate) {
    if (input.content !== undefined || editOf !== undefined || input.attachments !== undefined)
      throw invalid(
        'regenerate answers the last message again: send it without content, editOf or attachments.',
      );
  } else if (input.content === undefined || input.content.trim() === '') {
    throw invalid('content is required (or regenerate: true).', 'content');
  }
  if (editOf !== undefined && input.parentId !== undefined)
    throw invalid('editOf puts the new message beside the edited one: send it without parentId.', 'parentId');

  const inConversation = (messageId: string, field: string) => {
    const found = isUuid(messageId) ? messages.find((message) => message.id === messageId) : undefined;
    if (!found)
      throw new KeywayError('not_found', 'No such message in this conversation.', { details: { field } });
    return found;
  };
  let branch: T[];
  if (editOf !== undefined) {
    const edited = inConversation(editOf, input.editOf !== undefined ? 'editOf' : 'replaceFrom');
    branch = edited.parentId !== null ? branchTo(messages, edited.parentId) : [];
  } else {
    const base = input.parentId !== undefined ? inConversation(input.parentId, 'parentId').id : null;
    branch = branchTo(messages, base ?? currentLeafId);
  }
  if (!input.regenerate) return branch;
  const lastUser = branch.findLastIndex((message) => message.role === 'user');
  if (lastUser === -1)
    throw new KeywayError('nothing_to_regenerate', 'This conversation has no message to answer again.');
  return branch.slice(0, lastUser + 1);
}

const invalid = (message: string, field?: string) =>
  new KeywayError('validation_failed', message, field ? { details: { field } } : {});
