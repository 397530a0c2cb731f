/** A consumer that references a credential (bots do, from the bots capability on). */
export interface CredentialConsumer {
  id: string;
  name: string;
}

/**
 * Which bots use which credentials. The credentials capability asks through this port so that it
 * does not depend on the capabilities that consume it; each consumer plugs its own lookup in.
 */
export interface CredentialUsage {
  botsUsing(credentialIds: string[]): Promise<Map<string, CredentialConsumer[]>>;
  /** Stops every consumer from using the credential (on delete with `detach`). */
  detach(credentialId: string): Promise<void>;
}

/** The usage lookup while no capability consumes credentials by reference. */
export const NO_CREDENTIAL_CONSUMERS: CredentialUsage = {
  botsUsing: async () => new Map(),
  detach: async () => {},
};
