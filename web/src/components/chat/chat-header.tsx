import type { KnowledgeBase, ModelOption } from '../../api/types.ts';
import type { Assistant } from '../../lib/chat-contract.ts';
import { KnowledgePicker } from '../attachments.tsx';
import { AssistantAvatar } from './assistant-start.tsx';
import { ModelPicker } from './model-picker.tsx';

/**
 * The conversation's head: its title (with its assistant's avatar), the model, its knowledge bases,
 * and the Settings and Share buttons. On a phone, Chats opens the sidebar.
 */
export function ChatHeader({
  title,
  assistant,
  models,
  model,
  onModel,
  bases,
  baseIds,
  onBases,
  streaming,
  sidebarOpen,
  onToggleSidebar,
  settingsOpen,
  onToggleSettings,
  onShare,
}: {
  title: string;
  assistant: Assistant | null;
  models: ModelOption[] | null;
  model: string;
  onModel: (model: string) => void;
  /** null on a server without knowledge bases. */
  bases: KnowledgeBase[] | null;
  baseIds: string[];
  onBases: (ids: string[]) => void;
  streaming: boolean;
  sidebarOpen: boolean;
  onToggleSidebar: () => void;
  settingsOpen: boolean;
  onToggleSettings: () => void;
  /** Absent until the conversation exists. */
  onShare: (() => void) | null;
}) {
  return (
    <div className="chat-head">
      <button
        type="button"
        className="button small ghost sidebar-toggle"
        aria-expanded={sidebarOpen}
        onClick={onToggleSidebar}
      >
        Chats
      </button>
      {assistant ? <AssistantAvatar assistant={assistant} /> : null}
      <h1 id="chat-title" className="chat-title" tabIndex={-1}>
        {title}
      </h1>
      <ModelPicker models={models} model={model} onChange={onModel} disabled={streaming} />
      {bases !== null ? (
        <KnowledgePicker bases={bases} selected={baseIds} onChange={onBases} disabled={streaming} />
      ) : null}
      <div className="chat-head-actions">
        <button
          type="button"
          className="button small ghost"
          aria-expanded={settingsOpen}
          onClick={onToggleSettings}
        >
          Settings
        </button>
        {onShare ? (
          <button type="button" className="button small ghost" onClick={onShare}>
            Share
          </button>
        ) : null}
      </div>
    </div>
  );
}
