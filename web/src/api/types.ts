/** Shapes of the Keyway API as the UI uses them (see GET /api/openapi.json). */

export type Role = 'admin' | 'member';

export interface Me {
  user: { id: string; username: string; role: Role };
  via: 'token' | 'session';
  csrfToken?: string;
}

export interface User {
  id: string;
  username: string;
  role: Role;
  disabled: boolean;
  createdAt: string;
}

export interface ApiToken {
  id: string;
  name: string;
  prefix: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  createdAt: string;
}

export interface JsonSchemaProperty {
  type?: string | string[];
  description?: string;
  format?: string;
  enum?: unknown[];
  default?: unknown;
}

export interface Provider {
  id: string;
  label: string;
  wire: string;
  defaultBaseUrl: string | null;
  secret: 'required' | 'optional';
  keyFormat: string | null;
  settings: { properties?: Record<string, JsonSchemaProperty>; required?: string[] };
}

export interface Credential {
  id: string;
  name: string;
  provider: string;
  shared: boolean;
  settings: Record<string, unknown>;
  hint: string;
  fingerprint: string | null;
  status: 'unchecked' | 'valid' | 'invalid';
  statusMessage?: string | null;
  lastCheckedAt: string | null;
  lastUsedAt: string | null;
  usedBy: { bots: number };
  duplicates: { id: string; name: string }[];
  version: number;
  createdAt: string;
  updatedAt: string;
  warnings?: string[];
}

export interface ModelOption {
  id: string;
  label: string;
  kind: 'model' | 'bot';
  provider?: string;
}

export interface ConversationSummary {
  id: string;
  title: string;
  model: string;
  createdAt: string;
  updatedAt: string;
}

export type MessageStatus = 'complete' | 'stopped' | 'failed';

export interface ChatMessage {
  id: string;
  role: 'user' | 'assistant';
  content: string;
  model: string | null;
  status: MessageStatus;
  /** Why a failed reply failed. */
  error?: { code: string; message: string } | null;
  createdAt: string;
}

export interface Conversation extends ConversationSummary {
  messages: ChatMessage[];
}

export type UsageGroup = 'day' | 'credential' | 'model' | 'token' | 'bot';

export interface UsageRow {
  key: string;
  label: string | null;
  requests: number;
  errors: number;
  inputTokens: number;
  outputTokens: number;
  cachedTokens: number;
  avgLatencyMs: number;
}

export interface UsageReport {
  groupBy: string;
  from: string;
  to: string;
  rows: UsageRow[];
}

export type TriggerOperator = 'equals' | 'contains' | 'startsWith' | 'endsWith' | 'regex';

/** A bot as bots.md describes it; everything but name, credentialId and model is optional. */
export interface BotInput {
  name: string;
  credentialId: string;
  model: string;
  systemPrompt?: string;
  seedMessages?: { role: 'user' | 'assistant' | 'system'; content: string }[];
  params?: { temperature?: number; maxTokens?: number; topP?: number };
  historyWindow?: number;
  fallbackCredentialIds?: string[];
  trigger?: {
    type: 'all' | 'keyword' | 'none';
    operator?: TriggerOperator;
    value?: string;
    caseSensitive?: boolean;
  };
  keywordFinish?: string | null;
  expireMinutes?: number | null;
  debounceSeconds?: number | null;
  ignore?: string[];
  fallbackBotId?: string | null;
  takeover?: { pauseOnFromMe?: boolean; listenFromMe?: boolean };
  split?: { enabled?: boolean; delayMs?: number };
  unknownMessage?: string | null;
  failureMessage?: string | null;
  channels?: {
    webhook?: { callbackUrl?: string | null } | null;
    evolution?: { serverUrl?: string; instance?: string; apiKey?: string; apiKeySet?: boolean } | null;
  };
}

export interface Bot extends BotInput {
  id: string;
  createdAt: string;
  updatedAt: string;
  inboundSecret?: string;
}

export interface BotSession {
  id: string;
  contact: string;
  contactName: string | null;
  status: 'opened' | 'paused' | 'closed';
  closeReason: string | null;
  messages: number;
  openedAt: string;
  lastActivityAt: string;
  closedAt: string | null;
}
