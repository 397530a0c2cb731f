import { withoutNul } from '../db/storable-text.ts';
import type { ChatbotUiHistory, ChatbotUiSettingsRow } from './chatbot-ui-history.reader.ts';
import {
  uniqueName,
  type HistoryKind,
  type ImportPlan,
  type PlannedConversation,
  type PlannedHistory,
  type PlannedModel,
} from './import-plan.ts';

/** The Keyway provider a Chatbot-UI model id belongs to, by the names Chatbot-UI's model lists use. */
const MODEL_PROVIDERS: { pattern: RegExp; provider: string }[] = [
  { pattern: /^(gpt-|o\d|chatgpt-|text-|davinci|babbage)/i, provider: 'openai' },
  { pattern: /^claude/i, provider: 'anthropic' },
  { pattern: /^(gemini|models\/gemini)/i, provider: 'google' },
  { pattern: /^(mistral|open-mistral|open-mixtral|codestral|pixtral|ministral)/i, provider: 'mistral' },
  { pattern: /^(llama[23]-|llama-3\.\d+-|mixtral-8x7b-32768|gemma)/i, provider: 'groq' },
  { pattern: /^(pplx-|sonar|llama-3-sonar|llama-3\.1-sonar)/i, provider: 'perplexity' },
  // OpenRouter's ids name their vendor: "mistralai/mixtral-8x7b-instruct".
  { pattern: /^[a-z0-9-]+\/./i, provider: 'openrouter' },
];

/** Folder names are cut here: the folders API takes at most this many characters. */
const MAX_FOLDER_NAME = 100;
const MAX_TITLE = 200;

export interface HistoryPlanContext {
  /** Chatbot-UI user id → the Keyway username it is imported for (profiles that map). */
  owners: ReadonlyMap<string, string>;
  /** Chatbot-UI user id → its profile's username (every profile, for the report). */
  profiles: ReadonlyMap<string, string>;
  /** The planned credential serving a custom model (`models.model_id`) of an owner, by `${owner}\0${modelId}`. */
  customModels: ReadonlyMap<string, string>;
}

/**
 * Plans a Chatbot-UI database's history into `plan.history`: per owner, each workspace becomes a
 * folder named after it, and each chat folder one named "<workspace> / <folder>"; every chat a
 * conversation (its settings kept, its messages a chain in `sequence_number` order), every prompt,
 * preset and assistant its Keyway namesake. What belongs to a profile that is not imported is
 * reported, as its keys are. Pure.
 */
