import type { ProviderRegistry } from '../providers/registry.ts';
import { classifyAddress, type UpstreamPolicy } from '../providers/upstream-url-guard.ts';
import { USERNAME_PATTERN } from '../users/users.service.ts';
import type { ChatbotUiHistory } from './chatbot-ui-history.reader.ts';
import { planChatbotUiHistory } from './chatbot-ui-history.plan.ts';
import type { ChatbotUiProfile, ChatbotUiSnapshot, ProfileColumn } from './chatbot-ui.reader.ts';
import {
  checkCredentialSettings,
  credentialAddress,
  slug,
  uniqueName,
  type ImportPlan,
  type PlannedCredential,
  type PlannedFile,
} from './import-plan.ts';

/** One key column of `profiles` and the Keyway provider it becomes. */
const KEY_COLUMNS: { column: ProfileColumn; provider: string }[] = [
  { column: 'openai_api_key', provider: 'openai' },
  { column: 'anthropic_api_key', provider: 'anthropic' },
  { column: 'google_gemini_api_key', provider: 'google' },
  { column: 'mistral_api_key', provider: 'mistral' },
  { column: 'groq_api_key', provider: 'groq' },
  { column: 'perplexity_api_key', provider: 'perplexity' },
  { column: 'openrouter_api_key', provider: 'openrouter' },
  { column: 'azure_openai_api_key', provider: 'azure-openai' },
];

/** Chatbot-UI's Azure deployment columns, by the model family each serves. */
const AZURE_DEPLOYMENTS: { column: ProfileColumn; label: string }[] = [
  { column: 'azure_openai_35_turbo_id', label: 'GPT-3.5 Turbo' },
  { column: 'azure_openai_45_turbo_id', label: 'GPT-4 Turbo' },
  { column: 'azure_openai_45_vision_id', label: 'GPT-4 Vision' },
  { column: 'azure_openai_embeddings_id', label: 'embeddings' },
];

export interface ChatbotUiPlanOptions {
  providers: ProviderRegistry;
  policy: UpstreamPolicy;
  /** Chatbot-UI username → Keyway username (`--owner-map`); others keep their username. */
  ownerMap: ReadonlyMap<string, string>;
  /**
   * The Keyway model (`--embedding-model`, e.g. `openai/text-embedding-3-small`) collections are
   * embedded with as knowledge bases; without it files are imported and collections are not.
   */
  embeddingModel?: string | undefined;
  /** The largest file Keyway stores (KEYWAY_FILE_SIZE_LIMIT): a longer text is not imported. */
  maxFileBytes: number;
  /** With `--history`: the chats, folders, prompts, presets and assistants to import too. */
  history?: ChatbotUiHistory | undefined;
}

/**
 * What a Chatbot-UI database becomes in Keyway, without touching either: per profile a user (its
 * username, or the one `--owner-map` names) and one credential per non-empty key column; every
 * custom model (`models`: base URL + key) an `openai-compatible` credential, one per distinct
 * (base URL, key) of an owner. Pure: the same snapshot gives the same plan.
 */
