import type { ChatSettingsValues } from './chat-contract.ts';

/** The form's text for each setting ('' = the default). */
export type SettingsForm = Record<keyof ChatSettingsValues, string>;

export const toSettingsForm = (settings: Partial<ChatSettingsValues>): SettingsForm => ({
  systemPrompt: settings.systemPrompt ?? '',
  temperature: settings.temperature?.toString() ?? '',
  maxTokens: settings.maxTokens?.toString() ?? '',
  contextMessages: settings.contextMessages?.toString() ?? '',
  contextTokens: settings.contextTokens?.toString() ?? '',
});

/** The form read back: numbers checked, an empty field null (the default). */
export function settingsFromForm(form: SettingsForm): {
  settings: ChatSettingsValues | null;
  error: string | null;
} {
  const number = (text: string, name: string, min: number, max: number, integer: boolean) => {
    if (text.trim() === '') return null;
    const value = Number(text);
    if (!Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value)))
      throw new Error(`${name} must be ${integer ? 'a whole number' : 'a number'} from ${min} to ${max}.`);
    return value;
  };
  try {
    return {
      settings: {
        systemPrompt: form.systemPrompt.trim() === '' ? null : form.systemPrompt,
        temperature: number(form.temperature, 'Temperature', 0, 2, false),
        maxTokens: number(form.maxTokens, 'Max tokens', 1, 1_000_000, true),
        contextMessages: number(form.contextMessages, 'Past messages', 1, 10_000, true),
        contextTokens: number(form.contextTokens, 'Past tokens', 1, 10_000_000, true),
      },
      error: null,
    };
  } catch (error) {
    return { settings: null, error: (error as Error).message };
  }
}
