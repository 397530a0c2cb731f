import type { Assistant } from '../../lib/chat-contract.ts';

/** An assistant's round avatar: its initial on its colour. */
export function AssistantAvatar({
  assistant,
  size = 'small',
}: {
  assistant: Assistant;
  size?: 'small' | 'large';
}) {
  return (
    <span
      className={`assistant-avatar ${size}`}
      style={{ background: assistant.avatarColor ?? 'var(--accent, #4f46e5)' }}
      aria-hidden="true"
    >
      {assistant.name.slice(0, 1).toUpperCase()}
    </span>
  );
}

/**
 * What an empty conversation shows: with an assistant, its avatar, description and starter prompts
 * (one click sends one); without, the assistants a new chat can start with.
 */
export function EmptyConversation({
  assistants,
  assistant,
  onChooseAssistant,
  onStarter,
  disabled,
}: {
  assistants: Assistant[];
  /** The assistant of this conversation, if any. */
  assistant: Assistant | null;
  onChooseAssistant: (assistant: Assistant | null) => void;
  onStarter: (prompt: string) => void;
  disabled: boolean;
}) {
  if (assistant)
    return (
      <div className="empty-chat assistant-intro">
        <AssistantAvatar assistant={assistant} size="large" />
        <h2>{assistant.name}</h2>
        {assistant.description ? <p className="muted">{assistant.description}</p> : null}
        {assistant.starterPrompts.length > 0 ? (
          <ul className="starter-prompts" aria-label="Starter prompts">
            {assistant.starterPrompts.map((prompt) => (
              <li key={prompt}>
                <button
                  type="button"
                  className="button"
                  disabled={disabled}
                  onClick={() => onStarter(prompt)}
                >
                  {prompt}
                </button>
              </li>
            ))}
          </ul>
        ) : null}
        <button type="button" className="button small ghost" onClick={() => onChooseAssistant(null)}>
          Chat without an assistant
        </button>
      </div>
    );
  return (
    <div className="empty-chat">
      <p>
        Ask anything.
        <span className="keyboard-hint">
          {' '}
          Enter sends, Shift+Enter starts a new line, Esc stops a reply.
        </span>{' '}
        Type / for your saved prompts.
      </p>
      {assistants.length > 0 ? (
        <div className="assistant-choices">
          <p className="sidebar-label">Or start with an assistant</p>
          <ul>
            {assistants.map((candidate) => (
              <li key={candidate.id}>
                <button
                  type="button"
                  className="assistant-choice"
                  aria-label={`Chat with ${candidate.name}`}
                  onClick={() => onChooseAssistant(candidate)}
                >
                  <AssistantAvatar assistant={candidate} />
                  <span>
                    <strong>{candidate.name}</strong>
                    {candidate.description ? <span className="muted"> {candidate.description}</span> : null}
                  </span>
                </button>
              </li>
            ))}
          </ul>
        </div>
      ) : null}
    </div>
  );
}
