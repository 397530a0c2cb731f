import { createHash } from 'node:crypto';
import type { SharedSnapshot } from './shares.repository.ts';

/** Text made inert in HTML: element content and quoted attribute values alike. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

const STYLE = `
body{margin:0;font:16px/1.55 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1f2328;background:#f6f7f9}
main{max-width:760px;margin:0 auto;padding:24px 16px 48px}
h1{font-size:1.4rem;margin:0 0 4px;overflow-wrap:anywhere}
.note{color:#59636e;font-size:.875rem;margin:0 0 24px}
.message{background:#fff;border:1px solid #d8dee4;border-radius:10px;padding:12px 16px;margin:0 0 12px}
.message.user{background:#eef4ff;border-color:#c8d8f5}
.who{font-size:.8rem;font-weight:600;color:#59636e;margin:0 0 6px}
.text{white-space:pre-wrap;overflow-wrap:anywhere;margin:0;font:inherit}
@media (prefers-color-scheme:dark){body{background:#0d1117;color:#e6edf3}.message{background:#161b22;border-color:#30363d}
.message.user{background:#14233a;border-color:#1f3a5f}.note,.who{color:#9198a1}}
`.trim();

/**
 * What every share page is sent with: nothing runs (no script source at all), nothing loads but its
 * own inline style (by hash), it cannot be framed or indexed, and it names no one as referrer.
 */
export const SHARE_PAGE_HEADERS: Record<string, string> = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': [
    "default-src 'none'",
    `style-src 'sha256-${createHash('sha256').update(STYLE, 'utf8').digest('base64')}'`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; '),
  'x-robots-tag': 'noindex, nofollow',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
};

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`;
}

/** A shared conversation, read-only: every text escaped, shown as written (no Markdown, no links). */
export function sharePage(snapshot: SharedSnapshot): string {
  const messages = snapshot.messages
    .map((message) => {
      const who = message.role === 'user' ? 'User' : `Assistant · ${message.model}`;
      return `<article class="message ${message.role === 'user' ? 'user' : 'assistant'}">
<p class="who">${escapeHtml(who)}</p>
<div class="text">${escapeHtml(message.content)}</div>
</article>`;
    })
    .join('\n');
  const note = `Shared conversation · read-only · ${snapshot.createdAt.toISOString().slice(0, 10)}`;
  return page(
    snapshot.title,
    `<h1>${escapeHtml(snapshot.title)}</h1>\n<p class="note">${escapeHtml(note)}</p>\n${messages}`,
  );
}

/** What an unknown, revoked or expired link shows (the same for each: which it was is not told). */
export function missingSharePage(): string {
  return page(
    'Link not available',
    '<h1>This link is not available</h1>\n<p class="note">It may have been revoked or have expired, or it was never valid.</p>',
  );
}

/** While Keyway starts (its database not yet checked), a link cannot be opened. */
export function unavailableSharePage(): string {
  return page('Try again shortly', '<h1>Try again in a moment</h1>\n<p class="note">Keyway is starting.</p>');
}
