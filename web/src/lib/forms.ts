import type { Bot, BotInput, Provider, TriggerOperator } from '../api/types.ts';

/** Field name → message; empty when the form may be sent. */
export type FieldErrors = Record<string, string>;

export const USERNAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$/;
export const MIN_PASSWORD_LENGTH = 10;
/** Credential and bot names appear in model names (`<name>/<model>`), so no slash. */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function validateAccount(input: {
  username: string;
  password: string;
  confirm?: string;
}): FieldErrors {
  const errors: FieldErrors = {};
  if (!USERNAME_PATTERN.test(input.username))
    errors.username = 'A username is 2–64 letters, digits, dots, dashes or underscores.';
  if (input.password.length < MIN_PASSWORD_LENGTH)
    errors.password = `A password needs at least ${MIN_PASSWORD_LENGTH} characters.`;
  if (input.confirm !== undefined && input.confirm !== input.password)
    errors.confirm = 'The two passwords differ.';
  return errors;
}

export interface CredentialForm {
  name: string;
  provider: string;
  secret: string;
  settings: Record<string, string>;
  shared: boolean;
}

const isUrl = (value: string) => {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
};

/** Checks a new credential against its provider's rules and builds the request body. */
export function credentialBody(
  form: CredentialForm,
  provider: Provider | undefined,
): { errors: FieldErrors; body: Record<string, unknown> | null } {
  const errors: FieldErrors = {};
  if (!NAME_PATTERN.test(form.name))
    errors.name =
      'A name is 1–64 letters, digits, dots, dashes or underscores, starting with a letter or digit.';
  if (!provider) errors.provider = 'Choose a provider.';
  if (provider?.secret === 'required' && form.secret.trim() === '') errors.secret = 'The key is required.';
  const settings: Record<string, unknown> = {};
  const properties = provider?.settings.properties ?? {};
  const required = new Set(provider?.settings.required ?? []);
  // openai-compatible has no default URL: the base URL is what makes it usable.
  if (provider && provider.defaultBaseUrl === null && properties.baseUrl) required.add('baseUrl');
  for (const [key, schema] of Object.entries(properties)) {
    const raw = (form.settings[key] ?? '').trim();
    if (raw === '') {
      if (required.has(key)) errors[`settings.${key}`] = 'Required.';
      continue;
    }
    const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
    if (type === 'boolean') settings[key] = raw === 'true';
    else if (type === 'number' || type === 'integer') {
      const value = Number(raw);
      if (!Number.isFinite(value)) errors[`settings.${key}`] = 'A number.';
      else settings[key] = value;
    } else {
      if ((schema.format === 'uri' || /url|endpoint/i.test(key)) && !isUrl(raw))
        errors[`settings.${key}`] = 'A URL starting with http:// or https://.';
      settings[key] = raw;
    }
  }
  if (Object.keys(errors).length > 0) return { errors, body: null };
  return {
    errors,
    body: {
      name: form.name,
      provider: form.provider,
      ...(form.secret !== '' ? { secret: form.secret } : {}),
      ...(Object.keys(settings).length > 0 ? { settings } : {}),
      ...(form.shared ? { shared: true } : {}),
    },
  };
}

/** Every bot setting as the form holds it (text inputs hold strings). */
export interface BotForm {
  name: string;
  credentialId: string;
  model: string;
  systemPrompt: string;
  seedMessages: { role: 'user' | 'assistant' | 'system'; content: string }[];
  temperature: string;
  maxTokens: string;
  topP: string;
  historyWindow: string;
  fallbackCredentialIds: string[];
  triggerType: 'all' | 'keyword' | 'none';
  triggerOperator: TriggerOperator;
  triggerValue: string;
  caseSensitive: boolean;
  keywordFinish: string;
  expireMinutes: string;
  debounceSeconds: string;
  ignore: string;
  fallbackBotId: string;
  pauseOnFromMe: boolean;
  listenFromMe: boolean;
  splitEnabled: boolean;
  splitDelayMs: string;
  unknownMessage: string;
  failureMessage: string;
  callbackUrl: string;
  evolutionServerUrl: string;
  evolutionInstance: string;
  /** Write-only: empty keeps the saved key. */
  evolutionApiKey: string;
}

