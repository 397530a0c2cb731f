import type { Transaction } from 'kysely';
import type { DB } from '../db/tables.ts';
import type { ImportAuditLog } from './import-audit.repository.ts';
import { importedId } from './import-ids.ts';
import type { HistoryKind, ImportSource, PlannedHistory, PlannedModel } from './import-plan.ts';

const HISTORY_KINDS: HistoryKind[] = ['folder', 'assistant', 'preset', 'prompt', 'conversation'];
const IDS_PER_QUERY = 1_000;
const CONVERSATIONS_PER_STATEMENT = 500;
const MESSAGES_PER_STATEMENT = 500;
/** A statement carries at most about this much message text (a chat may hold megabytes). */
const MESSAGE_BYTES_PER_STATEMENT = 4 * 1024 * 1024;

/** What a history import created and found already imported, per kind; and the messages it wrote. */
export interface HistoryCounts {
  created: Record<HistoryKind, number>;
  reused: Record<HistoryKind, number>;
  messages: number;
}

/** One line of the report per (kind, owner, outcome): a history is counted, not listed. */
export interface HistoryRow {
  kind: HistoryKind;
  owner: string;
  outcome: 'created' | 'reused';
  count: number;
  messages: number;
}

export interface HistoryWriteContext {
  trx: Transaction<DB>;
  source: ImportSource;
  audit: ImportAuditLog;
  ownerOf(username: string): { id: string; username: string };
  /** `<credential name>/<model>` for a planned credential's model, the model as named otherwise. */
  modelName(model: PlannedModel): string;
  /** The Keyway file a planned file became (by the source's id). */
  fileId(ref: string): string | undefined;
  /** The owner's Keyway knowledge base a planned one became (by the source's id: the collection). */
  knowledgeBaseId(owner: string, ref: string): string | undefined;
  progress(): void;
}

/**
 * Writes a planned history inside the import's transaction. Every object's id is `importedId` of
 * its source id and owner: one that exists already was imported by an earlier run and is left as
 * it is (its messages included), so a second run writes nothing. Order matters: folders and
 * assistants before the conversations that name them.
 */
