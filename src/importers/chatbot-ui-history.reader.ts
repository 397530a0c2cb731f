import type { SourceDatabase } from './source-database.ts';

/** A Chatbot-UI workspace: every chat lives in one; it becomes a Keyway folder. */
export interface ChatbotUiWorkspace {
  id: string;
  userId: string;
  name: string;
  isHome: boolean;
}

/** A Chatbot-UI folder (of one workspace). Only folders of `type` 'chats' hold conversations. */
export interface ChatbotUiFolder {
  id: string;
  userId: string;
  workspaceId: string;
  name: string;
  type: string;
}

export interface ChatbotUiMessage {
  id: string;
  chatId: string;
  role: string;
  content: string;
  model: string;
  sequenceNumber: number;
  createdAt: Date | null;
  /** How many images Chatbot-UI kept for it in Supabase storage (not imported). */
  images: number;
}

export interface ChatbotUiChat {
  id: string;
  userId: string;
  workspaceId: string;
  folderId: string | null;
  assistantId: string | null;
  name: string;
  model: string;
  prompt: string;
  temperature: number | null;
  contextLength: number | null;
  createdAt: Date | null;
  updatedAt: Date | null;
  /** Its messages, by sequence_number. */
  messages: ChatbotUiMessage[];
  /** The ids of the files attached to it (`chat_files`). */
  fileIds: string[];
}

export interface ChatbotUiPrompt {
  id: string;
  userId: string;
  name: string;
  content: string;
}

/** A row of `presets` or `assistants`: the settings they share. */
export interface ChatbotUiSettingsRow {
  id: string;
  userId: string;
  name: string;
  description: string;
  model: string;
  prompt: string;
  temperature: number | null;
  contextLength: number | null;
}

export interface ChatbotUiAssistant extends ChatbotUiSettingsRow {
  /** The collections it searches (`assistant_collections`). */
  collectionIds: string[];
}

export interface ChatbotUiHistory {
  workspaces: ChatbotUiWorkspace[];
  folders: ChatbotUiFolder[];
  chats: ChatbotUiChat[];
  prompts: ChatbotUiPrompt[];
  presets: ChatbotUiSettingsRow[];
  assistants: ChatbotUiAssistant[];
  /** Messages whose chat is not in `chats` (only a damaged database has them). */
  orphanMessages: number;
  /** The tables this database lacks (an older Chatbot-UI): nothing is imported from them. */
  missingTables: string[];
}

const TABLES = {
  workspaces: ['id', 'user_id', 'name', 'is_home'],
  folders: ['id', 'user_id', 'workspace_id', 'name', 'type'],
  chats: [
    'id',
    'user_id',
    'workspace_id',
    'folder_id',
    'assistant_id',
    'name',
    'model',
    'prompt',
    'temperature',
    'context_length',
    'created_at',
    'updated_at',
  ],
  messages: ['id', 'chat_id', 'role', 'content', 'model', 'sequence_number', 'created_at', 'image_paths'],
  chat_files: ['chat_id', 'file_id'],
  prompts: ['id', 'user_id', 'name', 'content'],
  presets: ['id', 'user_id', 'name', 'description', 'model', 'prompt', 'temperature', 'context_length'],
  assistants: ['id', 'user_id', 'name', 'description', 'model', 'prompt', 'temperature', 'context_length'],
  assistant_collections: ['assistant_id', 'collection_id'],
} as const;
type Table = keyof typeof TABLES;

/**
 * Reads a Chatbot-UI database's history: workspaces, folders, chats with their messages (ordered by
 * `sequence_number`), prompts, presets and assistants. A table this version lacks (or lacks a column
 * the importer reads) is listed in `missingTables` and read as empty. The workspace join tables
 * (`prompt_workspaces`, `preset_workspaces`, `assistant_workspaces`) are not read: Keyway's prompts,
 * presets and assistants belong to their owner, not to a folder.
 */