export const emptyBotForm: BotForm = {
  name: '',
  credentialId: '',
  model: '',
  systemPrompt: '',
  seedMessages: [],
  temperature: '',
  maxTokens: '',
  topP: '',
  historyWindow: '10',
  fallbackCredentialIds: [],
  triggerType: 'all',
  triggerOperator: 'contains',
  triggerValue: '',
  caseSensitive: false,
  keywordFinish: '',
  expireMinutes: '',
  debounceSeconds: '',
  ignore: '',
  fallbackBotId: '',
  pauseOnFromMe: true,
  listenFromMe: false,
  splitEnabled: false,
  splitDelayMs: '800',
  unknownMessage: '',
  failureMessage: 'Sorry, I cannot answer right now. Please try again later.',
  callbackUrl: '',
  evolutionServerUrl: '',
  evolutionInstance: '',
  evolutionApiKey: '',
};

const str = (value: unknown) => (value === undefined || value === null ? '' : String(value));

/** A saved bot as the form shows it (secrets never come back, so the key field starts empty). */
export function botToForm(bot: Bot): BotForm {
  const keyword = bot.trigger?.type === 'keyword' ? bot.trigger : undefined;
  return {
    ...emptyBotForm,
    name: bot.name,
    credentialId: bot.credentialId ?? '',
    model: bot.model ?? '',
    systemPrompt: bot.systemPrompt ?? '',
    seedMessages: bot.seedMessages ?? [],
    temperature: str(bot.params?.temperature),
    maxTokens: str(bot.params?.maxTokens),
    topP: str(bot.params?.topP),
    historyWindow: str(bot.historyWindow ?? 10),
    fallbackCredentialIds: bot.fallbackCredentialIds ?? [],
    triggerType: bot.trigger?.type ?? 'all',
    triggerOperator: keyword?.operator ?? 'contains',
    triggerValue: keyword?.value ?? '',
    caseSensitive: keyword?.caseSensitive ?? false,
    keywordFinish: bot.keywordFinish ?? '',
    expireMinutes: str(bot.expireMinutes),
    debounceSeconds: str(bot.debounceSeconds),
    ignore: (bot.ignore ?? []).join('\n'),
    fallbackBotId: bot.fallbackBotId ?? '',
    pauseOnFromMe: bot.takeover?.pauseOnFromMe ?? true,
    listenFromMe: bot.takeover?.listenFromMe ?? false,
    splitEnabled: bot.split?.enabled ?? false,
    splitDelayMs: str(bot.split?.delayMs ?? 800),
    unknownMessage: bot.unknownMessage ?? '',
    failureMessage: bot.failureMessage ?? '',
    callbackUrl: bot.channels?.webhook?.callbackUrl ?? '',
    evolutionServerUrl: bot.channels?.evolution?.serverUrl ?? '',
    evolutionInstance: bot.channels?.evolution?.instance ?? '',
    evolutionApiKey: '',
  };
}

function numberField(
  errors: FieldErrors,
  field: string,
  raw: string,
  rule: { min: number; max: number; integer?: boolean; label: string },
): number | undefined {
  if (raw.trim() === '') return undefined;
  const value = Number(raw);
  if (
    !Number.isFinite(value) ||
    (rule.integer && !Number.isInteger(value)) ||
    value < rule.min ||
    value > rule.max
  ) {
    errors[field] =
      `${rule.label} is ${rule.integer ? 'a whole number' : 'a number'} from ${rule.min} to ${rule.max}.`;
    return undefined;
  }
  return value;
}

/**
 * Validates the bot form and builds the `POST/PATCH /api/bots` body. `editing` keeps a saved
 * Evolution key when the key field is left empty.
 */
