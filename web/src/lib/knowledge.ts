import { ApiError } from '../api/client.ts';
import type { Citation, KnowledgeFile } from '../api/types.ts';

/** Where a citation points, as a person reads it: "report.pdf, p. 37", "guide.md — Install › Linux". */
export function citationLabel(
  citation: Pick<Citation, 'fileName' | 'page' | 'headings' | 'passageId'>,
): string {
  // A whole file went into the context: there is no place in it to name.
  if (citation.passageId === null) return citation.fileName;
  if (citation.page !== null) return `${citation.fileName}, p. ${citation.page}`;
  if (citation.headings.length > 0) return `${citation.fileName} — ${citation.headings.join(' › ')}`;
  return citation.fileName;
}

/** A piece of an answer's text: plain text, or a `[n]` marker that names one of its citations. */
export type CitedPiece = string | { n: number };

/**
 * Splits text at the `[n]` markers whose `n` is a known citation; other brackets (`[x]`, `[99]` with
 * no source 99) stay text, so an answer that happens to contain brackets is not mangled.
 */
export function splitCitations(text: string, known: ReadonlySet<number>): CitedPiece[] {
  const pieces: CitedPiece[] = [];
  let last = 0;
  for (const found of text.matchAll(/\[(\d{1,3})\]/g)) {
    const n = Number(found[1]);
    if (!known.has(n)) continue;
    if (found.index > last) pieces.push(text.slice(last, found.index));
    pieces.push({ n });
    last = found.index + found[0].length;
  }
  if (last < text.length) pieces.push(text.slice(last));
  return pieces;
}

/** Ingestion has stopped for this file (ready or failed); anything else is still moving. */
export const isSettled = (file: Pick<KnowledgeFile, 'status'>) =>
  file.status === 'ready' || file.status === 'failed';

/** How long to wait before asking again about files still being ingested; null when none is. */
export function pollDelay(files: readonly Pick<KnowledgeFile, 'status'>[]): number | null {
  return files.some((file) => !isSettled(file)) ? 1000 : null;
}

/** The files a drop or a paste carries (a dragged text or link carries none). */
export function filesOf(transfer: Pick<DataTransfer, 'files'> | null): File[] {
  return transfer ? Array.from(transfer.files) : [];
}

/** Whether a drag carries files (known before the drop, from its types only). */
export const dragHasFiles = (transfer: Pick<DataTransfer, 'types'> | null) =>
  !!transfer && Array.from(transfer.types).includes('Files');

/** Why a file was refused, naming it, in words a person can act on. */
export function uploadErrorText(name: string, error: unknown): string {
  if (!(error instanceof ApiError)) {
    return `"${name}" was not uploaded: ${error instanceof Error ? error.message : String(error)}`;
  }
  switch (error.code) {
    case 'payload_too_large':
    case 'file_too_large':
      return `"${name}" is too large. ${error.message}`;
    case 'unsupported_media_type':
      return `"${name}" is not a type Keyway accepts. ${error.message}`;
    case 'file_unreadable': {
      const reason = typeof error.details?.reason === 'string' ? ` (${error.details.reason})` : '';
      return `"${name}" cannot be read${reason}. ${error.message}`;
    }
    default:
      return `"${name}": ${error.message}`;
  }
}

/** "12 KB", "3.4 MB": a file's size at a glance. */
export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}
