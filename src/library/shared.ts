import type { Principal } from '../auth/principal.ts';
import { KeywayError } from '../errors.ts';

/** Who owns a preset or an assistant, and the teams it is shared with (as the reader may see them). */
export interface Shared {
  ownerId: string;
  ownerName: string;
  /** All of them for the owner; for a team member, only the teams through which they read it. */
  teamIds: string[];
}

/** Refuses a change to something a team member only reads: it is shared with them, not theirs. */
export function ownedBy<T extends Shared & { name: string }>(actor: Principal, record: T, what: string): T {
  if (record.ownerId !== actor.userId)
    throw new KeywayError(
      'forbidden',
      `The ${what} "${record.name}" is shared with you by ${record.ownerName}: only its owner changes it.`,
    );
  return record;
}
