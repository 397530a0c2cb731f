import { lazy, Suspense, useCallback, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { ApiError, get, post, setCsrfToken, setUnauthenticatedHandler } from './api/client.ts';
import type { Me, SetupState } from './api/types.ts';
import { Link } from './components/link.tsx';
import { Notice } from './components/field.tsx';
import { match, navigate, safeNext, useLocation } from './lib/router.ts';
import { ChatPage } from './pages/chat-page.tsx';
import { LoginPage, SetupPage } from './pages/sign-in.tsx';
import { SessionContext, useSession, type Session } from './session.tsx';
import { useTheme, type ThemeChoice } from './theme.ts';

// Everything but chat and sign-in loads on first visit, to keep the first download small.
const CredentialsPage = lazy(() => import('./pages/credentials-page.tsx'));
const BotsPage = lazy(() => import('./pages/bots-page.tsx'));
const UsagePage = lazy(() => import('./pages/usage-page.tsx'));
const TokensPage = lazy(() => import('./pages/tokens-page.tsx'));
const UsersPage = lazy(() => import('./pages/users-page.tsx'));
const TeamsPage = lazy(() => import('./pages/teams-page.tsx'));
const LimitsPage = lazy(() => import('./pages/limits-page.tsx'));
const KnowledgePage = lazy(() => import('./pages/knowledge-page.tsx'));
const AssistantsPage = lazy(() => import('./pages/library-assistants.tsx'));
const PresetsPage = lazy(() => import('./pages/library-presets.tsx'));
const PromptsPage = lazy(() => import('./pages/library-prompts.tsx'));
const AccountPage = lazy(() => import('./pages/account-page.tsx'));

export function App() {
  const [me, setMe] = useState<Me | null | undefined>(undefined);
  const [notice, setNotice] = useState<string | null>(null);
  const [bootError, setBootError] = useState<string | null>(null);
  // Unknown until the server says: a first visit must not flash the sign-in page before setup.
  const [setupOpen, setSetupOpen] = useState<boolean | undefined>(undefined);
  const location = useLocation();
  const [theme, setTheme] = useTheme();

  useEffect(() => {
    setUnauthenticatedHandler((message) => {
      setCsrfToken(null);
      setMe(null);
      setNotice(message);
      // Several calls can fail at once: only the first decides where sign-in returns to.
      if (window.location.pathname === '/login') return;
      const here = window.location.pathname + window.location.search;
      navigate(`/login?next=${encodeURIComponent(safeNext(here))}`, { replace: true });
    });
    return () => setUnauthenticatedHandler(null);
  }, []);

  useEffect(() => {
    get<Me>('/api/me', { allowUnauthenticated: true })
      .then((found) => {
        setCsrfToken(found.csrfToken ?? null);
        setMe(found);
      })
      .catch((error: unknown) => {
        if (error instanceof ApiError && error.status === 401) setMe(null);
        else setBootError(error instanceof Error ? error.message : String(error));
      });
    // While setup is open (no user exists yet) a signed-out visitor belongs on the setup page.
    get<SetupState>('/api/setup', { allowUnauthenticated: true })
      .then((state) => setSetupOpen(state.open === true))
      .catch(() => setSetupOpen(false));
  }, []);

  const signedIn = useCallback((found: Me) => {
    setCsrfToken(found.csrfToken ?? null);
    setNotice(null);
    setSetupOpen(false);
    setMe(found);
  }, []);

  const session = useMemo<Session | null>(
    () =>
      me
        ? {
            me,
            async logout() {
              try {
                await post('/api/auth/logout', undefined, { allowUnauthenticated: true });
              } catch {
                // Signed out locally either way.
              }
              setCsrfToken(null);
              setMe(null);
              setNotice('You are signed out.');
              navigate('/login', { replace: true });
            },
          }
        : null,
    [me],
  );

  const publicPage = location.path === '/login' || location.path === '/setup';
  useEffect(() => {
    if (me === null && setupOpen !== undefined) {
      // An empty install has no account to sign in with: setup is the only way in. Once an admin
      // exists, the setup page is gone and sign-in stops offering it.
      if (setupOpen && location.path !== '/setup') navigate('/setup', { replace: true });
      else if (!setupOpen && location.path === '/setup') navigate('/login', { replace: true });
      else if (!setupOpen && !publicPage) {
        const next = safeNext(location.href);
        navigate(next === '/' ? '/login' : `/login?next=${encodeURIComponent(next)}`, { replace: true });
      }
    }
    if (me && publicPage) navigate(safeNext(location.query.get('next')), { replace: true });
  }, [me, publicPage, location.href, location.path, location.query, setupOpen]);

  if (bootError)
    return (
      <main className="centered">
        <Notice kind="error">Keyway cannot be reached: {bootError}</Notice>
      </main>
    );
  if (me === undefined || (me === null && setupOpen === undefined))
    return <main className="centered" aria-busy="true" />;
  if (!session) {
    return (
      <main className="centered" id="main">
        {setupOpen ? (
          <SetupPage
            onSignedIn={signedIn}
            onClosed={() => {
              setNotice('Setup is already done: an admin exists. Sign in.');
              setSetupOpen(false);
            }}
          />
        ) : (
          <LoginPage notice={notice} onSignedIn={signedIn} />
        )}
      </main>
    );
  }
  return (
    <SessionContext.Provider value={session}>
      <Layout theme={theme} setTheme={setTheme} path={location.path}>
        <Suspense fallback={<p className="muted pad">Loading…</p>}>
          <Routes path={location.path} admin={me!.user.role === 'admin'} />
        </Suspense>
      </Layout>
    </SessionContext.Provider>
  );
}

function Routes({ path, admin }: { path: string; admin: boolean }) {
  if (path === '/' || path === '/chat') return <ChatPage conversationId={null} />;
  const chat = match('/chat/:id', path);
  if (chat) return <ChatPage conversationId={chat.id!} />;
  if (path === '/credentials') return <CredentialsPage />;
  if (path === '/bots') return <BotsPage botId={null} />;
  const bot = match('/bots/:id', path);
  if (bot) return <BotsPage botId={bot.id!} />;
  if (path === '/usage') return <UsagePage />;
  if (path === '/tokens') return <TokensPage />;
  if (path === '/users' && admin) return <UsersPage />;
  if (path === '/teams') return <TeamsPage teamId={null} />;
  const team = match('/teams/:id', path);
  if (team) return <TeamsPage teamId={team.id!} />;
  if (path === '/limits') return <LimitsPage />;
  if (path === '/library' || path === '/library/assistants') return <AssistantsPage />;
  if (path === '/library/presets') return <PresetsPage />;
  if (path === '/library/prompts') return <PromptsPage />;
  if (path === '/account') return <AccountPage />;
  if (path === '/knowledge') return <KnowledgePage baseId={null} />;
  const base = match('/knowledge/:id', path);
  if (base) return <KnowledgePage baseId={base.id!} />;
  return (
    <section className="page">
      <h1 tabIndex={-1}>Not found</h1>
      <p>
        There is no page at {path}. <Link to="/">Back to chat</Link>
      </p>
    </section>
  );
}

const NAV = [
  { to: '/', label: 'Chat', active: (path: string) => path === '/' || path.startsWith('/chat') },
  { to: '/library', label: 'Library' },
  { to: '/knowledge', label: 'Knowledge' },
  { to: '/credentials', label: 'Credentials' },
  { to: '/bots', label: 'Bots' },
  { to: '/usage', label: 'Usage' },
  { to: '/tokens', label: 'API tokens' },
  { to: '/teams', label: 'Teams' },
  { to: '/limits', label: 'My limits' },
];

function Layout({
  children,
  theme,
  setTheme,
  path,
}: {
  children: ReactNode;
  theme: ThemeChoice;
  setTheme: (theme: ThemeChoice) => void;
  path: string;
}) {
  const session = useSession();
  const main = useRef<HTMLElement>(null);
  const first = useRef(true);
  // After an in-app navigation, focus moves to the new page's heading (not on first load).
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    if (path === '/' || path.startsWith('/chat')) return;
    const heading = main.current?.querySelector<HTMLElement>('h1');
    heading?.focus();
  }, [path]);
  const items = session.me.user.role === 'admin' ? [...NAV, { to: '/users', label: 'Users' }] : NAV;
  // On a phone the navigation and the account controls fold into a menu behind one button.
  const [menuOpen, setMenuOpen] = useState(false);
  useEffect(() => setMenuOpen(false), [path]);
  useEffect(() => {
    if (!menuOpen) return;
    const close = (event: KeyboardEvent) => {
      if (event.key === 'Escape') setMenuOpen(false);
    };
    window.addEventListener('keydown', close);
    return () => window.removeEventListener('keydown', close);
  }, [menuOpen]);
  return (
    <div className={`shell ${path === '/' || path.startsWith('/chat') ? 'fixed' : ''}`}>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className={`topbar ${menuOpen ? 'menu-open' : ''}`}>
        <Link to="/" className="brand" aria-label="Keyway, chat">
          <span aria-hidden="true" className="logo">
            K
          </span>
          Keyway
        </Link>
        <button
          type="button"
          className="button small menu-button"
          aria-expanded={menuOpen}
          aria-controls="site-menu"
          onClick={() => setMenuOpen((open) => !open)}
        >
          <span aria-hidden="true" className="menu-icon" />
          Menu
        </button>
        <div id="site-menu" className="topbar-menu">
          <nav aria-label="Main" className="mainnav">
            {items.map((item) => {
              const active = 'active' in item && item.active ? item.active(path) : path.startsWith(item.to);
              return (
                <Link key={item.to} to={item.to} aria-current={active ? 'page' : undefined}>
                  {item.label}
                </Link>
              );
            })}
          </nav>
          <div className="topbar-end">
            <label className="visually-hidden" htmlFor="theme">
              Theme
            </label>
            <select
              id="theme"
              value={theme}
              onChange={(event) => setTheme(event.target.value as ThemeChoice)}
            >
              <option value="system">Auto theme</option>
              <option value="light">Light</option>
              <option value="dark">Dark</option>
            </select>
            <Link
              to="/account"
              className="account-link"
              title="Your account and password"
              aria-current={path === '/account' ? 'page' : undefined}
            >
              <span className="visually-hidden">Account: </span>
              {session.me.user.username}
            </Link>
            <button type="button" className="button small" onClick={() => void session.logout()}>
              Sign out
            </button>
          </div>
        </div>
      </header>
      <main id="main" ref={main} tabIndex={-1}>
        {children}
      </main>
    </div>
  );
}
