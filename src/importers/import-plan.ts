import { parseSettings, type ProviderRegistry } from '../providers/registry.ts';
import { checkUpstreamUrl, type UpstreamPolicy } from '../providers/upstream-url-guard.ts';

/** Where an import comes from; recorded in the audit log with everything it creates. */
export type ImportSource = 'chatbot-ui' | 'evolution-api';

/** A Keyway user the import needs: found by username, or created without a password. */
export interface PlannedUser {
  username: string;
  /** What it came from, for the report (e.g. `profile alice`). */
  origin: string;
}

/** A credential to store (or to find already stored: same owner, provider, key and address). */
export interface PlannedCredential {
  /** Plan-local reference that bots use before the credential has an id. */
  ref: string;
  owner: string;
  name: string;
  provider: string;
  /** Already valid for the provider (see `checkCredentialSettings`). */
  settings: Record<string, unknown>;
  /** The plaintext key; never printed, only sealed. */
  secret: string | null;
  origin: string;
}

/**
 * A bot as `POST /api/bots` takes it (bots.md "API shapes"), except that the credential is named by
 * its plan reference, and the fallback bot by its planned name.
 */
export interface PlannedBot {
  owner: string;
  credentialRef: string;
  /** The planned name of the bot to fall back to, created before this one. */
  fallbackBotName: string | null;
  input: BotInput;
  origin: string;
}

/** The body of `POST /api/bots`, as far as an import fills it. */
export interface BotInput {
  name: string;
  model: string;
  systemPrompt?: string;
  seedMessages?: { role: 'user' | 'assistant'; content: string }[];
  params?: { maxTokens?: number };
  historyWindow?: number;
  trigger?: {
    type: 'all' | 'keyword' | 'none';
    operator?: 'equals' | 'contains' | 'startsWith' | 'endsWith' | 'regex';
    value?: string;
    caseSensitive?: boolean;
  };
  keywordFinish?: string;
  expireMinutes?: number;
  debounceSeconds?: number;
  ignore?: string[];
  takeover?: { pauseOnFromMe: boolean; listenFromMe: boolean };
  split?: { enabled: boolean; delayMs: number };
  unknownMessage?: string;
  images?: boolean;
  speechToText?: boolean;
  channels?: { evolution?: { serverUrl: string; instance: string; apiKey: string } };
}

/** A document's text to store as one of the owner's files (the source kept only the text). */
export interface PlannedFile {
  /** The source's id for it: how knowledge bases name it. */
  ref: string;
  owner: string;
  name: string;
  mediaType: 'text/plain' | 'text/markdown';
  text: string;
  origin: string;
}

/** A knowledge base of the owner's planned files, embedded again with `embeddingModel`. */
export interface PlannedKnowledgeBase {
  /** The source's id for it (a Chatbot-UI collection): how assistants name it. */
  ref?: string;
  owner: string;
  name: string;
  embeddingModel: string;
  fileRefs: string[];
  origin: string;
}

/** Something in the source that is not imported (or only partly), and why. */
export interface PlanNote {
  kind: 'user' | 'credential' | 'bot' | 'file' | 'knowledge base' | HistoryKind | 'source';
  origin: string;
  message: string;
}

export interface ImportPlan {
  source: ImportSource;
  users: PlannedUser[];
  credentials: PlannedCredential[];
  bots: PlannedBot[];
  /** Documents (Chatbot-UI's files) and their sets (collections); absent for sources without them. */
  files?: PlannedFile[];
  knowledgeBases?: PlannedKnowledgeBase[];
  /** Chat history (Chatbot-UI's `--history`): folders, conversations, prompts, presets, assistants. */
  history?: PlannedHistory;
  /** Left out entirely: empty values, unknown users, assistant bots… */
  skipped: PlanNote[];
  /** Imported, with something that has no Keyway equivalent or needs a look. */
  notes: PlanNote[];
}

/**
 * Validates settings exactly as `CredentialsService` does (the provider's schema, then the upstream
 * address policy), so that an import never stores what the API would refuse. Returns the parsed
 * settings, or the reason in words.
 */
