import { sql, type Kysely } from 'kysely';
import type { DB } from '../db/tables.ts';
import type { Principal } from './principal.ts';

/** Whether a principal resolved earlier may still act: the question long-running work asks again. */
export class AccessRepository {
  readonly #db: Kysely<DB>;

  constructor(db: Kysely<DB>) {
    this.#db = db;
  }

  /**
   * True while the user exists and is enabled, and the token (or web session) the principal came
   * with is still live: not revoked, deleted or expired.
   */
  async stillHasAccess(principal: Principal): Promise<boolean> {
    const row = await this.#db
      .selectFrom('users as u')
      .where('u.id', '=', principal.userId)
      .where('u.disabled_at', 'is', null)
      .select((eb) => [
        principal.tokenId
          ? eb
              .exists(
                eb
                  .selectFrom('api_tokens as t')
                  .select(sql.lit(1).as('one'))
                  .where('t.id', '=', principal.tokenId)
                  .where('t.user_id', '=', principal.userId)
                  .where('t.revoked_at', 'is', null)
                  .where((inner) =>
                    inner.or([
                      inner('t.expires_at', 'is', null),
                      inner('t.expires_at', '>', sql<Date>`now()`),
                    ]),
                  ),
              )
              .as('tokenLive')
          : sql<boolean>`true`.as('tokenLive'),
        principal.sessionId
          ? eb
              .exists(
                eb
                  .selectFrom('login_sessions as s')
                  .select(sql.lit(1).as('one'))
                  .where('s.id', '=', principal.sessionId)
                  .where('s.user_id', '=', principal.userId)
                  .where('s.expires_at', '>', sql<Date>`now()`),
              )
              .as('sessionLive')
          : sql<boolean>`true`.as('sessionLive'),
      ])
      .executeTakeFirst();
    return row !== undefined && row.tokenLive === true && row.sessionLive === true;
  }
}