export function planChatbotUiImport(snapshot: ChatbotUiSnapshot, options: ChatbotUiPlanOptions): ImportPlan {
  const plan: ImportPlan = {
    source: 'chatbot-ui',
    users: [],
    credentials: [],
    bots: [],
    files: [],
    knowledgeBases: [],
    skipped: [],
    notes: [],
  };
  if (snapshot.missingColumns.length > 0) {
    plan.notes.push({
      kind: 'source',
      origin: 'profiles',
      message: `this Chatbot-UI version has no column ${snapshot.missingColumns.join(', ')}: nothing to import from them`,
    });
  }
  if (!snapshot.hasModelsTable) {
    plan.notes.push({
      kind: 'source',
      origin: 'models',
      message: 'this Chatbot-UI version has no custom models table',
    });
  }

  const owners = new Map<string, string>();
  const customModels = new Map<string, string>();
  const names = new Map<string, Set<string>>();
  for (const profile of snapshot.profiles) {
    const owner = ownerFor(profile.username, options.ownerMap);
    if (!owner) {
      plan.skipped.push({
        kind: 'user',
        origin: `profile ${profile.username}`,
        message: `"${profile.username}" is not a valid Keyway username (2–64 letters, digits, dots, dashes or underscores); map it with --owner-map ${profile.username}=NAME`,
      });
      continue;
    }
    owners.set(profile.userId, owner);
    if (!plan.users.some((user) => user.username.toLowerCase() === owner.toLowerCase())) {
      plan.users.push({ username: owner, origin: `profile ${profile.username}` });
      names.set(owner.toLowerCase(), new Set());
    }
    planProfileKeys(plan, profile, owner, names.get(owner.toLowerCase())!, options);
  }

  for (const model of snapshot.models) {
    const origin = `model "${model.name}"`;
    const owner = owners.get(model.userId);
    if (!owner) {
      plan.skipped.push({ kind: 'credential', origin, message: 'its owner has no imported profile' });
      continue;
    }
    const checked = checkCredentialSettings(options.providers, options.policy, 'openai-compatible', {
      baseUrl: model.baseUrl,
    });
    if (!checked.ok) {
      plan.skipped.push({
        kind: 'credential',
        origin: `${origin} of ${owner}`,
        message: `base URL: ${checked.reason}`,
      });
      continue;
    }
    const same = plan.credentials.find(
      (credential) =>
        credential.owner === owner &&
        credential.provider === 'openai-compatible' &&
        credential.secret === model.apiKey &&
        credentialAddress(credential.settings) === credentialAddress(checked.settings),
    );
    const credential =
      same ??
      addCredential(plan, names.get(owner.toLowerCase())!, {
        owner,
        name: slug(model.name, 'custom-model'),
        provider: 'openai-compatible',
        settings: checked.settings,
        secret: model.apiKey,
        origin: `${origin} of ${owner}`,
      });
    customModels.set(`${owner}\u0000${model.modelId}`, credential.ref);
    plan.notes.push({
      kind: 'credential',
      origin: `${origin} of ${owner}`,
      message: `call it as ${credential.name}/${model.modelId}${same ? ` (shares credential ${credential.name}: same base URL and key)` : ''}`,
    });
    if (!same && isOnLocalNetwork(model.baseUrl)) {
      plan.notes.push({
        kind: 'credential',
        origin: `${origin} of ${owner}`,
        message: `its base URL is on this host or a private network, which only an admin's credentials may reach: it answers once ${owner} is an admin (or map it to one with --owner-map); a member's calls are refused (upstream_blocked)`,
      });
    }
  }
  planFiles(plan, snapshot, owners, options);
  if (options.history) {
    planChatbotUiHistory(plan, options.history, {
      owners,
      profiles: new Map(snapshot.profiles.map((profile) => [profile.userId, profile.username])),
      customModels,
    });
  }
  return plan;
}

const TEXT_NAME = /\.(txt|md|markdown)$/i;
const MAX_FILE_NAME = 255;

/**
 * Every file with text becomes a text file of its owner (Chatbot-UI kept the original bytes in
 * Supabase storage, out of a database import's reach, but the text it extracted is in `file_items`);
 * every collection becomes a knowledge base of those files, embedded again with the named model.
 */