export async function writeHistory(
  history: PlannedHistory,
  context: HistoryWriteContext,
): Promise<{ counts: HistoryCounts; rows: HistoryRow[] }> {
  const { trx, source } = context;
  const counts: HistoryCounts = { created: zero(), reused: zero(), messages: 0 };
  const tally = new Map<string, HistoryRow>();
  const count = (kind: HistoryKind, owner: string, outcome: 'created' | 'reused', messages = 0) => {
    counts[outcome][kind]++;
    counts.messages += messages;
    const key = `${kind}\u0000${owner}\u0000${outcome}`;
    const row = tally.get(key) ?? { kind, owner, outcome, count: 0, messages: 0 };
    row.count++;
    row.messages += messages;
    tally.set(key, row);
    context.progress();
  };
  const idOf = (kind: HistoryKind, ref: string, owner: string) =>
    importedId(source, kind, ref, context.ownerOf(owner).id);

  // Folders.
  const folderIds = new Map<string, string>();
  const folders = history.folders.map((folder) => ({ folder, id: idOf('folder', folder.ref, folder.owner) }));
  const knownFolders = await existing(
    trx,
    'chat_folders',
    folders.map((f) => f.id),
  );
  for (const { folder, id } of folders) {
    folderIds.set(`${folder.owner}\u0000${folder.ref}`, id);
    if (knownFolders.has(id)) {
      count('folder', folder.owner, 'reused');
      continue;
    }
    await trx
      .insertInto('chat_folders')
      .values({ id, owner_id: context.ownerOf(folder.owner).id, name: folder.name })
      .execute();
    count('folder', folder.owner, 'created');
  }

  // Assistants: a name is unique per owner; one taken by an assistant of Keyway's gets a suffix.
  const assistantIds = new Map<string, string>();
  const assistants = history.assistants.map((assistant) => ({
    assistant,
    id: idOf('assistant', assistant.ref, assistant.owner),
  }));
  const knownAssistants = await existing(
    trx,
    'chat_assistants',
    assistants.map((a) => a.id),
  );
  const takenNames = new Map<string, Set<string>>();
  for (const { assistant, id } of assistants) {
    assistantIds.set(`${assistant.owner}\u0000${assistant.ref}`, id);
    if (knownAssistants.has(id)) {
      count('assistant', assistant.owner, 'reused');
      continue;
    }
    const owner = context.ownerOf(assistant.owner);
    let taken = takenNames.get(owner.id);
    if (!taken) {
      const rows = await trx
        .selectFrom('chat_assistants')
        .select('name')
        .where('owner_id', '=', owner.id)
        .execute();
      taken = new Set(rows.map((row) => row.name.toLowerCase()));
      takenNames.set(owner.id, taken);
    }
    let name = assistant.name;
    for (let n = 2; taken.has(name.toLowerCase()); n++) name = `${assistant.name}-${n}`;
    taken.add(name.toLowerCase());
    await trx
      .insertInto('chat_assistants')
      .values({
        id,
        owner_id: owner.id,
        name,
        description: assistant.description,
        model: context.modelName(assistant.model),
        instructions: assistant.instructions,
        temperature: assistant.temperature,
        context_tokens: assistant.contextTokens,
      })
      .execute();
    const bases = [
      ...new Set(
        assistant.knowledgeBaseRefs.flatMap((ref) => context.knowledgeBaseId(assistant.owner, ref) ?? []),
      ),
    ];
    if (bases.length > 0) {
      await trx
        .insertInto('chat_assistant_knowledge_bases')
        .values(bases.map((kbId) => ({ assistant_id: id, kb_id: kbId })))
        .execute();
    }
    count('assistant', assistant.owner, 'created');
  }

  // Presets and prompts.
  const presets = history.presets.map((preset) => ({ preset, id: idOf('preset', preset.ref, preset.owner) }));
  const knownPresets = await existing(
    trx,
    'chat_presets',
    presets.map((p) => p.id),
  );
  for (const { preset, id } of presets) {
    if (knownPresets.has(id)) {
      count('preset', preset.owner, 'reused');
      continue;
    }
    await trx
      .insertInto('chat_presets')
      .values({
        id,
        owner_id: context.ownerOf(preset.owner).id,
        name: preset.name,
        model: preset.model ? context.modelName(preset.model) : null,
        system_prompt: preset.systemPrompt,
        temperature: preset.temperature,
        context_tokens: preset.contextTokens,
      })
      .execute();
    count('preset', preset.owner, 'created');
  }
  const prompts = history.prompts.map((prompt) => ({ prompt, id: idOf('prompt', prompt.ref, prompt.owner) }));
  const knownPrompts = await existing(
    trx,
    'chat_prompts',
    prompts.map((p) => p.id),
  );
  for (const { prompt, id } of prompts) {
    if (knownPrompts.has(id)) {
      count('prompt', prompt.owner, 'reused');
      continue;
    }
    await trx
      .insertInto('chat_prompts')
      .values({ id, owner_id: context.ownerOf(prompt.owner).id, name: prompt.name, content: prompt.content })
      .execute();
    count('prompt', prompt.owner, 'created');
  }

  // Conversations, then their messages: each answers the one before it, the last is the leaf on show.
  const conversations = history.conversations.map((conversation) => ({
    conversation,
    id: idOf('conversation', conversation.ref, conversation.owner),
  }));
  const knownConversations = await existing(
    trx,
    'chat_conversations',
    conversations.map((c) => c.id),
  );
  const fresh = conversations.filter(({ conversation, id }) => {
    if (!knownConversations.has(id)) return true;
    count('conversation', conversation.owner, 'reused');
    return false;
  });
  for (let start = 0; start < fresh.length; start += CONVERSATIONS_PER_STATEMENT) {
    const batch = fresh.slice(start, start + CONVERSATIONS_PER_STATEMENT);
    const messages: MessageRow[] = [];
    const attachments: { conversation_id: string; file_id: string }[] = [];
    const rows = batch.map(({ conversation, id }) => {
      const owner = context.ownerOf(conversation.owner);
      let parent: string | null = null;
      let last: Date | null = null;
      for (const message of conversation.messages) {
        const messageId = importedId(source, 'message', message.ref, owner.id);
        messages.push({
          id: messageId,
          conversation_id: id,
          role: message.role,
          content: message.content,
          model: context.modelName(message.model),
          parent_id: parent,
          ...(message.createdAt ? { created_at: message.createdAt } : {}),
        });
        parent = messageId;
        if (message.createdAt && (!last || message.createdAt > last)) last = message.createdAt;
      }
      for (const fileId of new Set(conversation.fileRefs.flatMap((ref) => context.fileId(ref) ?? []))) {
        attachments.push({ conversation_id: id, file_id: fileId });
      }
      const created = conversation.createdAt ?? last ?? new Date();
      const updated = [conversation.updatedAt, last, created].reduce((a, b) => (b && (!a || b > a) ? b : a));
      return {
        id,
        owner_id: owner.id,
        title: conversation.title,
        title_source: 'user' as const,
        model: context.modelName(conversation.model),
        system_prompt: conversation.systemPrompt,
        temperature: conversation.temperature,
        context_tokens: conversation.contextTokens,
        folder_id:
          conversation.folderRef === null
            ? null
            : (folderIds.get(`${conversation.owner}\u0000${conversation.folderRef}`) ?? null),
        assistant_id:
          conversation.assistantRef === null
            ? null
            : (assistantIds.get(`${conversation.owner}\u0000${conversation.assistantRef}`) ?? null),
        current_leaf_id: parent,
        created_at: created,
        updated_at: updated ?? created,
      };
    });
    await trx.insertInto('chat_conversations').values(rows).execute();
    await insertMessages(trx, messages);
    for (let at = 0; at < attachments.length; at += IDS_PER_QUERY) {
      await trx
        .insertInto('chat_attachments')
        .values(attachments.slice(at, at + IDS_PER_QUERY))
        .execute();
    }
    for (const { conversation } of batch) {
      count('conversation', conversation.owner, 'created', conversation.messages.length);
    }
  }

  // One audit entry per owner: what the import brought them.
  const perOwner = new Map<string, Partial<Record<HistoryKind | 'messages', number>>>();
  for (const row of tally.values()) {
    if (row.outcome !== 'created') continue;
    const entry = perOwner.get(row.owner) ?? {};
    entry[row.kind] = row.count;
    if (row.kind === 'conversation') entry.messages = row.messages;
    perOwner.set(row.owner, entry);
  }
  for (const [username, created] of perOwner) {
    const owner = context.ownerOf(username);
    await context.audit.record({
      actorId: null,
      action: 'chat.history.import',
      targetType: 'user',
      targetId: owner.id,
      details: { importedFrom: source, created },
    });
  }
  const order = (kind: HistoryKind) => HISTORY_KINDS.indexOf(kind);
  const rows = [...tally.values()].sort(
    (a, b) =>
      order(a.kind) - order(b.kind) || a.owner.localeCompare(b.owner) || a.outcome.localeCompare(b.outcome),
  );
  return { counts, rows };
}

