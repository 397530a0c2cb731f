import type { Logger } from 'pino';
import type { Principal } from '../auth/principal.ts';

/**
 * The contract between knowledge (retrieval) and the places that answer with it: the chat, bots (every
 * channel and `bot:<name>` on `/v1`). Retrieval lives in `retrieval.ts`; this file holds only the
 * shapes both sides agree on, so each side can be built and tested on its own.
 */

/** One retrieved piece of a document, as a citation names it. */
export interface Passage {
  /** The chunk's id (`knowledge_chunks.id`, as a string): what a citation opens. */
  id: string;
  knowledgeBaseId: string;
  fileId: string;
  fileName: string;
  /** 1-based PDF page; null for documents without pages. */
  page: number | null;
  /** Heading path, outermost first. */
  headings: string[];
  text: string;
  tokens: number;
}

/** A numbered source of an answer: `[1]` in the context and in the answer refers to `n: 1`. */
export interface Citation {
  n: number;
  /** The passage's chunk id, or null for a short file that went into the context whole. */
  passageId: string | null;
  knowledgeBaseId: string | null;
  fileId: string;
  fileName: string;
  page: number | null;
  headings: string[];
}

export interface GroundingRequest {
  /** Knowledge bases to search; each must be readable by the principal, else `not_found`. */
  knowledgeBaseIds: string[];
  /** Files attached directly (short ones go in whole); each must be the principal's, else `not_found`. */
  fileIds: string[];
  /** What to search for: the user's last message (a burst of bot messages joined). */
  question: string;
  /** The most tokens the retrieved context may take. */
  tokenBudget: number;
}

/** What to put before the conversation: a system message with numbered sources, and those sources. */
export interface Grounding {
  /** Null when there was nothing to add (no knowledge bases, no files, nothing relevant). */
  context: string | null;
  citations: Citation[];
}

/**
 * The port the chat and the bots use. Embeds the question with each knowledge base's model through
 * the gateway as `principal` (so grants, limits and usage apply), runs hybrid search, fits passages in
 * the token budget, and numbers them.
 */
export interface Grounder {
  ground(
    principal: Principal,
    request: GroundingRequest,
    options: { signal?: AbortSignal; log: Logger },
  ): Promise<Grounding>;
  /** A passage the principal may read (a citation being opened), or undefined (404). */
  passage(principal: Principal, id: string): Promise<Passage | undefined>;
}
