import type { Principal } from '../auth/principal.ts';
import { KeywayError } from '../errors.ts';

/** One entry of the web UI's model picker. */
export interface ModelOption {
  /** What `model` takes in a conversation: `<credential>/<model>`, `bot:<name>` or `assistant:<name>`. */
  id: string;
  label: string;
  kind: 'model' | 'bot' | 'assistant';
  /** The provider id, for models. */
  provider?: string;
}

/**
 * Another kind of model name than `<credential>/<model>` (the bots' `bot:<name>`): it lists what the
 * caller may pick, and checks a name it handles.
 */
export interface ModelSource {
  handles(model: string): boolean;
  list(principal: Principal): Promise<ModelOption[]>;
  /** Throws a `KeywayError` when the caller cannot use this model. */
  check(principal: Principal, model: string): Promise<void>;
}

/** The models a chat may use, and the check made before a message is stored. */
export interface ChatModels {
  list(principal: Principal): Promise<ModelOption[]>;
  /**
   * Throws `no_credentials` when the caller has no credential that could answer (the UI links to the
   * credentials page), `model_not_found` or `ambiguous_model` for a name that leads nowhere.
   */
  check(principal: Principal, model: string): Promise<void>;
}

/** What the credential-backed models need: small views of the gateway, the vault and the registry. */
export interface CredentialModelDeps {
  /** `GatewayService.models`: `<credential>/<model>` ids with their provider. */
  models(principal: Principal): Promise<{ id: string; owned_by: string }[]>;
  /** `ModelResolver.resolveModel`: throws `model_not_found` / `ambiguous_model`. */
  resolveModel(principal: Principal, model: string): Promise<unknown>;
  /** `ModelResolver.usable`: the credentials the caller may use. */
  usable(principal: Principal): Promise<{ name: string; provider: string }[]>;
  isProvider(id: string): boolean;
  /** Other kinds of model names (bots); their entries follow the credential models. */
  extraSources?: ModelSource[];
}

/** The chat's models: every credential model the caller may use, then what the extra sources offer. */
export function createChatModels(deps: CredentialModelDeps): ChatModels {
  const sources = deps.extraSources ?? [];
  return {
    async list(principal) {
      const [models, ...extra] = await Promise.all([
        deps.models(principal),
        ...sources.map((source) => source.list(principal)),
      ]);
      const own: ModelOption[] = models.map((model) => {
        const slash = model.id.indexOf('/');
        return {
          id: model.id,
          label: `${model.id.slice(slash + 1)} (${model.id.slice(0, slash)})`,
          kind: 'model',
          provider: model.owned_by,
        };
      });
      return [...own, ...extra.flat()];
    },

    async check(principal, model) {
      const source = sources.find((candidate) => candidate.handles(model));
      if (source) return source.check(principal, model);
      try {
        await deps.resolveModel(principal, model);
      } catch (error) {
        if (!(error instanceof KeywayError) || error.code !== 'model_not_found') throw error;
        const usable = await deps.usable(principal);
        const prefix = model.slice(0, Math.max(0, model.indexOf('/')));
        if (
          usable.length === 0 ||
          (deps.isProvider(prefix) && !usable.some((row) => row.provider === prefix))
        ) {
          throw new KeywayError(
            'no_credentials',
            usable.length === 0
              ? 'You have no provider credential yet. Add one on the credentials page to chat.'
              : `You have no credential for ${prefix}. Add one on the credentials page, or pick another model.`,
            { details: { model, ...(deps.isProvider(prefix) ? { provider: prefix } : {}) } },
          );
        }
        throw error;
      }
    },
  };
}
