import { useEffect, useSyncExternalStore } from 'react';

/** A tiny history router: the URL is the state; links and code call `navigate`. */

const listeners = new Set<() => void>();
const notify = () => listeners.forEach((listener) => listener());
if (typeof window !== 'undefined') window.addEventListener('popstate', notify);

export function navigate(to: string, options: { replace?: boolean } = {}): void {
  if (to === location.pathname + location.search) return;
  if (options.replace) history.replaceState(null, '', to);
  else history.pushState(null, '', to);
  notify();
}

function subscribe(listener: () => void) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

const snapshot = () => location.pathname + location.search;

/** The current path and query, re-rendering on every navigation. */
export function useLocation(): { path: string; query: URLSearchParams; href: string } {
  const href = useSyncExternalStore(subscribe, snapshot);
  const url = new URL(href, 'http://x');
  return { path: url.pathname, query: url.searchParams, href };
}

/** Matches `/chat/:id` style patterns; returns the params or null. */
export function match(pattern: string, path: string): Record<string, string> | null {
  const parts = pattern.split('/');
  const actual = path.replace(/\/+$/, '').split('/');
  if (path === '/' && pattern === '/') return {};
  if (parts.length !== actual.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (part.startsWith(':')) params[part.slice(1)] = decodeURIComponent(actual[i]!);
    else if (part !== actual[i]) return null;
  }
  return params;
}

/** Where sign-in returns to: only a path of this app, never another origin. */
export function safeNext(next: string | null): string {
  // `//host` and `/\host` would leave the origin (browsers read a backslash as a slash).
  if (!next || !next.startsWith('/') || /^\/[/\\]/.test(next) || next.startsWith('/login')) return '/';
  return next;
}

/** Sets the document title (what a screen reader announces on navigation, and the tab's name). */
export function useTitle(title: string): void {
  useEffect(() => {
    document.title = title ? `${title} — Keyway` : 'Keyway';
  }, [title]);
}