function planFiles(
  plan: ImportPlan,
  snapshot: ChatbotUiSnapshot,
  owners: ReadonlyMap<string, string>,
  options: ChatbotUiPlanOptions,
): void {
  const files = new Map<string, PlannedFile>();
  for (const file of snapshot.files) {
    const owner = owners.get(file.userId);
    const origin = `file "${file.name}"`;
    if (!owner) {
      plan.skipped.push({ kind: 'file', origin, message: 'its owner has no imported profile' });
      continue;
    }
    const text = file.chunks.join('\n\n');
    if (text.trim() === '') {
      plan.skipped.push({
        kind: 'file',
        origin: `${origin} of ${owner}`,
        message: 'Chatbot-UI holds no text for it (its bytes are in Supabase storage): upload it again',
      });
      continue;
    }
    if (Buffer.byteLength(text) > options.maxFileBytes) {
      plan.skipped.push({
        kind: 'file',
        origin: `${origin} of ${owner}`,
        message: `its text is larger than the file size limit (${options.maxFileBytes} bytes, KEYWAY_FILE_SIZE_LIMIT)`,
      });
      continue;
    }
    const base = file.name.trim() || 'untitled';
    const name = TEXT_NAME.test(base) ? base : `${base.slice(0, MAX_FILE_NAME - 4)}.txt`;
    const planned: PlannedFile = {
      ref: file.id,
      owner,
      name: name.slice(0, MAX_FILE_NAME),
      mediaType: /\.(md|markdown)$/i.test(name) ? 'text/markdown' : 'text/plain',
      text,
      origin: `${origin} of ${owner}`,
    };
    plan.files!.push(planned);
    files.set(file.id, planned);
  }
  if (plan.files!.length > 0) {
    plan.notes.push({
      kind: 'file',
      origin: 'files',
      message:
        "imported as the text Chatbot-UI extracted (the original PDF/DOCX bytes stay in Supabase storage); each file's name ends in .txt unless it was already text",
    });
  }

  const taken = new Map<string, Set<string>>();
  for (const collection of snapshot.collections) {
    const owner = owners.get(collection.userId);
    const origin = `collection "${collection.name}"`;
    if (!owner) {
      plan.skipped.push({ kind: 'knowledge base', origin, message: 'its owner has no imported profile' });
      continue;
    }
    if (!options.embeddingModel) {
      plan.skipped.push({
        kind: 'knowledge base',
        origin: `${origin} of ${owner}`,
        message:
          'name the model to embed it with: --embedding-model CREDENTIAL/MODEL (e.g. openai/text-embedding-3-small)',
      });
      continue;
    }
    const fileRefs = collection.fileIds.filter((id) => files.get(id)?.owner === owner);
    const names = taken.get(owner.toLowerCase()) ?? new Set<string>();
    taken.set(owner.toLowerCase(), names);
    plan.knowledgeBases!.push({
      ref: collection.id,
      owner,
      name: uniqueName(collection.name.trim().slice(0, 100) || 'collection', names),
      embeddingModel: options.embeddingModel,
      fileRefs,
      origin: `${origin} of ${owner}`,
    });
    const missing = collection.fileIds.length - fileRefs.length;
    if (missing > 0) {
      plan.notes.push({
        kind: 'knowledge base',
        origin: `${origin} of ${owner}`,
        message: `${missing} of its ${collection.fileIds.length} file(s) had nothing to import`,
      });
    }
  }
}

function planProfileKeys(
  plan: ImportPlan,
  profile: ChatbotUiProfile,
  owner: string,
  names: Set<string>,
  options: ChatbotUiPlanOptions,
): void {
  const value = (column: ProfileColumn) => profile.values[column] ?? null;
  for (const { column, provider } of KEY_COLUMNS) {
    const secret = value(column);
    if (!secret) continue;
    const origin = `profile ${profile.username}: ${column}`;
    let settings: Record<string, unknown> = {};
    if (provider === 'openai' && value('openai_organization_id'))
      settings = { organization: value('openai_organization_id') };
    if (provider === 'azure-openai') {
      const endpoint = value('azure_openai_endpoint');
      if (!endpoint) {
        plan.skipped.push({
          kind: 'credential',
          origin,
          message: 'an Azure key without azure_openai_endpoint cannot be used',
        });
        continue;
      }
      settings = { endpoint };
    }
    const checked = checkCredentialSettings(options.providers, options.policy, provider, settings);
    if (!checked.ok) {
      plan.skipped.push({ kind: 'credential', origin, message: checked.reason });
      continue;
    }
    const credential = addCredential(plan, names, {
      owner,
      name: provider,
      provider,
      settings: checked.settings,
      secret,
      origin,
    });
    if (provider === 'azure-openai') {
      const deployments = AZURE_DEPLOYMENTS.flatMap(({ column, label }) => {
        const id = value(column);
        return id ? [`${label}: ${credential.name}/${id}`] : [];
      });
      if (deployments.length > 0) {
        plan.notes.push({
          kind: 'credential',
          origin: `profile ${profile.username}: azure deployments`,
          message: `Keyway addresses an Azure deployment by model name; call ${deployments.join(', ')}`,
        });
      }
    }
  }
}

function addCredential(
  plan: ImportPlan,
  names: Set<string>,
  credential: Omit<PlannedCredential, 'ref'>,
): PlannedCredential {
  const name = uniqueName(credential.name, names);
  const planned = { ...credential, name, ref: `${credential.owner}/${name}` };
  plan.credentials.push(planned);
  return planned;
}

function ownerFor(username: string, ownerMap: ReadonlyMap<string, string>): string | null {
  const mapped = ownerMap.get(username) ?? ownerMap.get(username.toLowerCase());
  const owner = mapped ?? username;
  return USERNAME_PATTERN.test(owner) ? owner : null;
}

/** A base URL on loopback (`localhost` included) or a private range: what members' credentials cannot reach. */
function isOnLocalNetwork(baseUrl: string): boolean {
  let host: string;
  try {
    host = new URL(baseUrl).hostname;
  } catch {
    return false;
  }
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  const kind = classifyAddress(host)?.kind;
  return kind === 'loopback' || kind === 'private';
}
