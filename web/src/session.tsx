import { createContext, useContext } from 'react';
import type { Me } from './api/types.ts';

export interface Session {
  me: Me;
  /** Signs out on the server and locally. */
  logout(): Promise<void>;
}

export const SessionContext = createContext<Session | null>(null);

/** The signed-in user; only pages behind sign-in call it. */
export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession outside a signed-in page');
  return session;
}
