import { isAdmin, type Principal } from '../auth/principal.ts';
import { KeywayError } from '../errors.ts';
import { isUuid } from '../ids.ts';
import type { ProviderDefinition } from '../providers/provider.ts';
import type { ProviderRegistry } from '../providers/registry.ts';
import type {
  CredentialRecord,
  CredentialsRepository,
  Scope,
  UsableCredential,
} from './credentials.repository.ts';

/** The repository's scope for a caller: their own credentials and the shared ones (all of them, for an admin's writes). */
export const scopeOf = (actor: Principal): Scope => ({
  userId: actor.userId,
  admin: isAdmin(actor),
  tokenId: actor.tokenId,
  botId: actor.botId,
});

export const credentialNotFound = () => new KeywayError('not_found', 'No such credential.');

/** A credential the scope may see, by id; `not_found` otherwise (a malformed id included). */
export async function findVisible(
  repository: Pick<CredentialsRepository, 'findVisible'>,
  scope: Scope,
  id: string,
): Promise<UsableCredential> {
  if (!isUuid(id)) throw credentialNotFound();
  const row = await repository.findVisible(scope, id);
  if (!row) throw credentialNotFound();
  return row;
}

/** The provider a credential is for; `unknown_provider` (listing the known ones) otherwise. */
export function providerOf(providers: ProviderRegistry, id: string): ProviderDefinition {
  const provider = providers.get(id);
  if (!provider) {
    throw new KeywayError('unknown_provider', `Unknown provider "${id}".`, {
      details: { known: providers.list().map((entry) => entry.id) },
      fix: 'GET /api/providers lists the providers.',
    });
  }
  return provider;
}

/** What a capability that references credentials by id (bots) needs: whether the caller may use one. */
export interface CredentialReferences {
  /** The credential when the caller may use it (their own or a shared one); throws `not_found` otherwise. */
  findUsable(actor: Principal, id: string): Promise<CredentialRecord>;
}

/** References checked straight against the repository: no cache, so it also works inside a transaction. */
export function credentialReferences(
  repository: Pick<CredentialsRepository, 'findVisible'>,
): CredentialReferences {
  return { findUsable: (actor, id) => findVisible(repository, scopeOf(actor), id) };
}