export async function readChatbotUiHistory(source: SourceDatabase): Promise<ChatbotUiHistory> {
  const missingTables: string[] = [];
  const read = async (table: Table): Promise<Record<string, unknown>[]> => {
    const present = await source.columns(table);
    const wanted = TABLES[table];
    if (!present || !wanted.every((column) => present.has(column))) {
      missingTables.push(table);
      return [];
    }
    return source.rows(table, wanted);
  };

  const workspaces = (await read('workspaces')).map((row) => ({
    id: String(row.id),
    userId: String(row.user_id),
    name: String(row.name ?? ''),
    isHome: row.is_home === true,
  }));
  const folders = (await read('folders')).map((row) => ({
    id: String(row.id),
    userId: String(row.user_id),
    workspaceId: String(row.workspace_id),
    name: String(row.name ?? ''),
    type: String(row.type ?? ''),
  }));

  const chats = (await read('chats')).map((row): ChatbotUiChat => ({
    id: String(row.id),
    userId: String(row.user_id),
    workspaceId: String(row.workspace_id),
    folderId: optionalId(row.folder_id),
    assistantId: optionalId(row.assistant_id),
    name: String(row.name ?? ''),
    model: String(row.model ?? ''),
    prompt: String(row.prompt ?? ''),
    temperature: number(row.temperature),
    contextLength: number(row.context_length),
    createdAt: date(row.created_at),
    updatedAt: date(row.updated_at),
    messages: [],
    fileIds: [],
  }));
  const byId = new Map(chats.map((chat) => [chat.id, chat]));
  let orphanMessages = 0;
  for (const row of await read('messages')) {
    const chat = byId.get(String(row.chat_id));
    if (!chat) {
      orphanMessages++;
      continue;
    }
    chat.messages.push({
      id: String(row.id),
      chatId: chat.id,
      role: String(row.role ?? ''),
      content: String(row.content ?? ''),
      model: String(row.model ?? ''),
      sequenceNumber: Number(row.sequence_number ?? 0),
      createdAt: date(row.created_at),
      images: Array.isArray(row.image_paths) ? row.image_paths.length : 0,
    });
  }
  for (const chat of chats) {
    chat.messages.sort(
      (a, b) =>
        a.sequenceNumber - b.sequenceNumber ||
        (a.createdAt?.getTime() ?? 0) - (b.createdAt?.getTime() ?? 0) ||
        a.id.localeCompare(b.id),
    );
  }
  for (const row of await read('chat_files'))
    byId.get(String(row.chat_id))?.fileIds.push(String(row.file_id));
  chats.sort(
    (a, b) => (a.createdAt?.getTime() ?? 0) - (b.createdAt?.getTime() ?? 0) || a.id.localeCompare(b.id),
  );

  const prompts = (await read('prompts')).map((row) => ({
    id: String(row.id),
    userId: String(row.user_id),
    name: String(row.name ?? ''),
    content: String(row.content ?? ''),
  }));
  const settings = (row: Record<string, unknown>): ChatbotUiSettingsRow => ({
    id: String(row.id),
    userId: String(row.user_id),
    name: String(row.name ?? ''),
    description: String(row.description ?? ''),
    model: String(row.model ?? ''),
    prompt: String(row.prompt ?? ''),
    temperature: number(row.temperature),
    contextLength: number(row.context_length),
  });
  const presets = (await read('presets')).map(settings);
  const collectionsOf = new Map<string, string[]>();
  for (const row of await read('assistant_collections')) {
    const list = collectionsOf.get(String(row.assistant_id)) ?? [];
    list.push(String(row.collection_id));
    collectionsOf.set(String(row.assistant_id), list);
  }
  const assistants = (await read('assistants')).map((row) => {
    const base = settings(row);
    return { ...base, collectionIds: (collectionsOf.get(base.id) ?? []).sort() };
  });
  const byName = <T extends { name: string; id: string }>(a: T, b: T) =>
    a.name.localeCompare(b.name) || a.id.localeCompare(b.id);
  workspaces.sort(byName);
  folders.sort(byName);
  prompts.sort(byName);
  presets.sort(byName);
  assistants.sort(byName);
  return { workspaces, folders, chats, prompts, presets, assistants, orphanMessages, missingTables };
}

function optionalId(value: unknown): string | null {
  return value === null || value === undefined ? null : String(value);
}

function number(value: unknown): number | null {
  if (value === null || value === undefined) return null;
  const n = Number(value);
  return Number.isFinite(n) ? n : null;
}

function date(value: unknown): Date | null {
  if (value === null || value === undefined) return null;
  const parsed = value instanceof Date ? value : new Date(String(value));
  return Number.isNaN(parsed.getTime()) ? null : parsed;
}