export function checkCredentialSettings(
  providers: ProviderRegistry,
  policy: UpstreamPolicy,
  providerId: string,
  settings: Record<string, unknown>,
): { ok: true; settings: Record<string, unknown> } | { ok: false; reason: string } {
  const provider = providers.get(providerId);
  if (!provider) return { ok: false, reason: `Keyway has no provider "${providerId}"` };
  const parsed = parseSettings(provider, settings);
  if (!parsed.ok) {
    return {
      ok: false,
      reason: parsed.issues
        .map((issue) => `${issue.path ? issue.path + ': ' : ''}${issue.message}`)
        .join('; '),
    };
  }
  for (const field of ['baseUrl', 'endpoint']) {
    const url = parsed.settings[field];
    if (typeof url !== 'string') continue;
    const check = checkUpstreamUrl(url, policy);
    if (!check.ok) return { ok: false, reason: `${field} is not allowed: ${check.message}` };
  }
  return { ok: true, settings: parsed.settings };
}

/**
 * What makes two credentials "the same" besides owner, provider and key: the address they call. The
 * same key for two different OpenAI-compatible servers (or Azure resources) is two credentials.
 */
export function credentialAddress(settings: Record<string, unknown>): string {
  const address = settings.endpoint ?? settings.baseUrl;
  return typeof address === 'string' ? address.replace(/\/+$/, '') : '';
}

/** A credential or bot name Keyway shows: lower-case letters, digits and dashes, at most 60 characters. */
export function slug(text: string, fallback: string): string {
  const cleaned = text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 60)
    .replace(/-+$/, '');
  return cleaned || fallback;
}

/** `name`, or `name-2`, `name-3`… : the first not in `taken` (compared case-insensitively); adds it. */
export function uniqueName(name: string, taken: Set<string>): string {
  let candidate = name;
  for (let n = 2; taken.has(candidate.toLowerCase()); n++) candidate = `${name}-${n}`;
  taken.add(candidate.toLowerCase());
  return candidate;
}

/** What a history import brings, by the Keyway object each becomes. */
export type HistoryKind = 'folder' | 'conversation' | 'prompt' | 'preset' | 'assistant';

/**
 * A model as the source named it, and the planned credential that serves it (if any): at apply time
 * it becomes `<credential name>/<model>`, the name the credential really got (or was found under).
 */
export interface PlannedModel {
  credentialRef: string | null;
  model: string;
}

/** Every planned history object carries the source's id (`ref`): the import's identity for it. */
interface PlannedHistoryItem {
  ref: string;
  owner: string;
  origin: string;
}

export interface PlannedFolder extends PlannedHistoryItem {
  name: string;
}

export interface PlannedMessage {
  ref: string;
  role: 'user' | 'assistant';
  content: string;
  model: PlannedModel;
  createdAt: Date | null;
}

export interface PlannedConversation extends PlannedHistoryItem {
  title: string;
  model: PlannedModel;
  systemPrompt: string | null;
  temperature: number | null;
  contextTokens: number | null;
  folderRef: string | null;
  assistantRef: string | null;
  /** Planned files (their `ref`) attached to the whole conversation. */
  fileRefs: string[];
  createdAt: Date | null;
  updatedAt: Date | null;
  /** In order: each answers the one before it. */
  messages: PlannedMessage[];
}

export interface PlannedPrompt extends PlannedHistoryItem {
  name: string;
  content: string;
}

export interface PlannedPreset extends PlannedHistoryItem {
  name: string;
  model: PlannedModel | null;
  systemPrompt: string | null;
  temperature: number | null;
  contextTokens: number | null;
}

export interface PlannedAssistant extends PlannedHistoryItem {
  name: string;
  description: string;
  model: PlannedModel;
  instructions: string;
  temperature: number | null;
  contextTokens: number | null;
  /** Planned knowledge bases (their `ref`: the collection's id). */
  knowledgeBaseRefs: string[];
}

export interface PlannedHistory {
  folders: PlannedFolder[];
  conversations: PlannedConversation[];
  prompts: PlannedPrompt[];
  presets: PlannedPreset[];
  assistants: PlannedAssistant[];
}