export function botBody(form: BotForm, editing = false): { errors: FieldErrors; body: BotInput | null } {
  const errors: FieldErrors = {};
  if (!NAME_PATTERN.test(form.name))
    errors.name =
      'A name is 1–64 letters, digits, dots, dashes or underscores, starting with a letter or digit.';
  if (!form.credentialId) errors.credentialId = 'Choose the credential the bot uses.';
  if (form.model.trim() === '') errors.model = 'Name the model, e.g. gpt-4o-mini.';
  const temperature = numberField(errors, 'temperature', form.temperature, {
    min: 0,
    max: 2,
    label: 'Temperature',
  });
  const maxTokens = numberField(errors, 'maxTokens', form.maxTokens, {
    min: 1,
    max: 1_000_000,
    integer: true,
    label: 'Max tokens',
  });
  const topP = numberField(errors, 'topP', form.topP, { min: 0, max: 1, label: 'Top p' });
  const historyWindow = numberField(errors, 'historyWindow', form.historyWindow, {
    min: 0,
    max: 200,
    integer: true,
    label: 'The history window',
  });
  const expireMinutes = numberField(errors, 'expireMinutes', form.expireMinutes, {
    min: 1,
    max: 525_600,
    integer: true,
    label: 'Session expiry',
  });
  const debounceSeconds = numberField(errors, 'debounceSeconds', form.debounceSeconds, {
    min: 0,
    max: 600,
    label: 'Debounce',
  });
  const splitDelayMs = numberField(errors, 'splitDelayMs', form.splitDelayMs, {
    min: 0,
    max: 60_000,
    integer: true,
    label: 'The split delay',
  });
  if (form.triggerType === 'keyword') {
    if (form.triggerValue.trim() === '') errors.triggerValue = 'A keyword trigger needs a value.';
    else if (form.triggerOperator === 'regex') {
      try {
        new RegExp(form.triggerValue, form.caseSensitive ? '' : 'i');
      } catch (error) {
        errors.triggerValue = `Not a valid regular expression: ${(error as Error).message}`;
      }
    }
  }
  form.seedMessages.forEach((message, index) => {
    if (message.content.trim() === '')
      errors[`seed.${index}`] = 'A seed message needs content (or remove it).';
  });
  if (form.callbackUrl.trim() && !isUrl(form.callbackUrl.trim()))
    errors.callbackUrl = 'A URL starting with http:// or https://.';
  const evolutionUsed = [form.evolutionServerUrl, form.evolutionInstance, form.evolutionApiKey].some((v) =>
    v.trim(),
  );
  if (evolutionUsed) {
    if (!isUrl(form.evolutionServerUrl.trim())) errors.evolutionServerUrl = 'The Evolution API server URL.';
    if (!form.evolutionInstance.trim()) errors.evolutionInstance = 'The Evolution instance name.';
    if (!editing && !form.evolutionApiKey.trim()) errors.evolutionApiKey = "The instance's API key.";
  }
  if (Object.keys(errors).length > 0) return { errors, body: null };

  const text = (value: string) => (value.trim() === '' ? null : value);
  const params: NonNullable<BotInput['params']> = {};
  if (temperature !== undefined) params.temperature = temperature;
  if (maxTokens !== undefined) params.maxTokens = maxTokens;
  if (topP !== undefined) params.topP = topP;
  const body: BotInput = {
    name: form.name,
    credentialId: form.credentialId,
    model: form.model.trim(),
    systemPrompt: form.systemPrompt,
    seedMessages: form.seedMessages,
    params,
    historyWindow: historyWindow ?? 10,
    fallbackCredentialIds: form.fallbackCredentialIds.filter((id) => id !== form.credentialId),
    trigger:
      form.triggerType === 'keyword'
        ? {
            type: 'keyword',
            operator: form.triggerOperator,
            value: form.triggerValue,
            caseSensitive: form.caseSensitive,
          }
        : { type: form.triggerType },
    keywordFinish: text(form.keywordFinish),
    expireMinutes: expireMinutes ?? null,
    // Empty means no debounce (0); the server also reads a null as 0.
    debounceSeconds: debounceSeconds ?? 0,
    ignore: form.ignore
      .split(/[\n,]/)
      .map((entry) => entry.trim())
      .filter(Boolean),
    fallbackBotId: form.fallbackBotId || null,
    takeover: { pauseOnFromMe: form.pauseOnFromMe, listenFromMe: form.listenFromMe },
    split: { enabled: form.splitEnabled, delayMs: splitDelayMs ?? 800 },
    unknownMessage: text(form.unknownMessage),
    failureMessage: text(form.failureMessage),
    channels: {
      webhook: form.callbackUrl.trim() ? { callbackUrl: form.callbackUrl.trim() } : null,
      evolution: evolutionUsed
        ? {
            serverUrl: form.evolutionServerUrl.trim(),
            instance: form.evolutionInstance.trim(),
            ...(form.evolutionApiKey ? { apiKey: form.evolutionApiKey } : {}),
          }
        : null,
    },
  };
  return { errors, body };
}

/** `baseUrl` → "Base URL", `apiVersion` → "API version": labels from settings' names. */
export function settingLabel(key: string): string {
  const words = key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .split(/[\s_-]+/)
    .map((word) => (/^(url|api|id)$/i.test(word) ? word.toUpperCase() : word.toLowerCase()));
  const text = words.join(' ');
  return text.charAt(0).toUpperCase() + text.slice(1);
}
