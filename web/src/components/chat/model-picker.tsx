import type { ModelOption } from '../../api/types.ts';

const GROUPS: Record<string, string> = { model: 'Models', bot: 'Bots', assistant: 'Assistants' };

/** The model a conversation answers with: models, bots and assistants grouped, or typed by hand. */
export function ModelPicker({
  models,
  model,
  onChange,
  disabled,
}: {
  /** null while loading. */
  models: ModelOption[] | null;
  model: string;
  onChange: (model: string) => void;
  disabled: boolean;
}) {
  const kinds = [...new Set((models ?? []).map((option) => option.kind as string))];
  return (
    <div className="model-picker">
      <label htmlFor="model">Model</label>
      {models === null ? (
        <select id="model" disabled>
          <option>Loading models…</option>
        </select>
      ) : models.length > 0 ? (
        <select
          id="model"
          value={model}
          onChange={(event) => onChange(event.target.value)}
          disabled={disabled}
        >
          {!models.some((option) => option.id === model) ? (
            <option value={model}>{model || 'Choose…'}</option>
          ) : null}
          {kinds.map((kind) => (
            <optgroup key={kind} label={GROUPS[kind] ?? kind}>
              {models
                .filter((option) => option.kind === kind)
                .map((option) => (
                  <option key={option.id} value={option.id}>
                    {option.label}
                  </option>
                ))}
            </optgroup>
          ))}
        </select>
      ) : (
        <input
          id="model"
          value={model}
          placeholder="credential/model"
          onChange={(event) => onChange(event.target.value)}
          disabled={disabled}
        />
      )}
    </div>
  );
}
