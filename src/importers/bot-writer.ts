import type { Transaction } from 'kysely';
import pino from 'pino';
import { AuditLogRepository } from '../audit/audit-log.repository.ts';
import type { Principal } from '../auth/principal.ts';
import { BotKnowledge } from '../bots/bot-knowledge.ts';
import { createBotSchema } from '../bots/bot.schema.ts';
import { BotsRepository } from '../bots/bots.repository.ts';
import { BotsService } from '../bots/bots.service.ts';
import { credentialReferences } from '../credentials/credential-lookup.ts';
import { CredentialsRepository } from '../credentials/credentials.repository.ts';
import { createLocalChangeFeed } from '../db/change-feed.ts';
import type { DB } from '../db/tables.ts';
import { KeywayError } from '../errors.ts';
import type { UpstreamPolicy } from '../providers/upstream-url-guard.ts';
import type { Cipher } from '../vault/cipher.ts';
import type { BotWriter } from './import-applier.ts';

/**
 * Bots written through `BotsService` itself — its validation, reference checks, sealing of the
 * channel secrets and audit entries — over the import's transaction. Its change notices go to a
 * feed of this process only: nothing reaches other nodes before the import commits.
 */
export function createBotWriter(deps: { cipher: Cipher; policy: UpstreamPolicy }): BotWriter {
  const services = new WeakMap<Transaction<DB>, BotsService>();
  const servicesFor = (trx: Transaction<DB>) => {
    let bots = services.get(trx);
    if (!bots) {
      const db = trx;
      const changes = createLocalChangeFeed();
      // The importer makes no upstream call; URLs are checked as an admin's would be.
      const policies = { admins: deps.policy, members: deps.policy };
      const audit = new AuditLogRepository(db);
      bots = new BotsService({
        repository: new BotsRepository(db),
        // Bots may reference the credentials this import has just written, in the same transaction.
        credentials: credentialReferences(new CredentialsRepository(db)),
        cipher: deps.cipher,
        policies,
        audit,
        changes,
        // The importer brings no knowledge bases: a bot it writes has none to check or search.
        knowledge: new BotKnowledge({
          grounder: () => null,
          bases: { readable: async () => false },
          defaultTokenBudget: 0,
        }),
        logger: pino({ level: 'silent' }),
      });
      services.set(trx, bots);
    }
    return bots;
  };
  return {
    async findByName(trx, ownerId, name) {
      const row = await new BotsRepository(trx).findOwnedByName(ownerId, name);
      return row && { id: row.id };
    },
    async create(trx, owner, input) {
      const parsed = createBotSchema.safeParse(input);
      if (!parsed.success) {
        throw new KeywayError(
          'validation_failed',
          `bot ${input.name}: ${parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ')}`,
        );
      }
      const actor: Principal = { userId: owner.id, username: owner.username, role: owner.role, via: 'token' };
      const created = await servicesFor(trx).create(actor, parsed.data);
      return { id: created.id, inboundSecret: created.inboundSecret };
    },
  };
}
