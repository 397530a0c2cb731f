import type { Principal } from '../auth/principal.ts';
import { KeywayError } from '../errors.ts';

/** The chat's model check (`ChatModels.check`): throws when the caller cannot use the model. */
export interface ModelCheck {
  check(principal: Principal, model: string): Promise<void>;
}

/** Which knowledge bases a user may read: the knowledge capability's rule, asked by id. */
export interface KnowledgeBaseAccess {
  readable(principal: Principal, id: string): Promise<boolean>;
}

/** Prefixes that name something other than a provider's model: an assistant answers with neither. */
const INDIRECT = ['bot:', 'assistant:'];

/**
 * An assistant's model: one the owner can use now, and a provider's model (an assistant built on a
 * bot or on another assistant would answer with someone else's instructions).
 */
export async function checkAssistantModel(
  models: ModelCheck,
  owner: Principal,
  model: string,
): Promise<void> {
  if (INDIRECT.some((prefix) => model.toLowerCase().startsWith(prefix)))
    throw new KeywayError(
      'validation_failed',
      'An assistant answers with a provider\u2019s model, not a bot or another assistant.',
      {
        details: { field: 'model' },
      },
    );
  await models.check(owner, model);
}

/** Throws `not_found` naming the field when the owner cannot read one of the knowledge bases. */
export async function checkKnowledgeBases(
  bases: KnowledgeBaseAccess,
  owner: Principal,
  ids: readonly string[],
): Promise<void> {
  for (const [index, id] of ids.entries()) {
    if (!(await bases.readable(owner, id)))
      throw new KeywayError(
        'not_found',
        `knowledgeBaseIds.${index}: No knowledge base you may read has this id.`,
        {
          details: { field: `knowledgeBaseIds.${index}` },
        },
      );
  }
}
