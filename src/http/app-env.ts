import type { Logger } from 'pino';

/** What middleware puts on the Hono context for the rest of a request. */
export interface AppEnv {
  Variables: {
    requestId: string;
    /** The request's logger: carries the request id. */
    log: Logger;
  };
}
