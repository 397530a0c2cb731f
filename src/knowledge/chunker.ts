/**
 * Cuts extracted sections into chunks for embedding and citation. Pure and deterministic: the same
 * sections and options always give the same chunks, so re-ingesting a file gives the same indices.
 *
 * A chunk never leaves its section, so it never spans two pages or two headings and its citation names
 * one page or one heading path. Inside a section the text is cut at the coarsest boundary that fits:
 * paragraphs (blank lines), then lines, then sentences, then words, and only a single word longer than
 * a chunk is cut mid-word. Neighbouring chunks of one section share `overlapTokens` of text, so a
 * passage cut in two is still whole in one of them.
 */
import type { Section } from './extract.ts';

export interface Chunk {
  /** Position in the document, from 0. */
  index: number;
  text: string;
  page?: number;
  headings: string[];
  /** Estimated with `estimateTokens`. */
  tokens: number;
}

export interface ChunkOptions {
  maxTokens?: number;
  overlapTokens?: number;
}

export const CHUNK_DEFAULTS = { maxTokens: 400, overlapTokens: 60 } as const;

/**
 * Tokens a text will cost, without a tokenizer: a character of an alphabetic script is about a quarter
 * of a token, a CJK ideograph, kana or hangul syllable (or an astral character) about one. It errs
 * high rather than low, so a chunk stays inside an embedding model's input limit.
 */
export function estimateTokens(text: string): number {
  return Math.ceil(weightOf(text, 0, text.length));
}

function charWeight(code: number): number {
  // ≥ U+2E80: CJK radicals onwards (kana, ideographs, hangul); surrogates: emoji and other astral.
  return code >= 0x2e80 ? 1 : 0.25;
}

function weightOf(text: string, from: number, to: number): number {
  let weight = 0;
  for (let at = from; at < to; at++) {
    const code = text.charCodeAt(at);
    // A surrogate pair is one character: count its high half only.
    if (code >= 0xdc00 && code <= 0xdfff) continue;
    weight += charWeight(code);
  }
  return weight;
}

/** Chunks `sections` in order; empty sections give none. */
export function chunkSections(sections: readonly Section[], options: ChunkOptions = {}): Chunk[] {
  const maxTokens = options.maxTokens ?? CHUNK_DEFAULTS.maxTokens;
  const overlapTokens = options.overlapTokens ?? CHUNK_DEFAULTS.overlapTokens;
  if (!(maxTokens >= 8)) throw new RangeError('maxTokens must be at least 8');
  if (!(overlapTokens >= 0 && overlapTokens < maxTokens / 2)) {
    throw new RangeError('overlapTokens must be at least 0 and under half of maxTokens');
  }
  const chunks: Chunk[] = [];
  for (const section of sections) {
    for (const text of chunkText(section.text, maxTokens, overlapTokens)) {
      const chunk: Chunk = {
        index: chunks.length,
        text,
        headings: [...section.headings],
        tokens: estimateTokens(text),
      };
      if (section.page !== undefined) chunk.page = section.page;
      chunks.push(chunk);
    }
  }
  return chunks;
}

/** A piece of text with the separator that followed it in the source (kept when pieces are rejoined). */
interface Piece {
  text: string;
  tail: string;
  tokens: number;
}

function chunkText(text: string, maxTokens: number, overlapTokens: number): string[] {
  const pieces = splitToFit(text.trim(), maxTokens);
  const chunks: string[] = [];
  let current: Piece[] = [];
  let currentTokens = 0;
  const emit = () => {
    const joined = join(current).trim();
    if (joined !== '') chunks.push(joined);
  };
  for (const piece of pieces) {
    // A separator (at most two characters) costs at most one token when pieces are joined.
    if (current.length > 0 && currentTokens + 1 + piece.tokens > maxTokens) {
      emit();
      // The overlap is the previous chunk's tail, never so long that the next piece no longer fits.
      current = overlapOf(current, Math.min(overlapTokens, maxTokens - piece.tokens - 1));
      currentTokens = costOf(current);
    }
    currentTokens += (current.length > 0 ? 1 : 0) + piece.tokens;
    current.push(piece);
  }
  if (current.length > 0) emit();
  return chunks;
}

/** Tokens of pieces once joined: their own, plus one per separator between them. */
function costOf(pieces: readonly Piece[]): number {
  return pieces.reduce((sum, piece) => sum + piece.tokens, 0) + Math.max(pieces.length - 1, 0);
}

function join(pieces: readonly Piece[]): string {
  let text = '';
  for (const [position, piece] of pieces.entries()) {
    text += piece.text + (position < pieces.length - 1 ? piece.tail : '');
  }
  return text;
}

