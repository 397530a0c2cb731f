export type Role = 'admin' | 'member';

/** Who is making a request: resolved once per request by the auth middleware, never from input. */
export interface Principal {
  userId: string;
  username: string;
  role: Role;
  /** `bot`: a bot answering a contact, acting for its owner. */
  via: 'token' | 'session' | 'bot';
  /** The API token used, when `via` is `token`. */
  tokenId?: string;
  /** The web session used, when `via` is `session`. */
  sessionId?: string;
  /** The bot acting, when a bot answers (`via: 'bot'`) or a `bot:<name>` model is asked for. */
  botId?: string;
}

export const isAdmin = (principal: Principal) => principal.role === 'admin';
