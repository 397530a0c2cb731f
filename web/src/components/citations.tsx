import { useEffect, useRef, useState } from 'react';
import { ApiError, get } from '../api/client.ts';
import type { Citation, PassageView } from '../api/types.ts';
import { citationLabel } from '../lib/knowledge.ts';
import { Notice } from './field.tsx';

/** A `[n]` marker in an answer: a button when its source has a passage to open, plain text otherwise. */
export function CitationMarker({ citation, onOpen }: { citation: Citation; onOpen: (c: Citation) => void }) {
  const label = citationLabel(citation);
  if (citation.passageId === null)
    return (
      <sup className="cite-marker" title={label}>
        [{citation.n}]
      </sup>
    );
  return (
    <button
      type="button"
      className="cite-marker"
      aria-label={`Source ${citation.n}: ${label}`}
      title={label}
      onClick={() => onOpen(citation)}
    >
      [{citation.n}]
    </button>
  );
}

/** The sources under an answer, numbered as its `[n]` markers; each with a passage opens it. */
export function SourcesList({ citations, onOpen }: { citations: Citation[]; onOpen: (c: Citation) => void }) {
  if (citations.length === 0) return null;
  return (
    <div className="sources">
      <span className="sources-title">Sources</span>
      <ol aria-label="Sources">
        {citations.map((citation) => (
          <li key={citation.n} value={citation.n}>
            {citation.passageId === null ? (
              <span className="source-file">{citationLabel(citation)}</span>
            ) : (
              <button type="button" className="source-link" onClick={() => onOpen(citation)}>
                {citationLabel(citation)}
              </button>
            )}
          </li>
        ))}
      </ol>
    </div>
  );
}

/** The passage a citation points at, read from the server, in a modal dialog (Esc closes it). */
export function PassageDialog({ citation, onClose }: { citation: Citation; onClose: () => void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [passage, setPassage] = useState<PassageView | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    const element = dialog.current;
    if (element && !element.open) element.showModal();
    return () => element?.close();
  }, []);

  useEffect(() => {
    if (citation.passageId === null) return;
    let cancelled = false;
    get<PassageView>(`/api/knowledge/passages/${encodeURIComponent(citation.passageId)}`)
      .then((found) => !cancelled && setPassage(found))
      .catch((caught: unknown) => {
        if (cancelled) return;
        setError(
          caught instanceof ApiError && caught.status === 404
            ? 'This passage is gone: its file or knowledge base was removed, or was never yours.'
            : caught instanceof Error
              ? caught.message
              : String(caught),
        );
      });
    return () => {
      cancelled = true;
    };
  }, [citation.passageId]);

  return (
    <dialog ref={dialog} className="passage-dialog" aria-labelledby="passage-title" onClose={onClose}>
      <div className="passage-head">
        <h2 id="passage-title">
          [{citation.n}] {citationLabel(passage ? { ...passage, passageId: passage.id } : citation)}
        </h2>
        <button type="button" className="icon-button" aria-label="Close the passage" onClick={onClose}>
          ×
        </button>
      </div>
      {error ? <Notice kind="error">{error}</Notice> : null}
      {passage ? (
        // Text, never markup: a document's content is not rendered as HTML.
        <blockquote className="passage-text">{passage.text}</blockquote>
      ) : error ? null : (
        <p className="muted" aria-busy="true">
          Loading the passage…
        </p>
      )}
    </dialog>
  );
}
