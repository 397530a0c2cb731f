import type { Transaction } from 'kysely';
import type { Logger } from 'pino';
import { AuditLogRepository } from '../audit/audit-log.repository.ts';
import type { Principal } from '../auth/principal.ts';
import { createBotSchema } from '../bots/bot.schema.ts';
import { BotsRepository } from '../bots/bots.repository.ts';
import { BotsService, botCredentialUsage } from '../bots/bots.service.ts';
import { CredentialsRepository } from '../credentials/credentials.repository.ts';
import { CredentialsService } from '../credentials/credentials.service.ts';
import { createLocalChangeFeed } from '../db/change-feed.ts';
import type { DB } from '../db/tables.ts';
import { KeywayError } from '../errors.ts';
import type { SecretRedactor } from '../observability/secret-redactor.ts';
import type { ProviderRegistry } from '../providers/registry.ts';
import type { UpstreamClient } from '../providers/upstream-client.ts';
import type { UpstreamPolicy } from '../providers/upstream-url-guard.ts';
import type { Cipher } from '../vault/cipher.ts';
import type { BotWriter } from './import-applier.ts';

/** The import never calls a provider: a credential lookup that tried would be a bug. */
const NO_UPSTREAM: UpstreamClient = {
  request: () => Promise.reject(new Error('the importer does not call providers')),
  open: () => Promise.reject(new Error('the importer does not call providers')),
};

/**
 * Bots written through `BotsService` itself — its validation, reference checks, sealing of the
 * channel secrets and audit entries — over the import's transaction. Its change notices go to a
 * feed of this process only: nothing reaches other nodes before the import commits.
 */
export function createBotWriter(deps: {
  cipher: Cipher;
  providers: ProviderRegistry;
  policy: UpstreamPolicy;
  redactor: SecretRedactor;
  logger: Logger;
}): BotWriter {
  const services = new WeakMap<Transaction<DB>, BotsService>();
  const servicesFor = (trx: Transaction<DB>) => {
    let bots = services.get(trx);
    if (!bots) {
      const db = trx;
      const changes = createLocalChangeFeed();
      // The importer makes no upstream call; URLs are checked as an admin's would be.
      const policies = { admins: deps.policy, members: deps.policy };
      const audit = new AuditLogRepository(db);
      const repository = new BotsRepository(db);
      const credentials = new CredentialsService({
        repository: new CredentialsRepository(db),
        cipher: deps.cipher,
        providers: deps.providers,
        upstream: NO_UPSTREAM,
        policies,
        usage: botCredentialUsage(repository),
        audit,
        changes,
        redactor: deps.redactor,
        logger: deps.logger,
      });
      bots = new BotsService({
        repository,
        credentials,
        cipher: deps.cipher,
        policies,
        audit,
        changes,
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