export function planChatbotUiHistory(
  plan: ImportPlan,
  history: ChatbotUiHistory,
  context: HistoryPlanContext,
): void {
  const planned: PlannedHistory = {
    folders: [],
    conversations: [],
    prompts: [],
    presets: [],
    assistants: [],
  };
  plan.history = planned;
  if (history.missingTables.length > 0) {
    plan.notes.push({
      kind: 'source',
      origin: 'history',
      message: `this Chatbot-UI version has no table ${history.missingTables.join(', ')} (or not with the columns Keyway reads): nothing to import from them`,
    });
  }

  // What belongs to profiles that are not imported, counted per profile and kind, reported once each.
  const left = new Map<string, Map<HistoryKind, number>>();
  const ownerOf = (userId: string, kind: HistoryKind): string | null => {
    const owner = context.owners.get(userId);
    if (owner) return owner;
    const counts = left.get(userId) ?? new Map<HistoryKind, number>();
    counts.set(kind, (counts.get(kind) ?? 0) + 1);
    left.set(userId, counts);
    return null;
  };
  const modelFor = (owner: string, model: string): PlannedModel => {
    const custom = context.customModels.get(`${owner}\u0000${model}`);
    if (custom) return { credentialRef: custom, model };
    const provider = MODEL_PROVIDERS.find(({ pattern }) => pattern.test(model))?.provider;
    const credential = provider
      ? plan.credentials.find((c) => c.owner === owner && c.provider === provider)
      : undefined;
    const stripped = provider === 'google' ? model.replace(/^models\//, '') : model;
    return { credentialRef: credential?.ref ?? null, model: stripped };
  };
  const unserved = new Map<string, Set<string>>();
  const noteModel = (owner: string, model: PlannedModel) => {
    if (model.credentialRef !== null || model.model === '') return;
    const set = unserved.get(owner) ?? new Set<string>();
    set.add(model.model);
    unserved.set(owner, set);
  };

  // Workspaces, then chat folders inside them.
  const workspaceNames = new Map<string, string>();
  // Whose each workspace, folder and assistant is: a chat is filed and linked only with its owner's.
  const ownerIds = new Map<string, string>();
  for (const workspace of history.workspaces) {
    const name = clean(workspace.name, MAX_FOLDER_NAME) || (workspace.isHome ? 'Home' : 'Workspace');
    workspaceNames.set(workspace.id, name);
    ownerIds.set(`workspace:${workspace.id}`, workspace.userId);
    const owner = ownerOf(workspace.userId, 'folder');
    if (!owner) continue;
    planned.folders.push({
      ref: `workspace:${workspace.id}`,
      owner,
      name,
      origin: `workspace "${name}" of ${owner}`,
    });
  }
  const chatFolders = new Set<string>();
  let otherFolders = 0;
  for (const folder of history.folders) {
    if (folder.type !== 'chats') {
      otherFolders++;
      continue;
    }
    const owner = ownerOf(folder.userId, 'folder');
    if (!owner) continue;
    const workspace = workspaceNames.get(folder.workspaceId);
    const own = clean(folder.name, MAX_FOLDER_NAME) || 'Folder';
    const name = (workspace ? `${workspace} / ${own}` : own).slice(0, MAX_FOLDER_NAME);
    chatFolders.add(folder.id);
    ownerIds.set(`folder:${folder.id}`, folder.userId);
    planned.folders.push({ ref: `folder:${folder.id}`, owner, name, origin: `folder "${name}" of ${owner}` });
  }
  if (otherFolders > 0) {
    plan.notes.push({
      kind: 'folder',
      origin: 'folders',
      message: `${otherFolders} folder(s) of prompts, presets, assistants, files or collections are not imported (Keyway's folders hold conversations): what they held arrives unfiled`,
    });
  }

  // Only the owner's own files: a chat never gets another user's file attached.
  const fileOwners = new Map((plan.files ?? []).map((file) => [file.ref, file.owner]));
  for (const assistant of history.assistants) ownerIds.set(`assistant:${assistant.id}`, assistant.userId);
  const owns = (userId: string, ref: string) => ownerIds.get(ref) === userId;
  let droppedMessages = 0;
  let images = 0;
  for (const chat of history.chats) {
    const owner = ownerOf(chat.userId, 'conversation');
    if (!owner) continue;
    const title = clean(chat.name, MAX_TITLE) || 'Imported chat';
    const model = modelFor(owner, chat.model);
    noteModel(owner, model);
    const conversation: PlannedConversation = {
      ref: chat.id,
      owner,
      origin: `chat "${title}" of ${owner}`,
      title,
      model,
      systemPrompt: withoutNul(chat.prompt).trim() === '' ? null : withoutNul(chat.prompt),
      temperature: chat.temperature,
      contextTokens: chat.contextLength !== null && chat.contextLength > 0 ? chat.contextLength : null,
      folderRef:
        chat.folderId !== null &&
        chatFolders.has(chat.folderId) &&
        owns(chat.userId, `folder:${chat.folderId}`)
          ? `folder:${chat.folderId}`
          : owns(chat.userId, `workspace:${chat.workspaceId}`)
            ? `workspace:${chat.workspaceId}`
            : null,
      assistantRef:
        chat.assistantId !== null && owns(chat.userId, `assistant:${chat.assistantId}`)
          ? chat.assistantId
          : null,
      fileRefs: chat.fileIds.filter((id) => fileOwners.get(id) === owner),
      createdAt: chat.createdAt,
      updatedAt: chat.updatedAt,
      messages: [],
    };
    for (const message of chat.messages) {
      if (message.role !== 'user' && message.role !== 'assistant') {
        droppedMessages++;
        continue;
      }
      images += message.images;
      const messageModel = message.model ? modelFor(owner, message.model) : model;
      conversation.messages.push({
        ref: message.id,
        role: message.role,
        content: withoutNul(message.content),
        model: messageModel,
        createdAt: message.createdAt,
      });
    }
    planned.conversations.push(conversation);
  }
  if (droppedMessages > 0) {
    plan.notes.push({
      kind: 'conversation',
      origin: 'messages',
      message: `${droppedMessages} message(s) with a role other than user or assistant (e.g. system) are not imported`,
    });
  }
  if (images > 0) {
    plan.notes.push({
      kind: 'conversation',
      origin: 'messages',
      message: `${images} image(s) attached to messages stay in Supabase storage (out of a database import's reach): the messages' text is imported`,
    });
  }
  if (history.orphanMessages > 0) {
    plan.skipped.push({
      kind: 'conversation',
      origin: 'messages',
      message: `${history.orphanMessages} message(s) name a chat that is not in the database`,
    });
  }

  for (const prompt of history.prompts) {
    const owner = ownerOf(prompt.userId, 'prompt');
    if (!owner) continue;
    const name = clean(prompt.name, 100) || 'Prompt';
    planned.prompts.push({
      ref: prompt.id,
      owner,
      name,
      content: withoutNul(prompt.content),
      origin: `prompt "${name}" of ${owner}`,
    });
  }
  for (const preset of history.presets) {
    const owner = ownerOf(preset.userId, 'preset');
    if (!owner) continue;
    const settings = settingsOf(preset);
    const model = preset.model ? modelFor(owner, preset.model) : null;
    if (model) noteModel(owner, model);
    planned.presets.push({
      ref: preset.id,
      owner,
      name: settings.name || 'Preset',
      model,
      systemPrompt: settings.prompt,
      temperature: preset.temperature,
      contextTokens: settings.contextTokens,
      origin: `preset "${settings.name}" of ${owner}`,
    });
  }
  const plannedBases = new Map(
    (plan.knowledgeBases ?? []).flatMap((base) => (base.ref ? [[base.ref, base.owner] as const] : [])),
  );
  const assistantNames = new Map<string, Set<string>>();
  let unlinkedCollections = 0;
  for (const assistant of history.assistants) {
    const owner = ownerOf(assistant.userId, 'assistant');
    if (!owner) continue;
    const settings = settingsOf(assistant);
    const names = assistantNames.get(owner.toLowerCase()) ?? new Set<string>();
    assistantNames.set(owner.toLowerCase(), names);
    const name = uniqueName(settings.name || 'assistant', names);
    const model = modelFor(owner, assistant.model);
    noteModel(owner, model);
    const knowledgeBaseRefs = assistant.collectionIds.filter((id) => plannedBases.get(id) === owner);
    unlinkedCollections += assistant.collectionIds.length - knowledgeBaseRefs.length;
    planned.assistants.push({
      ref: assistant.id,
      owner,
      name,
      description: clean(assistant.description, 500),
      model,
      instructions: settings.prompt ?? '',
      temperature: assistant.temperature,
      contextTokens: settings.contextTokens,
      knowledgeBaseRefs,
      origin: `assistant "${name}" of ${owner}`,
    });
  }
  if (unlinkedCollections > 0) {
    plan.notes.push({
      kind: 'assistant',
      origin: 'assistant_collections',
      message: `${unlinkedCollections} collection(s) of assistants were not imported as knowledge bases (give --embedding-model): those assistants answer without them`,
    });
  }

  for (const [owner, models] of unserved) {
    plan.notes.push({
      kind: 'conversation',
      origin: `models of ${owner}`,
      message: `no imported credential serves ${[...models].sort().join(', ')}: kept as named; pick a model in Keyway to go on with those chats`,
    });
  }
  for (const [userId, counts] of left) {
    const profile = context.profiles.get(userId);
    const what = [...counts].map(([kind, n]) => `${n} ${kind}(s)`).join(', ');
    plan.skipped.push({
      kind: 'conversation',
      origin: profile ? `profile ${profile}` : `Chatbot-UI user ${userId}`,
      message: `${what} not imported: ${profile ? 'its profile maps to no Keyway user (see the user rows; --owner-map)' : 'no profile is theirs'}`,
    });
  }
}

function settingsOf(row: ChatbotUiSettingsRow): {
  name: string;
  prompt: string | null;
  contextTokens: number | null;
} {
  const prompt = withoutNul(row.prompt);
  return {
    name: clean(row.name, 100),
    prompt: prompt.trim() === '' ? null : prompt,
    contextTokens: row.contextLength !== null && row.contextLength > 0 ? row.contextLength : null,
  };
}

/** A name as Keyway shows it: no NUL or line breaks, trimmed, cut to `max` characters. */
function clean(text: string, max: number): string {
  return withoutNul(text).replace(/\s+/g, ' ').trim().slice(0, max).trim();
}
