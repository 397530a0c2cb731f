import type { Principal } from '../auth/principal.ts';
import type { ModelInfo, WireFormat } from '../providers/provider.ts';
import type { ProviderRegistry } from '../providers/registry.ts';
import type { UpstreamPolicy } from '../providers/upstream-url-guard.ts';
import type { CredentialSecrets } from './credential-secrets.ts';
import type { CredentialRecord, UsableCredential } from './credentials.repository.ts';
import type { ModelResolver, ModelTarget } from './model-resolver.ts';

export type { ModelTarget } from './model-resolver.ts';

/** What the gateway needs of the vault on the request path: where a model name leads, and how to call it. */
export interface GatewayCredentials {
  /** `<credential>/<model>` or `<provider>/<model>`; throws `model_not_found` / `ambiguous_model`. */
  resolveModel(principal: Principal, modelName: string): Promise<ModelTarget>;
  /** A bot's credential, by id; throws `not_found` when the bot's owner may not use it. */
  resolveById(principal: Principal, credentialId: string, model: string): Promise<ModelTarget>;
  revealSecret(record: CredentialRecord): string | null;
  upstreamPolicy(record: CredentialRecord): UpstreamPolicy;
  usable(principal: Principal): Promise<UsableCredential[]>;
  cachedModels(record: UsableCredential): Promise<ModelInfo[]>;
  /** How a provider is spoken to (what its models can serve); undefined for a provider no longer known. */
  wireOf(providerId: string): WireFormat | undefined;
}

/** The gateway's port over the two services that hold those jobs. */
export function gatewayCredentials(
  resolver: Pick<ModelResolver, 'resolveModel' | 'resolveById' | 'usable' | 'cachedModels'>,
  secrets: Pick<CredentialSecrets, 'revealSecret' | 'upstreamPolicy'>,
  providers: Pick<ProviderRegistry, 'get'>,
): GatewayCredentials {
  return {
    resolveModel: (principal, modelName) => resolver.resolveModel(principal, modelName),
    resolveById: (principal, credentialId, model) => resolver.resolveById(principal, credentialId, model),
    revealSecret: (record) => secrets.revealSecret(record),
    upstreamPolicy: (record) => secrets.upstreamPolicy(record),
    usable: (principal) => resolver.usable(principal),
    cachedModels: (record) => resolver.cachedModels(record),
    wireOf: (providerId) => providers.get(providerId)?.wire,
  };
}
