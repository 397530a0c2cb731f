import { useEffect, useId, useState } from 'react';
import { get, isMissingRoute, patch } from '../../api/client.ts';
import type { ModelOption } from '../../api/types.ts';
import type { ChatPreferences, ChatSettingsValues, Preset } from '../../lib/chat-contract.ts';
import { settingsFromForm, toSettingsForm, type SettingsForm } from '../../lib/chat-settings-form.ts';
import { Notice } from '../field.tsx';

const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));

/**
 * A conversation's own settings (system prompt, temperature, max tokens, how much history goes with
 * each message), a preset to copy them from, and the reader's title model.
 */
export function SettingsPanel({
  settings,
  models,
  onSave,
  onApplyPreset,
  onClose,
}: {
  settings: Partial<ChatSettingsValues>;
  models: ModelOption[];
  /** Saves the settings; a rejection is shown in the panel. */
  onSave: (settings: ChatSettingsValues) => Promise<void>;
  onApplyPreset: (preset: Preset) => Promise<void>;
  onClose: () => void;
}) {
  const id = useId();
  const [form, setForm] = useState<SettingsForm>(() => toSettingsForm(settings));
  const [presets, setPresets] = useState<Preset[] | null>(null);
  const [presetId, setPresetId] = useState('');
  const [preferences, setPreferences] = useState<ChatPreferences | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState<string | null>(null);

  useEffect(() => setForm(toSettingsForm(settings)), [settings]);
  useEffect(() => {
    get<Preset[]>('/api/presets')
      .then(setPresets)
      .catch(() => setPresets(null));
    get<ChatPreferences>('/api/me/chat-preferences')
      .then(setPreferences)
      .catch(() => setPreferences(null));
  }, []);

  const field = (key: keyof ChatSettingsValues) => ({
    id: `${id}-${key}`,
    value: form[key],
    onChange: (event: { target: { value: string } }) => {
      setSaved(null);
      setForm((before) => ({ ...before, [key]: event.target.value }));
    },
  });

  const save = async () => {
    const { settings: next, error: invalid } = settingsFromForm(form);
    setSaved(null);
    setError(invalid);
    if (!next) return;
    try {
      await onSave(next);
      setSaved('Saved: the next message uses these settings.');
    } catch (caught) {
      setError(errorText(caught));
    }
  };

  const applyPreset = async () => {
    const preset = presets?.find((candidate) => candidate.id === presetId);
    if (!preset) return;
    setError(null);
    try {
      await onApplyPreset(preset);
      setSaved(`Applied the preset “${preset.name}”.`);
    } catch (caught) {
      setError(errorText(caught));
    }
  };

  const changeTitleModel = async (titleModel: string) => {
    try {
      setPreferences(
        await patch<ChatPreferences>('/api/me/chat-preferences', { titleModel: titleModel || null }),
      );
    } catch (caught) {
      setError(isMissingRoute(caught) ? 'This server cannot generate titles yet.' : errorText(caught));
    }
  };

  return (
    <section className="settings-panel" aria-labelledby={`${id}-title`}>
      <div className="settings-head">
        <h2 id={`${id}-title`}>Chat settings</h2>
        <button type="button" className="icon-button" aria-label="Close the settings" onClick={onClose}>
          ×
        </button>
      </div>
      {error ? <Notice kind="error">{error}</Notice> : null}
      {saved ? <Notice kind="success">{saved}</Notice> : null}
      {presets && presets.length > 0 ? (
        <div className="row preset-row">
          <label htmlFor={`${id}-preset`}>Preset</label>
          <select id={`${id}-preset`} value={presetId} onChange={(event) => setPresetId(event.target.value)}>
            <option value="">Choose a preset…</option>
            {presets.map((preset) => (
              <option key={preset.id} value={preset.id}>
                {preset.name}
                {preset.mine ? '' : ` (${preset.owner.name})`}
              </option>
            ))}
          </select>
          <button
            type="button"
            className="button small"
            disabled={!presetId}
            onClick={() => void applyPreset()}
          >
            Apply preset
          </button>
        </div>
      ) : null}
      <form
        className="settings-form"
        onSubmit={(event) => {
          event.preventDefault();
          void save();
        }}
      >
        <div className="field">
          <label htmlFor={`${id}-systemPrompt`}>System prompt</label>
          <textarea
            rows={3}
            placeholder="None: the model's (or the assistant's) own"
            {...field('systemPrompt')}
          />
        </div>
        <div className="settings-grid">
          <div className="field">
            <label htmlFor={`${id}-temperature`}>Temperature</label>
            <input inputMode="decimal" placeholder="default" {...field('temperature')} />
          </div>
          <div className="field">
            <label htmlFor={`${id}-maxTokens`}>Max tokens</label>
            <input inputMode="numeric" placeholder="default" {...field('maxTokens')} />
          </div>
          <div className="field">
            <label htmlFor={`${id}-contextMessages`}>Past messages sent</label>
            <input inputMode="numeric" placeholder="all" {...field('contextMessages')} />
          </div>
          <div className="field">
            <label htmlFor={`${id}-contextTokens`}>Past tokens sent</label>
            <input inputMode="numeric" placeholder="no limit" {...field('contextTokens')} />
          </div>
        </div>
        <div className="row">
          <button type="submit" className="button primary small">
            Save settings
          </button>
          <span className="hint">Empty fields use the default.</span>
        </div>
      </form>
      {preferences ? (
        <div className="field title-model">
          <label htmlFor={`${id}-title-model`}>Titles written by</label>
          <select
            id={`${id}-title-model`}
            value={preferences.titleModel ?? ''}
            onChange={(event) => void changeTitleModel(event.target.value)}
          >
            <option value="">
              {preferences.defaultTitleModel
                ? `The default (${preferences.defaultTitleModel})`
                : 'Nobody: the first message, cut short'}
            </option>
            {models
              .filter((option) => option.kind === 'model')
              .map((option) => (
                <option key={option.id} value={option.id}>
                  {option.label}
                </option>
              ))}
          </select>
          <div className="hint">A cheap model names each new chat after its first exchange.</div>
        </div>
      ) : null}
    </section>
  );
}
