import type { Principal } from '../auth/principal.ts';
import type { ChatPreferencesRepository } from './chat-preferences.repository.ts';
import type { ChatModels } from './chat-models.ts';
import type { TitleModels } from './conversation-titles.ts';

/** The `settings` key of the admin's default title model (a JSON string). */
export const DEFAULT_TITLE_MODEL_KEY = 'chat.default_title_model';

/** Installation-wide values (`SettingsRepository`). */
export interface ChatSettingsStore {
  get<T>(key: string): Promise<T | undefined>;
  put(key: string, value: unknown): Promise<void>;
  delete(key: string): Promise<void>;
}

export interface ChatPreferencesView {
  /** The user's own title model; null: the default. */
  titleModel: string | null;
  /** The admin's default for users without one; null: titles are not generated. */
  defaultTitleModel: string | null;
}

/**
 * Who names conversations with which model: each user may pick a title model, and an admin sets the
 * default for the others (none: titles stay the first message cut short). A model is checked when
 * picked, as a chat's model is: one the picker cannot use is refused then, not at the first title.
 */
export class ChatPreferencesService implements TitleModels {
  readonly #preferences: ChatPreferencesRepository;
  readonly #settings: ChatSettingsStore;
  readonly #models: ChatModels;

  constructor(deps: {
    preferences: ChatPreferencesRepository;
    settings: ChatSettingsStore;
    models: ChatModels;
  }) {
    this.#preferences = deps.preferences;
    this.#settings = deps.settings;
    this.#models = deps.models;
  }

  async get(actor: Principal): Promise<ChatPreferencesView> {
    const [titleModel, defaultTitleModel] = await Promise.all([
      this.#preferences.titleModel(actor.userId),
      this.#defaultTitleModel(),
    ]);
    return { titleModel, defaultTitleModel };
  }

  async update(actor: Principal, changes: { titleModel?: string | null }): Promise<ChatPreferencesView> {
    if (changes.titleModel !== undefined) {
      if (changes.titleModel !== null) await this.#models.check(actor, changes.titleModel);
      await this.#preferences.setTitleModel(actor.userId, changes.titleModel);
    }
    return this.get(actor);
  }

  /**
   * Admins only (the route says so): the default title model. Not checked against the admin's own
   * models: `<credential>/<model>` resolves per user, and a user who cannot use it gets no title.
   */
  async setDefault(
    actor: Principal,
    changes: { defaultTitleModel?: string | null },
  ): Promise<ChatPreferencesView> {
    if (changes.defaultTitleModel !== undefined) {
      if (changes.defaultTitleModel === null) await this.#settings.delete(DEFAULT_TITLE_MODEL_KEY);
      else await this.#settings.put(DEFAULT_TITLE_MODEL_KEY, changes.defaultTitleModel);
    }
    return this.get(actor);
  }

  async titleModel(actor: Principal): Promise<string | null> {
    return (await this.#preferences.titleModel(actor.userId)) ?? (await this.#defaultTitleModel());
  }

  async #defaultTitleModel(): Promise<string | null> {
    const value = await this.#settings.get<unknown>(DEFAULT_TITLE_MODEL_KEY);
    return typeof value === 'string' && value !== '' ? value : null;
  }
}