/** The last pieces of `pieces` fitting in `budget` tokens; a piece too long to fit gives its last words. */
function overlapOf(pieces: readonly Piece[], budget: number): Piece[] {
  const kept: Piece[] = [];
  let used = 0;
  for (let at = pieces.length - 1; at >= 0; at--) {
    const piece = pieces[at]!;
    const cost = piece.tokens + (kept.length > 0 ? 1 : 0);
    if (used + cost <= budget) {
      kept.unshift(piece);
      used += cost;
      continue;
    }
    if (kept.length === 0 && budget >= 1) {
      const tail = lastWords(piece.text, budget);
      if (tail !== '') kept.unshift({ text: tail, tail: piece.tail, tokens: estimateTokens(tail) });
    }
    break;
  }
  return kept;
}

/** The longest run of whole words at the end of `text` that fits in `budget` tokens. */
function lastWords(text: string, budget: number): string {
  let weight = 0;
  let start = text.length;
  for (let at = text.length - 1; at >= 0; at--) {
    weight += charWeight(text.charCodeAt(at));
    if (weight > budget) break;
    if (at === 0 || /\s/.test(text[at - 1]!)) start = at;
  }
  return text.slice(start).trim();
}

/**
 * Splits `text` into pieces of at most `maxTokens`, each at the coarsest boundary that makes it fit.
 * Every level is a linear scan, and a piece is only split further when it is too long.
 */
function splitToFit(text: string, maxTokens: number): Piece[] {
  const result: Piece[] = [];
  const visit = (piece: Piece, level: number) => {
    if (piece.tokens <= maxTokens) {
      result.push(piece);
      return;
    }
    const splitter = SPLITTERS[level];
    if (!splitter) {
      for (const part of hardCut(piece, maxTokens)) result.push(part);
      return;
    }
    const parts = splitter(piece.text);
    if (parts.length <= 1) {
      visit(piece, level + 1);
      return;
    }
    // The last part inherits the separator that followed the whole piece.
    parts[parts.length - 1]!.tail = piece.tail;
    for (const part of parts) visit(part, level + 1);
  };
  visit({ text, tail: '', tokens: estimateTokens(text) }, 0);
  return result.filter((piece) => piece.text.trim() !== '');
}

const SPLITTERS: ((text: string) => Piece[])[] = [
  (text) => splitOn(text, '\n\n'),
  (text) => splitOn(text, '\n'),
  splitSentences,
  (text) => splitOn(text, ' '),
];

function splitOn(text: string, separator: string): Piece[] {
  return text.split(separator).map((part) => ({ text: part, tail: separator, tokens: estimateTokens(part) }));
}

const SENTENCE_END = new Set(['.', '!', '?', '…']);
const WIDE_SENTENCE_END = new Set(['。', '！', '？']);

/** Sentences end at `.`, `!`, `?` or `…` before a space, or at CJK full stops anywhere. */
function splitSentences(text: string): Piece[] {
  const pieces: Piece[] = [];
  let start = 0;
  for (let at = 0; at < text.length; at++) {
    const char = text[at]!;
    if (WIDE_SENTENCE_END.has(char)) {
      pieces.push(piece(text.slice(start, at + 1), ''));
      start = at + 1;
    } else if (SENTENCE_END.has(char) && text[at + 1] === ' ') {
      pieces.push(piece(text.slice(start, at + 1), ' '));
      start = at + 2;
      at++;
    }
  }
  if (start < text.length) pieces.push(piece(text.slice(start), ''));
  return pieces;
}

function piece(text: string, tail: string): Piece {
  return { text, tail, tokens: estimateTokens(text) };
}

/** The last resort for a "word" longer than a chunk (a base64 blob, a URL): cut by estimated tokens. */
function hardCut(whole: Piece, maxTokens: number): Piece[] {
  const pieces: Piece[] = [];
  const text = whole.text;
  let start = 0;
  let weight = 0;
  for (let at = 0; at < text.length; at++) {
    const code = text.charCodeAt(at);
    const isLowSurrogate = code >= 0xdc00 && code <= 0xdfff;
    const next = isLowSurrogate ? 0 : charWeight(code);
    // Never between the halves of a surrogate pair.
    if (!isLowSurrogate && weight + next > maxTokens) {
      pieces.push(piece(text.slice(start, at), ''));
      start = at;
      weight = 0;
    }
    weight += next;
  }
  pieces.push(piece(text.slice(start), whole.tail));
  return pieces;
}
