import { useEffect, useRef, useState } from 'react';
import { del, get, isMissingRoute, post } from '../../api/client.ts';
import type { CreatedShare, Share } from '../../lib/chat-contract.ts';
import { CopyButton } from '../copy-button.tsx';
import { Notice } from '../field.tsx';

const EXPIRIES = [
  { label: 'Never', days: null },
  { label: '1 day', days: 1 },
  { label: '7 days', days: 7 },
  { label: '30 days', days: 30 },
] as const;

const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));
const when = (iso: string) => new Date(iso).toLocaleString();

/**
 * Sharing one conversation: make a read-only link (a snapshot of it now, optionally expiring),
 * copy it (shown once), and see and revoke the links made before.
 */
export function ShareDialog({
  conversationId,
  title,
  onClose,
}: {
  conversationId: string;
  title: string;
  onClose: () => void;
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [expiry, setExpiry] = useState<number | null>(null);
  const [created, setCreated] = useState<CreatedShare | null>(null);
  const [shares, setShares] = useState<Share[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    const element = dialog.current;
    if (element && !element.open) element.showModal();
    return () => element?.close();
  }, []);

  const load = () =>
    get<Share[]>('/api/shares')
      .then((found) => setShares(found.filter((share) => share.conversationId === conversationId)))
      .catch((caught: unknown) => {
        setShares([]);
        if (!isMissingRoute(caught)) setError(errorText(caught));
      });
  useEffect(() => {
    void load();
  }, [conversationId]);

  const create = async () => {
    setBusy(true);
    setError(null);
    try {
      const expiresAt = expiry === null ? null : new Date(Date.now() + expiry * 86_400_000).toISOString();
      const share = await post<CreatedShare>(
        `/api/conversations/${encodeURIComponent(conversationId)}/shares`,
        {
          expiresAt,
        },
      );
      setCreated(share);
      void load();
    } catch (caught) {
      setError(isMissingRoute(caught) ? 'This server cannot share conversations yet.' : errorText(caught));
    } finally {
      setBusy(false);
    }
  };

  const revoke = async (share: Share) => {
    try {
      await del(`/api/shares/${encodeURIComponent(share.id)}`);
      if (created?.id === share.id) setCreated(null);
      void load();
    } catch (caught) {
      setError(errorText(caught));
    }
  };

  const link = created ? new URL(created.url, location.origin).href : null;

  return (
    <dialog ref={dialog} className="share-dialog" aria-labelledby="share-title" onClose={onClose}>
      <div className="passage-head">
        <h2 id="share-title">Share “{title}”</h2>
        <button type="button" className="icon-button" aria-label="Close sharing" onClick={onClose}>
          ×
        </button>
      </div>
      <p className="muted">
        Anyone with the link can read this conversation as it is now, without signing in. Later messages are
        not shared; revoking the link ends it.
      </p>
      {error ? <Notice kind="error">{error}</Notice> : null}
      {link ? (
        <div className="share-created">
          <label htmlFor="share-link">Link (shown once: copy it now)</label>
          <div className="copy-row">
            <input id="share-link" readOnly value={link} onFocus={(event) => event.target.select()} />
            <CopyButton text={link} label="Copy link" />
          </div>
        </div>
      ) : (
        <div className="row share-form">
          <label htmlFor="share-expiry">Expires</label>
          <select
            id="share-expiry"
            value={expiry ?? ''}
            onChange={(event) => setExpiry(event.target.value ? Number(event.target.value) : null)}
          >
            {EXPIRIES.map((option) => (
              <option key={option.label} value={option.days ?? ''}>
                {option.label}
              </option>
            ))}
          </select>
          <button type="button" className="button primary" disabled={busy} onClick={() => void create()}>
            Create link
          </button>
        </div>
      )}
      <h3 className="share-list-title">Links to this conversation</h3>
      {shares === null ? (
        <p className="muted">Loading…</p>
      ) : shares.length === 0 ? (
        <p className="muted">No links yet.</p>
      ) : (
        <ul className="share-list">
          {shares.map((share) => (
            <li key={share.id}>
              <span>
                Made {when(share.createdAt)}
                {share.expiresAt ? `, expires ${when(share.expiresAt)}` : ', never expires'}
              </span>
              <button
                type="button"
                className="button small danger"
                aria-label={`Revoke the link made ${when(share.createdAt)}`}
                onClick={() => void revoke(share)}
              >
                Revoke
              </button>
            </li>
          ))}
        </ul>
      )}
    </dialog>
  );
}