interface MessageRow {
  id: string;
  conversation_id: string;
  role: 'user' | 'assistant';
  content: string;
  model: string;
  parent_id: string | null;
  created_at?: Date;
}

/**
 * Inserts messages in the order given (`seq` is generated in that order), many per statement but no
 * statement carrying more than a few megabytes. A message's parent is in the same statement or an
 * earlier one: the foreign key is checked at the end of each statement.
 */
async function insertMessages(trx: Transaction<DB>, messages: MessageRow[]): Promise<void> {
  let batch: MessageRow[] = [];
  let bytes = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    // Rows of one statement must name the same columns: a missing created_at is the default (now).
    const now = new Date();
    await trx
      .insertInto('chat_messages')
      .values(batch.map((row) => ({ ...row, created_at: row.created_at ?? now })))
      .execute();
    batch = [];
    bytes = 0;
  };
  for (const message of messages) {
    const size = Buffer.byteLength(message.content);
    if (
      batch.length > 0 &&
      (batch.length >= MESSAGES_PER_STATEMENT || bytes + size > MESSAGE_BYTES_PER_STATEMENT)
    )
      await flush();
    batch.push(message);
    bytes += size;
  }
  await flush();
}

/** Which of `ids` are in the table already. */
async function existing(
  trx: Transaction<DB>,
  table: 'chat_folders' | 'chat_assistants' | 'chat_presets' | 'chat_prompts' | 'chat_conversations',
  ids: string[],
): Promise<Set<string>> {
  const found = new Set<string>();
  for (let start = 0; start < ids.length; start += IDS_PER_QUERY) {
    const rows = await trx
      .selectFrom(table)
      .select('id')
      .where('id', 'in', ids.slice(start, start + IDS_PER_QUERY))
      .execute();
    for (const row of rows) found.add(row.id);
  }
  return found;
}

function zero(): Record<HistoryKind, number> {
  return { folder: 0, conversation: 0, prompt: 0, preset: 0, assistant: 0 };
}
