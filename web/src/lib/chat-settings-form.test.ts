import { describe, expect, it } from 'vitest';
import { settingsFromForm, toSettingsForm } from './chat-settings-form.ts';

const empty = toSettingsForm({});

describe('the chat settings form', () => {
  it('reads empty fields as the default (null) and numbers as numbers', () => {
    expect(settingsFromForm(empty)).toEqual({
      settings: {
        systemPrompt: null,
        temperature: null,
        maxTokens: null,
        contextMessages: null,
        contextTokens: null,
      },
      error: null,
    });
    expect(
      settingsFromForm({
        ...empty,
        systemPrompt: 'Be brief.',
        temperature: '0.7',
        maxTokens: '500',
        contextMessages: '10',
      }).settings,
    ).toEqual({
      systemPrompt: 'Be brief.',
      temperature: 0.7,
      maxTokens: 500,
      contextMessages: 10,
      contextTokens: null,
    });
  });

  it('refuses a number out of range or not whole, naming the field', () => {
    expect(settingsFromForm({ ...empty, temperature: '3' }).error).toBe(
      'Temperature must be a number from 0 to 2.',
    );
    expect(settingsFromForm({ ...empty, maxTokens: '1.5' }).error).toBe(
      'Max tokens must be a whole number from 1 to 1000000.',
    );
    expect(settingsFromForm({ ...empty, contextTokens: 'lots' }).settings).toBeNull();
  });

  it('shows saved settings as text', () => {
    expect(toSettingsForm({ temperature: 0, maxTokens: 20, systemPrompt: null })).toMatchObject({
      temperature: '0',
      maxTokens: '20',
      systemPrompt: '',
    });
  });
});
